/**
 * The https fronts shipped in deploy/, run for real: Debian's nginx with deploy/nginx/keygate.conf
 * and Caddy with deploy/caddy/Caddyfile, each in front of the real Keygate (TRUST_PROXY=true,
 * PUBLIC_URL=https://localhost:<port>) and the stand-in Gogs serving git with the real
 * `git http-backend`. Headless Chromium enrols and signs in over https; real git pushes 200 MB of
 * incompressible data through the front and Keygate; deploy/systemd/keygate.service is parsed.
 *
 * The fronts run the shipped files, not copies: the test rewrites only what a machine-specific
 * deployment changes (listen addresses, server name, certificate and log paths, the upstream
 * port; `editLines` fails when a line it rewrites is no longer in the file), adds nginx a
 * `proxy_bind 127.0.0.7` so that Keygate's TCP peer (nginx's hop) differs from the browser's
 * address, and adds Caddy test-only global options (no admin endpoint, storage in the temp dir,
 * a loopback http port). Caddy 2.6 cannot choose its upstream source address, so with Caddy both
 * addresses are 127.0.0.1 and the client-forged X-Forwarded-For is what the audit must not show.
 *
 * TLS is verified for real: a throw-away CA signs a `localhost` certificate (test/support/tls.ts);
 * git trusts the CA through GIT_SSL_CAINFO, node through `ca`, Chromium accepts exactly that
 * server key (--ignore-certificate-errors-spki-list, which pins the key rather than ignoring errors).
 * Every listener is on loopback; nothing reaches the network (Caddy gets its certificate from the
 * test, so it never starts ACME).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomFill } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Response } from 'playwright-core';
import { auditRowsWhere, type AuditRow } from './support/audit.js';
import { invite } from './support/flows.js';
import { downloadSha256 } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { freePort, sleep } from './support/net.js';
import { createTlsFiles, type TlsFiles } from './support/tls.js';
import { loadConfig, parseDuration } from '../server/config.js';
import { CHROMIUM_PATH, openPage, PLATFORM_PASSKEY, type E2ePage, type VirtualAuthenticator, continueFromWelcome } from './e2e/support.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const CADDY = process.env.CADDY_PATH ?? '/usr/bin/caddy';

/** The size of the file pushed with git: 200 MiB of random bytes. */
const PUSH_BYTES = 200 * 1024 * 1024;
/** The address nginx connects to Keygate from (proxy_bind): Keygate's TCP peer, never the client's address. */
const NGINX_HOP = '127.0.0.7';
/** What the browser claims in its own X-Forwarded-For and X-Request-Id: a front must never let these through. */
const FORGED_ADDRESS = '203.0.113.9';
const FORGED_REQUEST_ID = 'chosen-by-the-client';
/** Bounds: starting a front; one git push (200 MB through TLS, two proxies and git on 2 busy cores), within the runner's 120 s per test. */
const START_TIMEOUT_MS = 15_000;
const PUSH_TIMEOUT_MS = 100_000;

/** Chromium's flags in test/e2e/support.ts, plus the server key it accepts and no QUIC (the fronts are tested over TCP). */
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function requireProgram(file: string, apt: string): void {
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: install it with \`apt-get install -y ${apt}\` (test/https-front.test.ts runs the shipped deploy/ configuration with it)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The shipped files, rewritten line by line

interface LineEdit {
  /** A whole line of the shipped file, compared without its indentation. */
  line: string;
  /** How many lines must match (default 1). */
  count?: number;
  /** What each matching line becomes (indented like it); [] deletes it. */
  with: string[];
}

/** Applies `edits` to `text`; throws, naming the file and the line, when a line is not there exactly `count` times. */
function editLines(file: string, text: string, edits: LineEdit[]): string {
  const lines = text.split('\n');
  for (const edit of edits) {
    const hits = lines.flatMap((l, i) => (l.trim() === edit.line ? [i] : []));
    if (hits.length !== (edit.count ?? 1)) {
      throw new Error(
        `${file}: expected ${edit.count ?? 1} line(s) "${edit.line}", found ${hits.length}. test/https-front.test.ts rewrites that line to run the file: keep it as written, or update the test`,
      );
    }
    for (const i of hits.reverse()) {
      const indent = /^\s*/.exec(lines[i])![0];
      lines.splice(i, 1, ...edit.with.map((w) => indent + w));
    }
  }
  return lines.join('\n');
}

/** deploy/nginx/keygate.conf for this test: loopback ports, the test certificate, logs in `dir`, the upstream Keygate. */
function nginxSite(tls: TlsFiles, dir: string, ports: { https: number; http: number; keygate: number }): string {
  const file = 'deploy/nginx/keygate.conf';
  const text = editLines(file, readFileSyncUtf8(file), [
    { line: 'server 127.0.0.1:8080;', with: [`server 127.0.0.1:${ports.keygate};`] },
    { line: 'listen 80;', with: [`listen 127.0.0.1:${ports.http};`] },
    { line: 'listen [::]:80;', with: [] },
    { line: 'listen 443 ssl http2;', with: [`listen 127.0.0.1:${ports.https} ssl http2;`] },
    { line: 'listen [::]:443 ssl http2;', with: [] },
    { line: 'server_name git.example.com;', count: 2, with: ['server_name localhost;'] },
    { line: 'ssl_certificate /etc/letsencrypt/live/git.example.com/fullchain.pem;', with: [`ssl_certificate ${tls.certFile};`] },
    { line: 'ssl_certificate_key /etc/letsencrypt/live/git.example.com/privkey.pem;', with: [`ssl_certificate_key ${tls.keyFile};`] },
    { line: 'access_log /var/log/nginx/keygate.access.log keygate;', with: [`access_log ${path.join(dir, 'access.log')} keygate;`] },
    { line: 'proxy_pass http://keygate;', with: ['proxy_pass http://keygate;', `proxy_bind ${NGINX_HOP};`] },
  ]);
  const directives = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n');
  assert.doesNotMatch(directives, /example\.com|\/etc\/|\/var\//, 'every machine-specific name and path was rewritten');
  return text;
}

/**
 * The main nginx.conf around the site file, standing in for Debian's /etc/nginx/nginx.conf (which
 * includes conf.d/*.conf in its http block): one worker, temp and log files in `dir`. pid, error_log and
 * `daemon off` come from -g.
 */
function nginxMain(dir: string): string {
  return [
    'worker_processes 1;',
    'events { worker_connections 256; }',
    'http {',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${path.join(dir, `${t}_temp`)};`),
    // Debian's own nginx.conf sets it; without it the port-80 server would open /var/log/nginx/access.log (root's).
    `    access_log ${path.join(dir, 'default.access.log')};`,
    `    include ${path.join(dir, 'keygate.conf')};`,
    '}',
    '',
  ].join('\n');
}

/** deploy/caddy/Caddyfile for this test: the test certificate, loopback only, no admin endpoint, storage in `dir`. */
function caddySite(tls: TlsFiles, dir: string, ports: { https: number; http: number; keygate: number }): string {
  const file = 'deploy/caddy/Caddyfile';
  return editLines(file, readFileSyncUtf8(file), [
    {
      line: 'email admin@example.com',
      with: ['email admin@example.com', 'admin off', `http_port ${ports.http}`, 'skip_install_trust', `storage file_system ${path.join(dir, 'storage')}`],
    },
    { line: 'git.example.com {', with: [`https://localhost:${ports.https} {`, '\tbind 127.0.0.1', `\ttls ${tls.certFile} ${tls.keyFile}`] },
    { line: 'reverse_proxy 127.0.0.1:8080 {', with: [`reverse_proxy 127.0.0.1:${ports.keygate} {`] },
  ]);
}

function readFileSyncUtf8(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Processes

interface Program {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `file` in its own process group, collecting its output; stop() sends SIGTERM, then SIGKILL to the group after 5 s. */
function startProgram(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Program {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 256 * 1024) output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = once(child, 'exit').then(
    () => undefined,
    () => undefined,
  );
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until 127.0.0.1:port accepts connections; fails with the program's output if it exits or START_TIMEOUT_MS passes. */
async function waitForPort(program: Program, port: number, what: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (program.child.exitCode !== null) throw new Error(`${what} exited with ${program.child.exitCode}:\n${program.output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms:\n${program.output()}`);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end, killed after `timeoutMs` (then code is null and stderr says so). */
function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += c.toString('utf8');
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}\n${String(err)}`, ms: Date.now() - started });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: timedOut ? `${stderr}\n(killed after ${opts.timeoutMs ?? 30_000} ms)` : stderr, ms: Date.now() - started });
    });
  });
}

/** git with no system or user configuration and no prompts. */
function gitEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Alice',
    GIT_AUTHOR_EMAIL: 'alice@example.test',
    GIT_COMMITTER_NAME: 'Alice',
    GIT_COMMITTER_EMAIL: 'alice@example.test',
    LC_ALL: 'C',
    ...extra,
  };
  return env;
}

async function git(args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  const r = await run('git', args, opts);
  assert.equal(r.code, 0, `git ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// Requests over https, verified against the test CA

interface HttpsAnswer {
  status: number;
  rawHeaders: string[];
  body: Buffer;
}

/** One request to the front at 127.0.0.1:port as `localhost`, verifying its certificate against the test CA. */
function httpsGet(tls: TlsFiles, port: number, pathname: string, headers: Record<string, string> = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', servername: 'localhost', port, path: pathname, ca: tls.caPem, headers: { host: `localhost:${port}`, ...headers }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${pathname}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

function headerValues(rawHeaders: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) out.push(rawHeaders[i + 1]);
  return out;
}

/** A plain-http request to 127.0.0.1:port with Host: localhost (the redirect listener). */
function httpGet(port: number, pathname: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers: { host: 'localhost' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http ${pathname}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// The suite

interface Front {
  kind: 'nginx' | 'caddy';
  kg: TestKeygate;
  ports: { https: number; http: number; keygate: number };
  origin: string;
  dir: string;
  program: Program;
}

describe('https fronts from deploy/ (nginx, Caddy) in front of Keygate, with Chromium and real git', () => {
  let tmp: string;
  let tls: TlsFiles;
  let browser: Browser | undefined;
  /** The local repository with one commit holding PUSH_BYTES of random data (made once, pushed through each front). */
  let local: Promise<{ dir: string; commit: string; blob: string }> | undefined;
  let gitRoot: string;
  const token = randomBytes(20).toString('hex');

  before(async () => {
    requireProgram(CHROMIUM_PATH, 'chromium');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'keygate-https-front-'));
    // nginx's worker processes run as an unprivileged user when the test runs as root: they must reach their temp files.
    await chmod(tmp, 0o755);
    await mkdir(path.join(tmp, 'tls'));
    tls = await createTlsFiles(path.join(tmp, 'tls'));
    gitRoot = path.join(tmp, 'git-root');
    await mkdir(gitRoot);
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...LAUNCH_ARGS, `--ignore-certificate-errors-spki-list=${tls.serverSpkiSha256}`, '--disable-quic'],
    });
  });

  after(async () => {
    await browser?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** Makes the local repository: PUSH_BYTES of random data written in 1 MiB pieces, committed without compression. */
  function localRepository(): Promise<{ dir: string; commit: string; blob: string }> {
    local ??= (async () => {
      const dir = path.join(tmp, 'work');
      await mkdir(dir);
      const env = gitEnv(tmp);
      await git(['init', '--quiet', '--initial-branch=main', dir], { env });
      const out = createWriteStream(path.join(dir, 'random.bin'));
      const piece = Buffer.alloc(1024 * 1024);
      for (let written = 0; written < PUSH_BYTES; written += piece.length) {
        await new Promise<void>((resolve, reject) => randomFill(piece, (err) => (err ? reject(err) : resolve())));
        if (!out.write(piece)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      // Stored, not deflated; above bigFileThreshold git streams the file and never looks for deltas.
      const cheap = ['-c', 'core.compression=0', '-c', 'core.bigFileThreshold=1m'];
      await git([...cheap, 'add', 'random.bin'], { cwd: dir, env, timeoutMs: 60_000 });
      await git([...cheap, 'commit', '--quiet', '-m', '200 MB of random data'], { cwd: dir, env });
      return { dir, commit: await git(['rev-parse', 'HEAD'], { cwd: dir, env }), blob: await git(['rev-parse', 'HEAD:random.bin'], { cwd: dir, env }) };
    })();
    return local;
  }

  /** Starts Keygate (TRUST_PROXY, PUBLIC_URL on the front's https port) and the front; registers its after hook. */
  function useFront(kind: Front['kind']): () => Front {
    let front: Front | undefined;
    let kg: TestKeygate | undefined;
    let program: Program | undefined;
    before(async () => {
      if (kind === 'nginx') requireProgram(NGINX, 'nginx');
      else requireProgram(CADDY, 'caddy');
      const dir = path.join(tmp, kind);
      await mkdir(dir);
      await chmod(dir, 0o755);
      const https = await freePort();
      const httpPort = await freePort();
      kg = await startKeygate({
        env: { PUBLIC_URL: `https://localhost:${https}`, TRUST_PROXY: 'true' },
        gogs: { gitRoot },
      });
      const ports = { https, http: httpPort, keygate: Number(new URL(kg.url).port) };
      if (kind === 'nginx') {
        await writeFile(path.join(dir, 'keygate.conf'), nginxSite(tls, dir, ports));
        await writeFile(path.join(dir, 'nginx.conf'), nginxMain(dir));
        const globals = `daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log ${path.join(dir, 'error.log')} info;`;
        program = startProgram(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', globals]);
      } else {
        await writeFile(path.join(dir, 'Caddyfile'), caddySite(tls, dir, ports));
        const env = { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') };
        program = startProgram(CADDY, ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], env);
      }
      front = { kind, kg, ports, origin: `https://localhost:${https}`, dir, program };
      try {
        await waitForPort(program, https, kind);
        await waitForPort(program, httpPort, kind);
      } catch (err) {
        if (kind === 'nginx') (err as Error).message += `\n${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`;
        throw err;
      }
    });
    after(async () => {
      await program?.stop();
      await kg?.close();
    });
    return () => {
      if (!front) throw new Error(`${kind} did not start`);
      return front;
    };
  }

  /**
   * The person's journey in Chromium over https through the front: enrol a passkey from the
   * invite link (which signs in), sign out, sign in again with the passkey. The browser sends its
   * own X-Forwarded-For and X-Request-Id all along. Returns the sign-in's verify response and audit row.
   */
  async function enrolAndSignIn(f: Front, p: E2ePage, username: string): Promise<{ verify: Response; row: AuditRow }> {
    const { page } = p;
    // A client's own forwarding headers: the front must replace them.
    await p.context.setExtraHTTPHeaders({ 'X-Forwarded-For': FORGED_ADDRESS, 'X-Request-Id': FORGED_REQUEST_ID });
    const passkey = await p.addAuthenticator(PLATFORM_PASSKEY);
    await page.goto(`${f.origin}/-/enroll/${await invite(f.kg, username)}`);
    const enrolled = page.waitForResponse((r) => new URL(r.url()).pathname === '/-/api/enroll/verify');
    await page.click('#enroll-button');
    const enrolment = await enrolled;
    assert.equal(enrolment.status(), 200, 'the enrolment was accepted');
    assert.ok(
      (await enrolment.headersArray()).some((h) => h.name.toLowerCase() === 'set-cookie' && h.value.startsWith('__Host-keygate=')),
      'Keygate set its session cookie (it sets none unless the front sends X-Forwarded-Proto: https)',
    );
    await continueFromWelcome(page);
    await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
    await page.getByText(`Signed in as ${username}`).waitFor();

    await signOutIgnoringAutofill(f, p, passkey);
    const verify = page.waitForResponse((r) => new URL(r.url()).pathname === '/-/api/login/verify');
    await page.click('#passkey-button');
    const response = await verify;
    assert.equal(response.status(), 200, 'the sign-in was accepted');
    await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
    await page.getByText(`Signed in as ${username}`).waitFor();
    assert.deepEqual(f.kg.gogs.last()?.authHeaderValues, [username]);
    const rows = await auditRowsWhere(f.kg, `event = 'sign_in' AND outcome = 'success' AND subject_username = $1`, [username]);
    assert.equal(rows.length, 1, 'one sign-in after the enrolment');
    return { verify: response, row: rows[0] };
  }

  /** Signs out from the account page with passkey autofill left unanswered (as in test/e2e/signin.test.ts). */
  async function signOutIgnoringAutofill(f: Front, p: E2ePage, passkey: VirtualAuthenticator): Promise<void> {
    await passkey.setAutomaticPresenceSimulation(false);
    await p.page.goto(`${f.origin}/-/account`);
    await p.page.locator('#logout-form button[type=submit]').click();
    await p.page.waitForURL(`${f.origin}/-/login?signed_out`);
    await p.page.waitForFunction(() => ((window as unknown as { __keygateWebAuthnCalls?: string[] }).__keygateWebAuthnCalls ?? []).includes('get:conditional'));
    await passkey.setAutomaticPresenceSimulation(true);
  }

  /** The session cookie as the front delivered it, and as the browser stored it. */
  async function assertHostCookie(p: E2ePage, verify: Response): Promise<string> {
    const setCookies = (await verify.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value);
    const session = setCookies.filter((c) => c.startsWith('__Host-keygate='));
    assert.equal(session.length, 1, `one session cookie: ${JSON.stringify(setCookies)}`);
    const attributes = session[0]
      .split(';')
      .slice(1)
      .map((a) => a.trim().toLowerCase());
    assert.ok(attributes.includes('secure'), `Secure: ${session[0]}`);
    assert.ok(attributes.includes('path=/'), `Path=/: ${session[0]}`);
    assert.ok(attributes.includes('httponly'), `HttpOnly: ${session[0]}`);
    assert.ok(!attributes.some((a) => a.startsWith('domain=')), `no Domain: ${session[0]}`);
    // The browser kept it: a __Host- cookie without Secure, or with a Domain, would have been refused.
    const stored = (await p.context.cookies()).filter((c) => c.name === '__Host-keygate');
    assert.equal(stored.length, 1);
    assert.equal(stored[0].secure, true);
    assert.equal(stored[0].path, '/');
    return stored[0].value;
  }

  /** Exactly one HSTS header, Keygate's, on a Keygate page, a Gogs page and the sign-in's JSON answer. */
  async function assertOneHsts(f: Front, verify: Response, cookie: string): Promise<void> {
    const fromBrowser = (await verify.headersArray()).filter((h) => h.name.toLowerCase() === 'strict-transport-security').map((h) => h.value);
    assert.deepEqual(fromBrowser, ['max-age=31536000'], 'the sign-in answer, as Chromium received it');
    const keygatePage = await httpsGet(tls, f.ports.https, '/-/login');
    assert.equal(keygatePage.status, 200);
    assert.deepEqual(headerValues(keygatePage.rawHeaders, 'strict-transport-security'), ['max-age=31536000'], 'Keygate page');
    const gogsPage = await httpsGet(tls, f.ports.https, '/alice/repo', { cookie: `__Host-keygate=${cookie}` });
    assert.equal(gogsPage.status, 200, gogsPage.body.toString());
    assert.match(gogsPage.body.toString(), /Signed in as/);
    assert.deepEqual(headerValues(gogsPage.rawHeaders, 'strict-transport-security'), ['max-age=31536000'], 'Gogs page');
  }

  /**
   * Pushes the local commit with real git through the front to `alice/<repo>.git`, over verified
   * TLS, with an access token as the password; http.postBuffer is left at its default, so git
   * sends the 200 MB pack with no Content-Length: chunked over HTTP/1.1, a plain stream over HTTP/2.
   */
  async function pushThrough(f: Front, repo: string, httpVersion: 'HTTP/1.1' | 'HTTP/2'): Promise<void> {
    const { dir, commit, blob } = await localRepository();
    const bare = path.join(gitRoot, 'alice', `${repo}.git`);
    const env = gitEnv(tmp);
    await git(['init', '--quiet', '--bare', '--initial-branch=main', bare], { env });
    // Keep the pushed pack as it is (index-pack) instead of exploding it into a recompressed loose object: less CPU.
    await git(['config', 'receive.unpackLimit', '1'], { cwd: bare, env });
    f.kg.gogs.addToken('alice', token);
    f.kg.gogs.clear();

    const url = new URL(`/alice/${repo}.git`, f.origin);
    url.username = 'alice';
    url.password = token;
    const options = ['-c', 'core.compression=0', '-c', 'pack.compression=0', '-c', `http.version=${httpVersion}`];
    const pushed = await run('git', [...options, 'push', '--quiet', url.href, 'main:main'], {
      cwd: dir,
      env: gitEnv(tmp, { GIT_SSL_CAINFO: tls.caFile }),
      timeoutMs: PUSH_TIMEOUT_MS,
    });
    assert.equal(pushed.code, 0, `git push through ${f.kind} failed:\n${pushed.stderr.replaceAll(token, '<token>')}`);
    process.stdout.write(`# ${f.kind}: pushed ${PUSH_BYTES / 1024 / 1024} MiB over ${httpVersion} in ${pushed.ms} ms\n`);

    // What git wrote on the server side.
    assert.equal(await git(['rev-parse', 'refs/heads/main'], { cwd: bare, env }), commit);
    assert.equal(Number(await git(['cat-file', '-s', blob], { cwd: bare, env })), PUSH_BYTES);

    // What the stand-in Gogs received: the whole pack, streamed with no length known in advance,
    // for the token's owner, with the request id the front set.
    const packs = f.kg.gogs.requests.filter((r) => r.method === 'POST' && r.url === `/alice/${repo}.git/git-receive-pack`);
    const pack = packs.find((r) => r.bodyBytes > PUSH_BYTES);
    assert.ok(pack, `the pack reached Gogs: ${JSON.stringify(packs.map((r) => r.bodyBytes))}`);
    assert.equal(pack.identity, 'alice');
    assert.equal(pack.identitySource, 'token');
    assert.equal(pack.headers['content-length'], undefined, 'streamed: no Content-Length');
    assert.equal(pack.headers['transfer-encoding'], 'chunked');
    assert.match(pack.headers['x-request-id'] as string, f.kind === 'nginx' ? /^[0-9a-f]{32}$/ : /^[0-9a-f-]{36}$/);
    assert.equal(await pack.responded, true);
  }

  describe('nginx with deploy/nginx/keygate.conf', () => {
    const front = useFront('nginx');

    test('http:// is redirected to https:// on the configured name', async () => {
      const f = front();
      const res = await httpGet(f.ports.http, '/alice/repo?tab=files');
      assert.equal(res.status, 301);
      assert.equal(res.location, 'https://localhost/alice/repo?tab=files');
    });

    test("signs in with Chromium over https through nginx: __Host- Secure cookie, one HSTS header, the browser's address in the audit row", async () => {
      const f = front();
      const p = await openPage(browser!);
      try {
        const { verify, row } = await enrolAndSignIn(f, p, 'alice');
        const cookie = await assertHostCookie(p, verify);
        await assertOneHsts(f, verify, cookie);
        // The browser's address (the last X-Forwarded-For entry nginx wrote), not nginx's hop and not the forged one.
        assert.equal(row.ip, '127.0.0.1');
        assert.notEqual(row.ip, NGINX_HOP);
        // nginx's request id reached the audit row, and is the one in nginx's access log for that request.
        assert.match(row.request_id ?? '', /^[0-9a-f]{32}$/);
        const log = await readFile(path.join(f.dir, 'access.log'), 'utf8');
        const line = log.split('\n').find((l) => l.endsWith(`request_id=${row.request_id}`));
        assert.match(line ?? '', /^127\.0\.0\.1 .*"POST \/-\/api\/login\/verify HTTP\/2\.0" 200 /);
        assert.doesNotMatch(log, new RegExp(FORGED_REQUEST_ID));
      } finally {
        await p.context.close();
      }
    });

    test('a signed-in 32 MB download streams through nginx: no temp file, intact body', async () => {
      const f = front();
      const p = await openPage(browser!);
      let cookie: string;
      try {
        await p.addAuthenticator(PLATFORM_PASSKEY);
        await p.page.goto(`${f.origin}/-/enroll/${await invite(f.kg, 'dora')}`);
        await p.page.click('#enroll-button');
        await continueFromWelcome(p.page);
        await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));
        cookie = (await p.context.cookies()).find((c) => c.name === '__Host-keygate')!.value;
      } finally {
        await p.context.close();
      }
      const n = 32 * 1024 * 1024;
      // A reader that waits a second before it reads: with proxy_buffering on, nginx would spool Gogs' answer to disk meanwhile.
      const { sha256, status } = await new Promise<{ sha256: string; status: number }>((resolve, reject) => {
        const req = https.get(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: f.ports.https,
            path: `/download/${n}`,
            ca: tls.caPem,
            headers: { host: `localhost:${f.ports.https}`, cookie: `__Host-keygate=${cookie}` },
            timeout: 30_000,
          },
          (res) => {
            res.pause();
            setTimeout(() => {
              const hash = createHash('sha256');
              res.on('data', (c: Buffer) => hash.update(c));
              res.on('end', () => resolve({ sha256: hash.digest('hex'), status: res.statusCode ?? 0 }));
              res.on('error', reject);
              res.resume();
            }, 1000);
          },
        );
        req.on('timeout', () => req.destroy(new Error('download: no progress within 30 s')));
        req.on('error', reject);
      });
      assert.equal(status, 200);
      assert.equal(sha256, downloadSha256(n));
      assert.deepEqual(await readdir(path.join(f.dir, 'proxy_temp')).catch(() => []), [], 'nothing spooled to proxy_temp');
      assert.doesNotMatch(await readFile(path.join(f.dir, 'error.log'), 'utf8'), /upstream response is buffered to a temporary file/);
    });

    test("Gogs is told the browser's address (X-Forwarded-For, X-Real-IP), not nginx's hop", async () => {
      const f = front();
      f.kg.gogs.clear();
      const res = await httpsGet(tls, f.ports.https, '/alice/repo.git/info/refs?service=git-upload-pack');
      assert.equal(res.status, 401, 'Gogs asks for credentials');
      const seen = f.kg.gogs.last()!;
      assert.equal(seen.peer, '127.0.0.1', "Keygate's own connection to Gogs");
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers['x-real-ip'], '127.0.0.1');
    });

    for (const [httpVersion, logged, how] of [
      ['HTTP/2', 'HTTP/2.0', "git's default over https"],
      ['HTTP/1.1', 'HTTP/1.1', 'chunked transfer encoding'],
    ] as const) {
      test(`a 200 MB git push (${httpVersion}, ${how}) streams through nginx and Keygate to Gogs over verified TLS, with an access token`, async () => {
        const f = front();
        const repo = `big-nginx-${httpVersion === 'HTTP/2' ? 'h2' : 'h1'}`;
        await pushThrough(f, repo, httpVersion);
        const log = await readFile(path.join(f.dir, 'access.log'), 'utf8');
        assert.match(log, new RegExp(`"POST /alice/${repo}\\.git/git-receive-pack ${logged.replace('.', '\\.')}" 200 `));
        // nginx passed the body on as it came: nothing was spooled to disk.
        assert.deepEqual(await readdir(path.join(f.dir, 'client_body_temp')).catch(() => []), [], 'nothing spooled to client_body_temp');
        assert.doesNotMatch(await readFile(path.join(f.dir, 'error.log'), 'utf8'), /client request body is buffered to a temporary file/);
      });
    }
  });

  describe('Caddy with deploy/caddy/Caddyfile', () => {
    const front = useFront('caddy');

    test('the Caddyfile as shipped is valid and formatted (caddy validate, caddy fmt)', async () => {
      const f = front();
      const env = { PATH: process.env.PATH, HOME: f.dir, XDG_DATA_HOME: path.join(f.dir, 'data'), XDG_CONFIG_HOME: path.join(f.dir, 'config') };
      const shipped = path.join(ROOT, 'deploy/caddy/Caddyfile');
      const validated = await run(CADDY, ['validate', '--config', shipped, '--adapter', 'caddyfile'], { env, timeoutMs: 20_000 });
      assert.equal(validated.code, 0, validated.stderr);
      assert.match(validated.stdout + validated.stderr, /Valid configuration/);
      assert.doesNotMatch(validated.stderr, /"level":"(warn|error)"/, 'no warnings for the shipped file');
      const formatted = await run(CADDY, ['fmt', shipped], { env, timeoutMs: 20_000 });
      assert.equal(formatted.code, 0, formatted.stderr);
      assert.equal(formatted.stdout, readFileSyncUtf8('deploy/caddy/Caddyfile'), 'caddy fmt leaves it as it is');
    });

    test('http:// is redirected to https://', async () => {
      const f = front();
      const res = await httpGet(f.ports.http, '/alice/repo?tab=files');
      assert.equal(res.status, 308);
      assert.equal(res.location, `https://localhost:${f.ports.https}/alice/repo?tab=files`);
    });

    test("signs in with Chromium over https through Caddy: __Host- Secure cookie, one HSTS header, the browser's address (not a forged one) in the audit row", async () => {
      const f = front();
      const p = await openPage(browser!);
      try {
        const { verify, row } = await enrolAndSignIn(f, p, 'bob');
        const cookie = await assertHostCookie(p, verify);
        await assertOneHsts(f, verify, cookie);
        assert.equal(row.ip, '127.0.0.1');
        // Caddy's own request id (a UUID), not the browser's.
        assert.match(row.request_id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      } finally {
        await p.context.close();
      }
    });

    test("a 200 MB git push (HTTP/2, git's default over https) streams through Caddy and Keygate to Gogs over verified TLS, with an access token", async () => {
      await pushThrough(front(), 'big-caddy', 'HTTP/2');
    });
  });
});

describe('deploy/systemd/keygate.service', () => {
  /** [section, key, value] in file order; continuation lines and comments as systemd reads them. */
  function parseUnit(text: string): [string, string, string][] {
    const entries: [string, string, string][] = [];
    let section = '';
    let pending = '';
    for (const raw of text.split('\n')) {
      const line = pending + raw.trim();
      pending = '';
      if (line.endsWith('\\')) {
        pending = `${line.slice(0, -1)} `;
        continue;
      }
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
      const header = /^\[(.+)\]$/.exec(line);
      if (header) {
        section = header[1];
        continue;
      }
      const eq = line.indexOf('=');
      assert.ok(eq > 0, `not a setting: ${line}`);
      entries.push([section, line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
    }
    return entries;
  }

  const entries = parseUnit(readFileSyncUtf8('deploy/systemd/keygate.service'));
  /** The effective value of a [Service] setting (the last one; an empty assignment resets). */
  const service = (key: string): string | undefined => entries.filter(([s, k]) => s === 'Service' && k === key).at(-1)?.[2];
  const serviceAll = (key: string): string[] => entries.filter(([s, k]) => s === 'Service' && k === key).map(([, , v]) => v);

  test('runs the compiled Keygate as the keygate user from /opt/keygate with /etc/keygate/keygate.env', () => {
    assert.equal(service('User'), 'keygate');
    assert.equal(service('Group'), 'keygate');
    assert.equal(service('WorkingDirectory'), '/opt/keygate');
    assert.equal(service('EnvironmentFile'), '/etc/keygate/keygate.env');
    assert.match(service('ExecStart') ?? '', /^\/usr\/bin\/node (--enable-source-maps )?\/opt\/keygate\/dist\/main\.js$/);
    const environment = serviceAll('Environment');
    assert.ok(environment.includes('DATA_DIR=/var/lib/keygate'), 'the embedded PostgreSQL lives in the state directory');
    assert.ok(environment.includes('HOST=127.0.0.1'), 'only the local front can connect');
    assert.ok(
      entries.some(([s, k, v]) => s === 'Install' && k === 'WantedBy' && v === 'multi-user.target'),
      'enabled at boot',
    );
  });

  test('stops with SIGTERM and leaves more time than SHUTDOWN_TIMEOUT (30 s) to drain; restarts on failure', () => {
    assert.equal(service('KillSignal'), 'SIGTERM');
    assert.equal(service('KillMode'), 'mixed', 'SIGTERM to Keygate only: it stops its embedded PostgreSQL itself, after draining');
    assert.equal(service('Restart'), 'on-failure');
    const stopMs = parseDuration(service('TimeoutStopSec') ?? '');
    assert.ok(stopMs !== undefined, 'TimeoutStopSec is set');
    const shutdownMs = loadConfig({}).shutdownTimeoutMs;
    assert.equal(shutdownMs, 30_000);
    assert.ok(stopMs > shutdownMs, `TimeoutStopSec (${stopMs} ms) > SHUTDOWN_TIMEOUT (${shutdownMs} ms)`);
  });

  test('sandboxing: no privileges, read-only system, only the state directory writable, JIT-compatible', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      // V8's JIT needs writable and executable memory: on, Node would crash.
      MemoryDenyWriteExecute: 'no',
      SystemCallArchitectures: 'native',
      StateDirectory: 'keygate',
      ReadWritePaths: '/var/lib/keygate',
      UMask: '0077',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(service(key), value, key);
    assert.ok(serviceAll('CapabilityBoundingSet').length > 0, 'CapabilityBoundingSet= is set (empty: no capabilities)');
  });
});

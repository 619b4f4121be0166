/**
 * Structured logs: an access line per Keygate request (method, path without query, status,
 * duration, request id), proxied requests at debug only, and no secret in any line: not a cookie,
 * the session secret, an invite token or an Authorization value. On a pipe, JSON lines are written
 * a few kilobytes at a time, none held for long and none lost at exit.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../server/log.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll, invite } from './support/flows.js';
import { ROOT } from './support/main-process.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

/** A pino destination that keeps every line. */
function capture() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (s: string) => void lines.push(s) },
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logs at LOG_LEVEL=debug', () => {
  const out = capture();
  let kg: TestKeygate;
  const secrets: Record<string, string> = {};

  before(async () => {
    kg = await startKeygate({ log: createLogger('debug', out.stream) });
    const authorization = 'Bearer auth-header-value-0123456789';
    const gogsToken = 'c0ffee'.repeat(6) + 'c0ff';
    const basic = `Basic ${Buffer.from(`alice:${gogsToken}`).toString('base64')}`;
    const token = await invite(kg, 'alice');
    const client = new TestClient(kg.url);
    const key = new SoftwareAuthenticator();

    // The enrolment page, with a query, a Cookie and an Authorization header.
    client.cookies.set('i_like_gogs', 'gogs-cookie-value-0123456789');
    assert.equal((await client.get(`/-/enroll/${token}?utm=x`, { authorization })).status, 200);
    // A malformed body carrying the token: body-parser's error keeps the raw body.
    const broken = await client.request('/-/api/enroll/options', {
      method: 'POST',
      body: `{"token":"${token}",`,
      headers: { 'content-type': 'application/json', authorization },
    });
    assert.equal(broken.status, 400);
    assert.equal((await enroll(client, key, token)).status, 200);

    // Sign in again with the session cookie and an Authorization header on every request.
    const options = await client.post('/-/api/login/options', {}, { authorization });
    const response = await key.authenticate(options.json, client.origin);
    const verified = await client.post('/-/api/login/verify', { response }, { authorization });
    assert.equal(verified.status, 200, verified.text);
    assert.equal((await client.get('/alice/repo', { authorization })).status, 200);
    // A proxied git request with a Gogs access token as the Basic password.
    kg.gogs.addToken('alice', gogsToken);
    await client.get('/alice/repo.git/info/refs?service=git-upload-pack', { authorization: basic });

    const { rows } = await kg.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'session_secret'`);
    const cookie = client.cookies.get(kg.config.sessionCookieName)!;
    Object.assign(secrets, {
      token,
      authorization: 'auth-header-value-0123456789',
      basic: basic.slice('Basic '.length),
      gogsToken,
      gogsCookie: 'gogs-cookie-value-0123456789',
      sessionCookie: cookie,
      sessionId: decodeURIComponent(cookie).replace(/^s:/, '').split('.')[0],
      sessionSecret: rows[0].value,
    });
  });
  after(() => kg?.close());

  test('no cookie value, session secret, invite token or Authorization value appears in any line', () => {
    const all = out.lines.join('');
    assert.ok(out.lines.length >= 8, 'hardly anything was logged');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value && value.length >= 16, `${name} was not captured`);
      assert.ok(!all.includes(value), `${name} appears in the logs`);
    }
    // The malformed body was logged (at debug, with its cause), its raw text redacted.
    assert.ok(
      out.parsed().some((l) => (l.cause as { body?: string } | undefined)?.body === '[redacted]'),
      'the refused body was not logged',
    );
  });

  test('each Keygate request has an info access line: method, path without query, status, ms, request id', () => {
    const lines = out.parsed().filter((l) => l.msg === 'request');
    const page = lines.find((l) => l.method === 'GET' && String(l.path).startsWith('/-/enroll/'));
    assert.ok(page, 'no access line for the enrolment page');
    assert.equal(page.path, '/-/enroll/[token]');
    assert.equal(page.level, 30);
    assert.equal(page.status, 200);
    assert.equal(typeof page.ms, 'number');
    assert.match(String(page.reqId), /^[0-9a-f-]{36}$/);
    const verify = lines.find((l) => l.path === '/-/api/login/verify');
    assert.equal(verify?.status, 200);
    assert.ok(lines.some((l) => l.path === '/-/api/enroll/options' && l.status === 400));
  });

  test('proxied requests are logged at debug, with the request id Gogs received', () => {
    const proxied = out.parsed().filter((l) => l.msg === 'proxied');
    const git = proxied.find((l) => l.path === '/alice/repo.git/info/refs');
    assert.ok(git, 'no debug line for the git request');
    assert.equal(git.level, 20);
    assert.equal(git.kind, 'passthrough');
    const sent = kg.gogs.requests.find((r) => r.url.startsWith('/alice/repo.git/'))!;
    assert.equal(git.reqId, sent.headers['x-request-id']);
  });
});

describe('logs at LOG_LEVEL=info', () => {
  test('proxied requests are not logged at all; Keygate requests are', async () => {
    const out = capture();
    const kg = await startKeygate({ log: createLogger('info', out.stream) });
    try {
      const client = new TestClient(kg.url);
      await client.get('/api/v1/version');
      await client.get('/');
      await client.get('/-/login');
      const msgs = out.parsed().map((l) => l.msg);
      assert.ok(!msgs.includes('proxied'));
      assert.ok(msgs.includes('request'));
    } finally {
      await kg.close();
    }
  });
});

/**
 * A child process whose stdout is a pipe, as under a service manager or a container runtime,
 * logging JSON lines through createLogger: `script` runs after `log` and `writes()` (the process's
 * write system calls so far, from /proc/self/io) are defined. Resolves with every line the pipe
 * carried and what the child said on stderr, once it has exited.
 */
function logOnAPipe(script: string, opts: { onLine?: (line: string, child: ChildProcess) => void; sharedStdout?: boolean } = {}) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import fs from 'node:fs';
       import { createLogger } from './server/log.ts';
       const writes = () => Number(/syscw: (\\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))[1]);
       const log = createLogger('info', 'json', undefined, { sharedStdout: ${opts.sharedStdout === true} });
       ${script}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      opts.onLine?.(line, child);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise<{ lines: string[]; messages: unknown[]; stderr: string; code: number | null }>((resolve) =>
    child.on('close', (code) => resolve({ lines, messages: lines.map((l) => (JSON.parse(l) as { msg: unknown }).msg), stderr, code })),
  );
}

describe('JSON lines on stdout, a pipe', () => {
  test('a burst of lines is written a few kilobytes at a time, not one write per line, and none is lost', async () => {
    const out = await logOnAPipe(`
      const before = writes();
      for (let i = 0; i < 200; i++) log.info({ i, path: '/-/api/login/verify' }, 'request');
      process.stderr.write(JSON.stringify({ writes: writes() - before }));`);
    assert.equal(out.code, 0, out.stderr);
    const { writes } = JSON.parse(out.stderr) as { writes: number };
    // 200 lines of about 100 bytes: one write per line would be 200; 4 KB at a time is about 5.
    assert.ok(writes <= 10, `${writes} writes for 200 lines`);
    assert.deepEqual(
      out.lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  test('with WORKERS, whose processes share stdout, each line is one write of its own, so a pipe never tears a line between two of them', async () => {
    const out = await logOnAPipe(
      `const before = writes();
       for (let i = 0; i < 200; i++) log.info({ i, path: '/-/api/login/verify' }, 'request');
       process.stderr.write(JSON.stringify({ writes: writes() - before }));`,
      { sharedStdout: true },
    );
    assert.equal(out.code, 0, out.stderr);
    // One per line (the loader that runs this script may add a write of its own).
    const { writes } = JSON.parse(out.stderr) as { writes: number };
    assert.ok(writes >= 200 && writes <= 203, `${writes} writes for 200 lines`);
    assert.equal(out.lines.length, 200);
  });

  test("every logger of a process shares one buffer on stdout: two loggers' lines come out in the order they were logged, and twenty loggers add one exit listener, not twenty", async () => {
    const out = await logOnAPipe(`
      const exitListeners = process.listenerCount('exit');
      const other = createLogger('info', 'json');
      for (let i = 0; i < 18; i++) createLogger('info', 'json');
      for (let i = 0; i < 100; i++) (i % 2 ? other : log).info({ i }, 'line');
      process.stderr.write(JSON.stringify({ added: process.listenerCount('exit') - exitListeners }));`);
    assert.equal(out.code, 0, out.stderr);
    // stderr may carry Node's MaxListenersExceededWarning besides the count.
    assert.equal(/\{"added":(-?\d+)\}/.exec(out.stderr)?.[1], '0', `no exit listener beyond the first logger's; stderr: ${out.stderr}`);
    assert.doesNotMatch(out.stderr, /MaxListenersExceededWarning/);
    assert.deepEqual(
      out.lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  test('an idle process writes nothing: no empty write every flush interval', async () => {
    const out = await logOnAPipe(`
      log.info('one');
      setTimeout(() => {
        const before = writes();
        setTimeout(() => {
          process.stderr.write(JSON.stringify({ writes: writes() - before }));
          process.exit(0);
        }, 1000);
      }, 300);`);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stderr), { writes: 0 });
    assert.deepEqual(out.messages, ['one']);
  });

  test('a lone line is written soon although the buffer is far from full: an idle Keygate does not hold its last lines', async () => {
    // The child logs one line and then waits, logging nothing more, until it is told to stop: the
    // line must reach the pipe while it waits (LOG_FLUSH_MS later), not when the process ends.
    let seenWhileAlive = false;
    const out = await logOnAPipe(
      `process.on('SIGTERM', () => process.exit(0));
       setTimeout(() => process.exit(3), 10_000);
       log.info('alone');`,
      {
        onLine: (line, child) => {
          seenWhileAlive = line.includes('"alone"');
          child.kill('SIGTERM');
        },
      },
    );
    assert.ok(seenWhileAlive, 'the line reached the pipe while the process was still running');
    assert.equal(out.code, 0, 'it arrived before the 10 s the child waits');
    assert.deepEqual(out.messages, ['alone']);
  });

  test('lines still buffered when the process exits are written: on process.exit and on an uncaught error', async () => {
    const exited = await logOnAPipe(`log.info('stopping'); log.info('stopped'); process.exit(0);`);
    assert.deepEqual(exited.messages, ['stopping', 'stopped']);
    const crashed = await logOnAPipe(`log.error('about to fail'); setImmediate(() => { throw new Error('boom'); });`);
    assert.equal(crashed.code, 1);
    assert.match(crashed.stderr, /boom/);
    assert.deepEqual(crashed.messages, ['about to fail']);
  });
});

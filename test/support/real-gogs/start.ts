/**
 * A real Gogs for one test file: its own work folder, SQLite, a loopback port, and the app.ini
 * users get (deploy/gogs/app.ini) with only the run user, addresses, ports, paths and database
 * replaced (every replaced line must still be there, or this fails: a changed shipped file is
 * noticed). Its custom templates are deploy/gogs/custom/templates, as docker-compose.yml mounts
 * them. The first site administrator is made by deploy/gogs/init.sh, the script compose runs, which
 * also gets the admin access token Keygate's GOGS_ADMIN_TOKEN takes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../../server/root.js';
import { freePort } from '../net.js';
import { ensureGogs } from './build.js';

const run = promisify(execFile);

export interface RealGogsOptions {
  /** Keygate's public URL: Gogs' EXTERNAL_URL (PUBLIC_URL in deploy/gogs/app.ini). */
  publicUrl: string;
  /** `[auth] TRUSTED_PROXY_IPS`: the address Keygate connects from (GOGS_SOURCE_ADDRESS), as a CIDR. */
  trustedProxyIps: string;
  /** Gogs listens here; default 127.0.0.1. */
  host?: string;
  /** Name of the first site administrator (FIRST_ADMIN_USERNAME); default 'siteadmin'. */
  adminName?: string;
  /** Lines of the shipped app.ini set otherwise, [section, key, value]: a misconfigured Gogs. */
  settings?: Array<[string, string, string]>;
  /** Lines the shipped app.ini leaves at Gogs' default, added (e.g. [server] ENABLE_GZIP). */
  added?: Array<[string, string, string]>;
}

export interface RealGogs {
  /** Straight to Gogs, past Keygate. */
  url: string;
  workDir: string;
  /** Gogs' process id (the bench reads its CPU time). */
  pid: number | undefined;
  adminName: string;
  /** The admin's access token (made by deploy/gogs/init.sh), for GOGS_ADMIN_TOKEN. */
  adminToken: string;
  /** Everything Gogs printed, for a failure's message. */
  output(): string;
  /** `gogs admin create-user` with a random password; returns the password. */
  createUser(name: string, options?: { admin?: boolean; email?: string }): Promise<string>;
  /** Gogs' own password sign-in, straight to Gogs (its form and CSRF token): its session cookie's value. */
  passwordSession(name: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

/** The line `key = value` in [section] of an ini text, replaced; an error if it is not there. */
export function setIni(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  let current = '';
  for (let i = 0; i < lines.length; i++) {
    const header = /^\[(.+)\]\s*$/.exec(lines[i]);
    if (header) current = header[1]!;
    else if (current === section && new RegExp(`^${key}\\s*=`).test(lines[i])) {
      lines[i] = `${key} = ${value}`;
      return lines.join('\n');
    }
  }
  throw new Error(`deploy/gogs/app.ini has no ${key} in [${section || 'the top'}]: the real-Gogs helper needs updating`);
}

/** Adds `key = value` at the end of [section] (a setting the shipped file leaves at Gogs' default). */
function addIni(text: string, section: string, key: string, value: string): string {
  const at = text.indexOf(`[${section}]`);
  if (at < 0) throw new Error(`deploy/gogs/app.ini has no [${section}]`);
  const next = text.indexOf('\n[', at + 1);
  const end = next < 0 ? text.length : next;
  return `${text.slice(0, end).replace(/\n*$/, '')}\n${key} = ${value}\n${text.slice(end)}`;
}

async function waitFor(url: string, gogs: ChildProcess, output: () => string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (gogs.exitCode !== null) throw new Error(`Gogs exited (${gogs.exitCode}) before answering:\n${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`Gogs did not answer ${url} within ${ms} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRealGogs(options: RealGogsOptions): Promise<RealGogs> {
  const binary = await ensureGogs();
  const host = options.host ?? '127.0.0.1';
  const port = await freePort();
  const adminName = options.adminName ?? 'siteadmin';
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-real-gogs-'));
  const configFile = path.join(workDir, 'custom', 'conf', 'app.ini');
  await mkdir(path.dirname(configFile), { recursive: true });
  await cp(path.join(ROOT, 'deploy/gogs/custom/templates'), path.join(workDir, 'custom', 'templates'), { recursive: true });

  let ini = await readFile(path.join(ROOT, 'deploy/gogs/app.ini'), 'utf8');
  ini = setIni(ini, '', 'RUN_USER', os.userInfo().username);
  ini = setIni(ini, 'server', 'HTTP_ADDR', host);
  ini = setIni(ini, 'server', 'HTTP_PORT', String(port));
  ini = addIni(ini, 'server', 'APP_DATA_PATH', path.join(workDir, 'data'));
  ini = setIni(ini, 'database', 'TYPE', 'sqlite3');
  ini = addIni(ini, 'database', 'PATH', path.join(workDir, 'gogs.db'));
  ini = setIni(ini, 'repository', 'ROOT', path.join(workDir, 'repositories'));
  ini = setIni(ini, 'auth', 'TRUSTED_PROXY_IPS', options.trustedProxyIps);
  ini = addIni(ini, 'session', 'PROVIDER_CONFIG', path.join(workDir, 'sessions'));
  ini = addIni(ini, 'log', 'ROOT_PATH', path.join(workDir, 'log'));
  for (const [section, key, value] of options.settings ?? []) ini = setIni(ini, section, key, value);
  for (const [section, key, value] of options.added ?? []) ini = addIni(ini, section, key, value);
  await writeFile(configFile, ini);

  const publicUrl = new URL(options.publicUrl);
  // The ${...} of deploy/gogs/app.ini, as docker-compose.yml gives them to the gogs service.
  const env = {
    ...process.env,
    GOGS_WORK_DIR: workDir,
    GOGS_CUSTOM: path.join(workDir, 'custom'),
    PUBLIC_URL: publicUrl.origin,
    PUBLIC_HOST: publicUrl.hostname,
    GOGS_SSH_PORT: '2222',
    GOGS_DB_PASSWORD: 'unused-with-sqlite',
    GOGS_SECRET_KEY: randomBytes(24).toString('hex'),
    USER: os.userInfo().username,
  };

  let output = '';
  const gogs = spawn(binary, ['web', '--config', configFile], { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  gogs.stdout.on('data', collect);
  gogs.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => gogs.once('exit', () => resolve()));
  const url = `http://${host}:${port}`;

  const stop = async (): Promise<void> => {
    if (gogs.exitCode === null && gogs.signalCode === null) {
      gogs.kill('SIGTERM');
      const killer = setTimeout(() => gogs.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    await waitFor(`${url}/healthcheck`, gogs, () => output, 60_000);
    // The first site administrator and Keygate's token, exactly as compose makes them.
    const settings = path.join(workDir, 'keygate-gogs.env');
    await run('sh', [path.join(ROOT, 'deploy/gogs/init.sh')], {
      env: {
        ...env,
        FIRST_ADMIN_USERNAME: adminName,
        FIRST_ADMIN_EMAIL: `${adminName}@example.test`,
        GOGS_INTERNAL_URL: url,
        KEYGATE_GOGS_ENV: settings,
        GOGS_INIT_STATE: path.join(workDir, 'init-state'),
        GOGS_BIN: binary,
        GOGS_CONFIG: configFile,
        GOGS_RUN_AS: '',
        GOGS_WAIT_TRIES: '5',
      },
    });
    const token = /^GOGS_ADMIN_TOKEN=([0-9a-f]{40})$/m.exec(await readFile(settings, 'utf8'))?.[1];
    if (!token) throw new Error(`deploy/gogs/init.sh wrote no GOGS_ADMIN_TOKEN:\n${output}`);

    return {
      url,
      workDir,
      pid: gogs.pid,
      adminName,
      adminToken: token,
      output: () => output,
      async createUser(name, opts = {}) {
        const password = randomBytes(12).toString('hex');
        const args = ['admin', 'create-user', '--name', name, '--password', password, '--email', opts.email ?? `${name}@example.test`, '--config', configFile];
        if (opts.admin) args.push('--admin');
        await run(binary, args, { cwd: workDir, env });
        return password;
      },
      async passwordSession(name, password) {
        const form = await fetch(`${url}/user/login`);
        const jar = new Map(form.headers.getSetCookie().map((line) => line.split(';')[0].split('=') as [string, string]));
        const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
        if (!csrf) throw new Error("Gogs' sign-in form has no CSRF token");
        const res = await fetch(`${url}/user/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, user_name: name, password }).toString(),
        });
        if (res.status !== 302) throw new Error(`Gogs' password sign-in answered ${res.status}`);
        const set = new Map(res.headers.getSetCookie().map((line) => line.split(';')[0].split('=') as [string, string]));
        return set.get('i_like_gogs') ?? jar.get('i_like_gogs')!;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

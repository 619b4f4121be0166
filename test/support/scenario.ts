/**
 * Shared by the fault tests and the soak (bench/soak.ts): Keygate as a child process in front of a
 * fake Gogs on a database the caller controls, people enrolled through it, and one request of each
 * kind a person or git client makes, timed and recorded (status, latency, and whether the answer
 * leaks internals).
 */
import { loadConfig, type Config } from '../../server/config.js';
import { createPool, type Db } from '../../server/db/pool.js';
import { createInvite } from '../../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './authenticator.js';
import { ANSWER_BOUND_MS, TestClient } from './client.js';
import { enroll } from './flows.js';
import type { FakeGogs } from './gogs.js';
import { listenEnv, MainProcess } from './main-process.js';

export interface ChildKeygate {
  app: MainProcess;
  url: string;
  config: Config;
  env: Record<string, string>;
}

/** Starts server/main.ts on DATABASE_URL=dbUrl in front of gogs; resolves once it listens. */
export async function startChild(
  dbUrl: string,
  gogs: FakeGogs,
  env: Record<string, string> = {},
  reuse?: { url: string; env: Record<string, string> },
): Promise<ChildKeygate> {
  const listening =
    reuse ?? (await listenEnv(gogs.url, { DATABASE_URL: dbUrl, RATE_LIMIT_IP_PER_MINUTE: '1000000', RATE_LIMIT_USERNAME_PER_15MIN: '1000000', ...env }));
  const app = new MainProcess(listening.env);
  await app.waitForLog('keygate listening', 45_000);
  return { app, url: listening.url, config: loadConfig({ PUBLIC_URL: listening.url }), env: listening.env };
}

export interface Person {
  name: string;
  client: TestClient;
  key: SoftwareAuthenticator;
  /** base64url WebAuthn credential id. */
  credentialId: string;
  /** A Gogs access token for git (registered with the fake Gogs). */
  token: string;
}

/** Invites `name` (as the CLI does, straight into the database) and enrols a key through Keygate. */
export async function enrolPerson(db: Db, kg: ChildKeygate, gogs: FakeGogs, name: string): Promise<Person> {
  const { token } = await createInvite(db, kg.config, { username: name, createdBy: 'test' });
  const client = new TestClient(kg.url);
  const key = new SoftwareAuthenticator();
  const res = await enroll(client, key, token);
  if (res.status !== 200) throw new Error(`enrolment of ${name}: ${res.status} ${res.text}`);
  const gitToken = Buffer.from(name.padEnd(20, '0').slice(0, 20)).toString('hex');
  gogs.addToken(name, gitToken);
  return { name, client, key, credentialId: key.credentials[0].id, token: gitToken };
}

/** A pool of the test's own on the database Keygate uses (short timeouts: it may be down). */
export function testPool(dbUrl: string): Db {
  return createPool(dbUrl, 3, 3_000);
}

/** One request and how it went. */
export interface Outcome {
  kind: string;
  /** HTTP status, or 0 when no HTTP answer came (connection refused/reset, or the client gave up). */
  status: number;
  /** When it was sent (ms since the epoch) and how long it took. */
  at: number;
  ms: number;
  /** What went wrong on the client side, when status is 0. */
  error?: string;
  /** The answer shows a stack trace or internals. */
  leaks: boolean;
  /** The page's title in brackets, if it has one, then the first 300 characters of the body. */
  body: string;
}

const LEAK = /\n\s+at .+:\d+:\d+|node_modules|\bError: |ECONNREFUSED|SELECT |postgres/i;

/** Sends one request and records it; never throws. */
export async function timed(kind: string, url: string, init: RequestInit = {}): Promise<Outcome & { text: string; headers?: Headers }> {
  const at = Date.now();
  const t0 = performance.now();
  try {
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(ANSWER_BOUND_MS), ...init });
    const text = await res.text();
    // An HTML page is summed up by its title, which comes after 250 characters of <head>.
    const title = /<title>([^<]*)<\/title>/.exec(text)?.[1];
    const body = title ? `[${title}] ${text.slice(0, 300)}` : text.slice(0, 300);
    return { kind, status: res.status, at, ms: performance.now() - t0, leaks: LEAK.test(text), body, text, headers: res.headers };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { kind, status: 0, at, ms: performance.now() - t0, error: e.cause?.code ?? e.name, leaks: false, body: '', text: '' };
  }
}

/** A signed-in page view of /<owner>/repo with this person's cookie. */
export function pageView(kg: { url: string }, cookie: string | undefined, owner: string, kind = 'page') {
  return timed(kind, `${kg.url}/${owner}/repo?t=${Date.now()}`, { headers: cookie ? { cookie } : {} });
}

/** `git fetch`'s two requests, passed through with an access token: info/refs, then upload-pack. */
export async function gitFetch(kg: { url: string }, person: Person): Promise<Outcome[]> {
  const auth = { authorization: `Basic ${Buffer.from(`${person.token}:x-oauth-basic`).toString('base64')}` };
  const refs = await timed('git-info-refs', `${kg.url}/${person.name}/repo.git/info/refs?service=git-upload-pack`, { headers: auth });
  const pack = await timed('git-upload-pack', `${kg.url}/${person.name}/repo.git/git-upload-pack`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/x-git-upload-pack-request' },
    body: '0032want 0000000000000000000000000000000000000000\n00000009done\n',
  });
  return [refs, pack];
}

/**
 * A sign-in with the person's key on a fresh browser (options, the authenticator, verify): the
 * outcomes of both requests and, when it worked, the new session cookie.
 */
export async function signInOnce(kg: { url: string }, person: Person): Promise<{ outcomes: Outcome[]; cookie?: string }> {
  const headers = { 'content-type': 'application/json', origin: kg.url };
  const options = await timed('sign-in-options', `${kg.url}/-/api/login/options`, { method: 'POST', headers, body: '{}' });
  if (options.status !== 200) return { outcomes: [options] };
  const cookie = options.headers
    ?.getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const response = await person.key.authenticate(JSON.parse(options.text), kg.url);
  const verify = await timed('sign-in-verify', `${kg.url}/-/api/login/verify`, {
    method: 'POST',
    headers: { ...headers, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ response }),
  });
  const signedIn =
    verify.status === 200
      ? verify.headers
          ?.getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; ')
      : undefined;
  return { outcomes: [options, verify], cookie: signedIn };
}

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Counts of outcomes by kind and status, e.g. { 'page 200': 41, 'page 503': 12 }. */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.kind} ${o.status || o.error}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort());
}

/** Resident set size (KiB) and open file descriptors of a process, from /proc. */
export async function processFootprint(pid: number): Promise<{ rssKiB: number; fds: number }> {
  const { readFile, readdir } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rssKiB, fds };
}

/**
 * /-/healthz (liveness: the process answers; no database) and /-/readyz (the database answers, its
 * migrations are current, Gogs answers HTTP; which check failed is shown only to a local probe). Served ahead of Express: no session, no cookies, and
 * concurrent readiness probes share one round of checks.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../db/pool.js';
import { migrationsCurrent } from '../db/migrate.js';
import type { Logger } from '../log.js';

export interface Check {
  ok: boolean;
  /** A short, public reason: an error code or `timeout`, never an address or a message. */
  error?: string;
  /** Gogs: the HTTP status it answered with (any status counts as reachable). */
  status?: number;
}

export interface Readiness {
  status: 'ready' | 'not ready';
  checks: { database: Check; migrations: Check; gogs: Check };
}

export interface HealthDeps {
  db: Db;
  gogsUrl: URL;
  log: Logger;
  timeoutMs?: number;
}

class Timeout extends Error {
  code = 'timeout';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Timeout('timeout')), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function failed(err: unknown): Check {
  const code = (err as { code?: unknown })?.code;
  return { ok: false, error: typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : 'error' };
}

/** Any HTTP answer from Gogs' root counts; only a network failure or the timeout does not. */
function probeGogs(url: URL, timeoutMs: number): Promise<Check> {
  return new Promise((resolve) => {
    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(url, { method: 'HEAD', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve({ ok: true, status: res.statusCode });
    });
    req.on('timeout', () => req.destroy(new Timeout('timeout')));
    req.on('error', (err) => resolve(failed(err)));
    req.end();
  });
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || v4.startsWith('127.');
}

export function createHealth({ db, gogsUrl, log, timeoutMs = 2_000 }: HealthDeps) {
  let inFlight: Promise<Readiness> | null = null;

  async function check(): Promise<Readiness> {
    const [database, migrations, gogs] = await Promise.all([
      withTimeout(db.query('SELECT 1'), timeoutMs).then((): Check => ({ ok: true }), failed),
      withTimeout(migrationsCurrent(db), timeoutMs).then((current): Check => (current ? { ok: true } : { ok: false, error: 'pending' }), failed),
      probeGogs(gogsUrl, timeoutMs),
    ]);
    const ready = database.ok && migrations.ok && gogs.ok;
    if (!ready) log.warn({ database, migrations, gogs }, 'not ready');
    return { status: ready ? 'ready' : 'not ready', checks: { database, migrations, gogs } };
  }

  /** Readiness, with concurrent callers sharing one round of checks. */
  function readiness(): Promise<Readiness> {
    inFlight ??= check().finally(() => (inFlight = null));
    return inFlight;
  }

  /** Answers the request and returns true if it is a health endpoint; false otherwise. */
  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    // Every request passes here: a cheap prefix test before anything that allocates.
    if (!url.startsWith('/-/healthz') && !url.startsWith('/-/readyz')) return false;
    const path = url.split('?', 1)[0];
    if (path !== '/-/healthz' && path !== '/-/readyz') return false;
    req.resume();
    const headers = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end('{"error":"method not allowed"}');
    } else if (path === '/-/healthz') {
      res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('ok');
    } else {
      // Which dependency is down is for the operator: shown to a probe on this machine that no
      // proxy relayed; anyone else gets the status alone (the reasons are in the log).
      const detailed = isLoopback(req.socket.remoteAddress) && req.headers['x-forwarded-for'] === undefined && req.headers.forwarded === undefined;
      void readiness().then((r) => res.writeHead(r.status === 'ready' ? 200 : 503, headers).end(JSON.stringify(detailed ? r : { status: r.status })));
    }
    return true;
  }

  return { handle, readiness };
}

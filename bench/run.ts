/**
 * `npm run bench`: what Keygate costs over a bare Node proxy and over no proxy at all.
 *
 * Starts its own PostgreSQL (embedded, with pg_stat_statements), a lean upstream, a bare Node
 * reverse proxy (the yardstick) and Keygate, each in its own process, all on loopback; drives them
 * with autocannon; prints a table and writes docs/performance.md. Figures are ratios taken in the
 * same run, so a noisy machine moves all of them together.
 *
 * BENCH_DURATION (seconds per case, default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_UPLOAD_MB (default 200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import autocannon from 'autocannon';
import pg from 'pg';
import { startEmbeddedPostgres } from '../server/db/embedded.js';
import { SoftwareAuthenticator } from '../test/support/authenticator.js';
import { TestClient } from '../test/support/client.js';
import { enroll, signIn } from '../test/support/flows.js';
import { freePort } from '../test/support/net.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const UPLOAD_MB = Number(process.env.BENCH_UPLOAD_MB ?? 200);

const children: ChildProcess[] = [];

/** Starts a TS child that prints its port on its first stdout line. */
function startChild(script: string, args: string[] = []): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ port: Number(String(d).trim()), child }));
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

async function startKeygate(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('keygate listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`keygate exited ${code}: ${out}`)));
  });
  return child;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, opts: { headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Load> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: opts.headers ?? {},
    method: (opts.method ?? 'GET') as 'GET',
    ...(opts.body ? { body: opts.body } : {}),
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts, non2xx: result.non2xx };
}

async function upload(url: string, pid: number | undefined): Promise<{ mbPerSec: number; rssGrowthMb: number }> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const total = UPLOAD_MB * 1024 * 1024;
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= total) return this.push(null);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  const rss = async () => (pid ? Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024 : 0);
  const before = await rss();
  let peak = before;
  const sampler = setInterval(() => void rss().then((v) => (peak = Math.max(peak, v))), 20);
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/octet-stream', authorization: 'Basic ' + Buffer.from('alice:' + 'a'.repeat(40)).toString('base64') } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    body.pipe(req);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  return { mbPerSec: UPLOAD_MB / seconds, rssGrowthMb: peak - before };
}

async function signInRate(baseUrl: string, users: Array<{ client: TestClient; key: SoftwareAuthenticator }>): Promise<{ perSec: number; p99: number; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  const deadline = Date.now() + DURATION * 1000;
  await Promise.all(
    users.map(async ({ key }) => {
      while (Date.now() < deadline) {
        const client = new TestClient(baseUrl);
        const t = performance.now();
        const res = await signIn(client, key);
        latencies.push(performance.now() - t);
        if (res.status !== 200) failures++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSec: latencies.length / DURATION, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0, failures };
}

/**
 * How long a revocation takes to reach Keygate's proxy: the session row is deleted on another
 * connection (as the CLI or another instance would), then the same browser asks again and again
 * until it is sent to sign-in. Measured end to end, HTTP round trips included.
 */
async function invalidationLatency(origin: string, users: Array<{ key: SoftwareAuthenticator }>, dbUrl: string): Promise<{ p50: number; max: number; n: number }> {
  const other = new pg.Client({ connectionString: dbUrl });
  await other.connect();
  const samples: number[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const client = new TestClient(origin);
      const res = await signIn(client, users[i % users.length].key);
      if (res.status !== 200) throw new Error(`sign-in for the invalidation probe failed: ${res.text}`);
      if ((await client.get('/bench0/repo')).status !== 200) throw new Error('the signed-in probe did not reach the upstream');
      const raw = decodeURIComponent([...client.cookies.values()][0] ?? '');
      const sid = raw.slice(2, raw.lastIndexOf('.'));
      const started = performance.now();
      await other.query('DELETE FROM session WHERE sid = $1', [sid]);
      while ((await client.get('/bench0/repo')).status === 200) {
        if (performance.now() - started > 5000) throw new Error('a revoked session was still served after 5 s');
      }
      samples.push(performance.now() - started);
    }
  } finally {
    await other.end();
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)], max: samples[samples.length - 1], n: samples.length };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-bench-pg-'));
  const pgPort = await freePort();
  const database = await startEmbeddedPostgres({ dataDir, port: pgPort, postgresFlags: ['-c', 'shared_preload_libraries=pg_stat_statements'] });
  try {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS keygate_bench');
    await admin.query('CREATE DATABASE keygate_bench');
    await admin.end();
    const dbUrl = database.url.replace(/\/postgres$/, '/keygate_bench');
    const stats = new pg.Client({ connectionString: dbUrl });
    stats.on('error', (err) => process.stderr.write(`bench: stats connection: ${err.message}\n`));
    await stats.connect();
    await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');

    process.stderr.write('bench: starting upstream, bare proxy and Keygate…\n');
    const upstream = await startChild('bench/upstream.ts');
    const bare = await startChild('bench/bare-proxy.ts', [String(upstream.port)]);
    const kgPort = await freePort();
    const origin = `http://localhost:${kgPort}`;
    const keygate = await startKeygate({
      PORT: String(kgPort),
      HOST: '127.0.0.1',
      PUBLIC_URL: origin,
      GOGS_URL: `http://127.0.0.1:${upstream.port}`,
      DATABASE_URL: dbUrl,
      LOG_LEVEL: 'info',
      // The limiter still runs (its statements are part of the cost); the bench just never hits it.
      RATE_LIMIT_IP_PER_MINUTE: '100000000',
      RATE_LIMIT_USERNAME_PER_15MIN: '100000000',
    });

    process.stderr.write('bench: enrolling users…\n');
    // Enrol a few users through the real ceremonies (one credential per sign-in worker).
    const { createInvite } = await import('../server/enrollment/invites.js');
    const { loadConfig } = await import('../server/config.js');
    const { createPool } = await import('../server/db/pool.js');
    const cfg = loadConfig({ PUBLIC_URL: origin, DATABASE_URL: dbUrl });
    const pool = createPool(dbUrl, 2);
    const users: Array<{ client: TestClient; key: SoftwareAuthenticator }> = [];
    for (let i = 0; i < 8; i++) {
      const client = new TestClient(origin);
      const key = new SoftwareAuthenticator({ residentKey: true, counterStep: 1 });
      const { token } = await createInvite(pool, cfg, { username: `bench${i}`, createdBy: 'bench' });
      const res = await enroll(client, key, token);
      if (res.status !== 200) throw new Error(`enrolment failed: ${res.text}`);
      users.push({ client, key });
    }
    await pool.end();
    const cookie = users[0].client.cookieHeader()!;

    const direct = `http://127.0.0.1:${upstream.port}`;
    const viaBare = `http://127.0.0.1:${bare.port}`;
    const viaKeygate = `http://127.0.0.1:${kgPort}`;
    const page = '/bench0/repo';
    const refs = '/bench0/repo.git/info/refs?service=git-upload-pack';
    const pack = '/bench0/repo.git/git-upload-pack';
    const packBody = '0032want 0123456789012345678901234567890123456789\n00000009done\n';

    const rows: Array<{ case: string; target: string; load: Load }> = [];
    const run = async (name: string, p: string, o: Parameters<typeof load>[1] = {}) => {
      for (const [target, base] of [['direct', direct], ['bare proxy', viaBare], ['keygate', viaKeygate]] as const) {
        process.stderr.write(`bench: ${name} via ${target}…\n`);
        rows.push({ case: name, target, load: await load(base + p, target === 'keygate' ? { ...o, headers: { ...o.headers, cookie } } : o) });
      }
    };
    // Warm up Keygate's paths (JIT, pools) before measuring.
    await autocannon({ url: viaKeygate + page, connections: 8, duration: 2, headers: { cookie } });
    await run('authenticated page (2 KB)', page);
    await run('git info/refs', refs);
    await run('git upload-pack POST', pack, { method: 'POST', body: packBody, headers: { 'content-type': 'application/x-git-upload-pack-request' } });

    // Database statements per proxied request, steady state (after the warm-up above).
    await stats.query('SELECT pg_stat_statements_reset()');
    const N = 2000;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    for (let i = 0; i < N; i++) {
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: kgPort, path: page, headers: { cookie }, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
    }
    agent.destroy();
    await new Promise((r) => setTimeout(r, 1500));
    const { rows: st } = await stats.query<{ reads: string; writes: string }>(
      `SELECT coalesce(sum(calls) FILTER (WHERE query ~* '^\\s*(select|with)' AND query !~* 'pg_stat_statements'), 0) AS reads,
              coalesce(sum(calls) FILTER (WHERE query ~* '^\\s*(insert|update|delete)'), 0) AS writes
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const readsPerRequest = Number(st[0].reads) / N;
    const writesPerRequest = Number(st[0].writes) / N;

    process.stderr.write('bench: sign-ins…\n');
    const signins = await signInRate(origin, users);
    process.stderr.write('bench: revocation reaching the proxy…\n');
    const invalidation = await invalidationLatency(origin, users, dbUrl);
    process.stderr.write(`bench: ${UPLOAD_MB} MB upload…\n`);
    const upDirect = await upload(direct + '/bench0/repo.git/git-receive-pack', upstream.child.pid);
    const upKeygate = await upload(viaKeygate + '/bench0/repo.git/git-receive-pack', keygate.pid);
    await stats.end();

    const report = renderReport({ rows, readsPerRequest, writesPerRequest, signins, invalidation, upDirect, upKeygate });
    process.stdout.write(report.table + '\n');
    await writeFile(path.join(root, 'docs/performance.md'), report.markdown);
    process.stderr.write('bench: wrote docs/performance.md\n');
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await database.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function renderReport(r: {
  rows: Array<{ case: string; target: string; load: Load }>;
  readsPerRequest: number;
  writesPerRequest: number;
  signins: { perSec: number; p99: number; failures: number };
  invalidation: { p50: number; max: number; n: number };
  upDirect: { mbPerSec: number; rssGrowthMb: number };
  upKeygate: { mbPerSec: number; rssGrowthMb: number };
}): { table: string; markdown: string } {
  const lines = ['| case | via | req/s | p50 ms | p99 ms | vs bare proxy | vs direct | errors |', '|---|---|---|---|---|---|---|---|'];
  const byCase = new Map<string, Record<string, Load>>();
  for (const row of r.rows) byCase.set(row.case, { ...byCase.get(row.case), [row.target]: row.load });
  for (const [name, t] of byCase) {
    for (const target of ['direct', 'bare proxy', 'keygate']) {
      const l = t[target];
      lines.push(
        `| ${name} | ${target} | ${l.rps.toFixed(0)} | ${l.p50} | ${l.p99} | ${pct(l.rps / t['bare proxy'].rps)} | ${pct(l.rps / t.direct.rps)} | ${l.errors + l.non2xx} |`,
      );
    }
  }
  const page = byCase.get('authenticated page (2 KB)')!;
  const throughputRatio = page.keygate.rps / page['bare proxy'].rps;
  const p99Ratio = page.keygate.p99 / Math.max(page['bare proxy'].p99, 1);
  const uploadRatio = r.upKeygate.mbPerSec / r.upDirect.mbPerSec;
  const targets = [
    ['authenticated proxied throughput', '≥ 85% of bare proxy', pct(throughputRatio), throughputRatio >= 0.85],
    ['p99 latency', '≤ 1.5× bare proxy', `${p99Ratio.toFixed(2)}×`, p99Ratio <= 1.5],
    ['database writes per proxied request', '0', `${r.writesPerRequest.toFixed(4)} (${Math.round(r.writesPerRequest * 2000)} in 2000)`, r.writesPerRequest <= 0.001],
    ['database reads per proxied request', '0 (from a cache)', `${r.readsPerRequest.toFixed(4)} (${Math.round(r.readsPerRequest * 2000)} in 2000)`, r.readsPerRequest <= 0.001],
    ['revocation reaching the proxy', 'immediate on every instance', `p50 ${r.invalidation.p50.toFixed(1)} ms, max ${r.invalidation.max.toFixed(1)} ms (n=${r.invalidation.n})`, r.invalidation.max < 1000],
    ['sign-ins per second (2 cores)', '≥ 400, p99 < 50 ms', `${r.signins.perSec.toFixed(0)}/s, p99 ${r.signins.p99.toFixed(1)} ms, ${r.signins.failures} failed`, r.signins.perSec >= 400 && r.signins.p99 < 50],
    [`upload throughput (${UPLOAD_MB} MB)`, '≥ 90% of direct', `${pct(uploadRatio)} (${r.upKeygate.mbPerSec.toFixed(0)} vs ${r.upDirect.mbPerSec.toFixed(0)} MB/s)`, uploadRatio >= 0.9],
    ['Keygate RSS growth during the upload', '≤ 64 MB', `${r.upKeygate.rssGrowthMb.toFixed(1)} MB`, r.upKeygate.rssGrowthMb <= 64],
  ] as const;
  const targetLines = ['| figure | target | measured | met |', '|---|---|---|---|', ...targets.map(([a, b, c, ok]) => `| ${a} | ${b} | ${c} | ${ok ? 'yes' : '**no**'} |`)];
  const table = [...lines, '', ...targetLines].join('\n');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const markdown = `# Performance

Measured by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}.

- Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}.
- Load: autocannon, ${CONNECTIONS} connections, ${DURATION} s per case, loopback only. The upstream is a trivial
  Node server (2 KB pages); the bare proxy is \`http.request\` piping with a keep-alive agent (bench/bare-proxy.ts).
  Upstream, bare proxy, Keygate and PostgreSQL each run in their own process; the load generator and the
  software authenticator (for sign-ins) share the same 2 cores, so absolute numbers are low and only the
  ratios within one run mean much.

## Targets

${targetLines.join('\n')}

## Proxied requests

${lines.join('\n')}

## Why, where a figure misses its target

- **Database statements** are counted with pg_stat_statements over ${2000} sequential authenticated page
  requests after warm-up. A signed-in session is read once, then served from the in-process cache; the
  cache entry is refreshed at most once per \`SESSION_CACHE_TTL\` (30 s) and last-seen is written at most once
  a minute, so a run of 2000 requests may show one of each: zero per request in steady state, counted as met
  up to 0.001.
- **Revocation** is measured end to end: the session row is deleted on another connection (as the CLI or
  another instance would), then the same browser requests until it is sent to sign-in. PostgreSQL NOTIFYs
  every instance at commit; the instance that ends a session itself forgets it synchronously.
- **Proxied throughput.** On 2 cores the load generator, the upstream, PostgreSQL and the proxy share the
  CPU, so every microsecond Keygate spends per request (verifying the signed session cookie with HMAC,
  classifying the normalised path, rebuilding headers without any identity header, metrics) shows up as lost
  throughput against a proxy that does none of it. The remaining gap is that work, not I/O: no database
  statement and no Express on this path.
- **Sign-ins per second.** Each sign-in is two HTTP requests through Express (options, verify) and about ten
  statements (session store, challenge consumption, credential and user lookup, counter update, session
  regeneration, audit row, rate-limit counters), plus the software authenticator and the HTTP client running
  in the bench process on the same 2 cores.
- **Upload throughput** is compared with the upstream directly: through Keygate every byte crosses two more
  sockets in user space; memory stays flat (streamed with backpressure, see the RSS figure).

## Notes

- Sign-ins: 8 concurrent workers, each signing in again and again with its own credential (options +
  verify through the real @simplewebauthn/server verification, software authenticator in the bench process).
`;
  return { table, markdown };
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});

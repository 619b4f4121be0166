/**
 * What users would run instead of Keygate, measured beside it (npm run bench, section "peers"):
 * Debian's nginx as a plain reverse proxy (one worker, keep-alive to the upstream, the identity
 * header cleared) and oauth2-proxy v7 (its own sign-in form over an htpasswd file, a session
 * cookie, the user passed upstream in X-Forwarded-User), against the same upstream, taking turns
 * with Keygate in one and in two worker processes.
 *
 * oauth2-proxy is built by `go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6` into
 * ~/.cache/keygate/bin (KEYGATE_CACHE_DIR overrides ~/.cache/keygate); OAUTH2_PROXY points at
 * another binary. Without it (or nginx) the section says which one is missing and leaves it out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, isListening, sleep } from '../test/support/net.js';
import { combine, loadRound, rotated, rssMib, type Load, type Round } from './load.js';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
export const OAUTH2_PROXY =
  process.env.OAUTH2_PROXY ?? path.join(process.env.KEYGATE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'keygate'), 'bin', 'oauth2-proxy');

export interface Peer {
  name: string;
  base: string;
  pid: number;
  /** Count the CPU and memory of the process's direct children too (nginx's worker). */
  tree: boolean;
  /** Headers every request to it carries (its session cookie). */
  headers: Record<string, string>;
  child: ChildProcess;
}

async function waitListening(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await isListening(port)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within 10 s`);
}

/**
 * nginx in the foreground: one worker, keep-alive to the upstream, X-WEBAUTH-USER from a client
 * cleared; with `passIdentity`, passed on as sent (the real-Gogs section's reference, which sends
 * Gogs the header itself, as its bare proxy does).
 */
export async function startNginx(upstreamPort: number, opts: { passIdentity?: boolean } = {}): Promise<Peer> {
  if (!existsSync(NGINX)) throw new Error(`no nginx at ${NGINX}: apt-get install -y nginx`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-bench-nginx-'));
  const port = await freePort();
  const conf = [
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`),
    `  upstream gogs { server 127.0.0.1:${upstreamPort}; keepalive 64; }`,
    `  server {`,
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      proxy_pass http://gogs;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    ...(opts.passIdentity ? [] : ['      proxy_set_header X-WEBAUTH-USER "";']),
    '      proxy_set_header X-Forwarded-For $remote_addr;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn(
    NGINX,
    ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log ${path.join(dir, 'error.log')};`],
    {
      stdio: 'ignore',
    },
  );
  // Its folder goes with it; an nginx that does not come up is stopped before the error is thrown.
  child.once('exit', () => void rm(dir, { recursive: true, force: true }));
  try {
    await waitListening(port, child, 'nginx');
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return { name: 'nginx', base: `http://127.0.0.1:${port}`, pid: child.pid!, tree: true, headers: {}, child };
}

/**
 * oauth2-proxy with a local htpasswd user, signed in through its own form (POST /oauth2/sign_in):
 * the session cookie it sets is what every measured request carries. The GitHub provider is
 * configured only because one must be; it is never contacted (no network is needed).
 */
export async function startOauth2Proxy(upstreamPort: number): Promise<Peer> {
  if (!existsSync(OAUTH2_PROXY)) {
    throw new Error(`no oauth2-proxy at ${OAUTH2_PROXY}: GOBIN=${path.dirname(OAUTH2_PROXY)} go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6`);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-bench-oauth2-proxy-'));
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  // htpasswd's {SHA} form: base64 of the password's SHA-1 (oauth2-proxy also reads bcrypt).
  await writeFile(path.join(dir, 'htpasswd'), `bench0:{SHA}${createHash('sha1').update(password).digest('base64')}\n`);
  const child = spawn(
    OAUTH2_PROXY,
    [
      `--http-address=127.0.0.1:${port}`,
      `--upstream=http://127.0.0.1:${upstreamPort}/`,
      '--provider=github',
      '--client-id=bench',
      '--client-secret=bench',
      `--cookie-secret=${randomBytes(16).toString('hex')}`,
      '--cookie-secure=false',
      '--email-domain=*',
      `--htpasswd-file=${path.join(dir, 'htpasswd')}`,
      '--display-htpasswd-form=true',
      '--pass-user-headers=true',
      '--request-logging=false',
      '--standard-logging=false',
      '--auth-logging=false',
      `--redirect-url=http://127.0.0.1:${port}/oauth2/callback`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await waitListening(port, child, 'oauth2-proxy').catch((err: Error) => {
    throw new Error(`${err.message}\n${stderr}`);
  });
  const res = await fetch(`http://127.0.0.1:${port}/oauth2/sign_in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'bench0', password, rd: '/' }).toString(),
  });
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (res.status !== 302 || !cookie) throw new Error(`oauth2-proxy sign-in: ${res.status} ${await res.text()}\n${stderr}`);
  const check = await fetch(`http://127.0.0.1:${port}/bench0/repo`, { headers: { cookie } });
  if (check.status !== 200) throw new Error(`oauth2-proxy with its session cookie answered ${check.status}`);
  return { name: 'oauth2-proxy', base: `http://127.0.0.1:${port}`, pid: child.pid!, tree: false, headers: { cookie }, child };
}

export interface PeerTarget {
  name: string;
  base: string;
  pid?: number;
  tree: boolean;
  headers: Record<string, string>;
  /** Worker processes answering (WORKERS), for a case offered a load per worker; 1 if absent. */
  workers?: number;
}

/** The name of the case that gives one and two workers the same offered load (followed by the rate). */
export const FIXED_RATE_CASE = 'signed-in page (2 KB) at';
/** The end of the name of the case that gives each worker the same offered load (one worker the rate, two twice it). */
export const PER_WORKER = 'per worker';

export interface PeerRow {
  case: string;
  target: string;
  load: Load;
  /** Resident memory after the case, MiB (with tree: the process and its direct children). */
  rss: number;
}

/** Each case against every target, taking turns `rounds` times (each first, second, … alike). */
export async function measurePeers(
  targets: PeerTarget[],
  cases: Array<{
    name: string;
    path: string;
    /** A fixed offered load, req/s, instead of as much as each target answers. */
    rate?: number;
    /** A fixed offered load per worker process: a target with `workers` is offered that many times it. */
    ratePerWorker?: number;
  }>,
  seconds: number,
  rounds: number,
): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  for (const c of cases) {
    process.stderr.write(`bench: peers: ${c.name}: ${rounds} rounds of ${targets.map((t) => t.name).join(', ')}…\n`);
    const results = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    for (let i = 0; i < rounds; i++) {
      for (const t of rotated(targets, i))
        results
          .get(t.name)!
          .push(
            await loadRound(
              t.base + c.path,
              { headers: t.headers, rate: c.rate ?? (c.ratePerWorker && c.ratePerWorker * (t.workers ?? 1)) },
              seconds / rounds,
              t.pid,
              t.tree,
            ),
          );
    }
    for (const t of targets) rows.push({ case: c.name, target: t.name, load: combine(results.get(t.name)!), rss: await rssMib(t.pid, t.tree) });
  }
  return rows;
}

/** The peers table: each target's throughput, latency, CPU per request and memory, and Keygate's share of nginx's and oauth2-proxy's. */
export function peersTable(rows: PeerRow[]): string[] {
  const lines = [
    '| case | via | req/s | p50 ms | p99 ms | CPU µs/req | of which kernel | RSS MiB | vs nginx (req/s) | vs nginx (per CPU) | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
  for (const name of [...new Set(rows.map((r) => r.case))]) {
    const of = rows.filter((r) => r.case === name);
    const nginx = of.find((r) => r.target === 'nginx')?.load;
    for (const r of of) {
      const l = r.load;
      const perCpu = nginx ? nginx.cpuUs / l.cpuUs : NaN;
      lines.push(
        `| ${name} | ${r.target} | ${l.rps.toFixed(0)} | ${l.p50} | ${l.p99} | ${Number.isNaN(l.cpuUs) ? '–' : l.cpuUs.toFixed(0)} | ${Number.isNaN(l.systemUs) ? '–' : l.systemUs.toFixed(0)} | ${Number.isNaN(r.rss) ? '–' : r.rss.toFixed(0)} | ${nginx && r.target !== 'direct' ? pct(l.rps / nginx.rps) : '–'} | ${r.target !== 'direct' ? pct(perCpu) : '–'} | ${l.errors + l.non2xx} |`,
      );
    }
  }
  return lines;
}

/** docs/performance.md's section on the peers: the table, and each target of issue 19 judged from it. */
export function peersMarkdown(peers: { rows: PeerRow[]; missing: string[] }, how: string): string {
  const page = (target: string) => peers.rows.find((r) => r.case === 'signed-in page (2 KB)' && r.target === target)?.load;
  const kg = page('keygate');
  const kg2 = page('keygate, WORKERS=2');
  const nginx = page('nginx');
  const o2p = page('oauth2-proxy');
  const atRate = (target: string, perWorker: boolean) =>
    peers.rows.find((r) => r.case.startsWith(FIXED_RATE_CASE) && r.case.endsWith(PER_WORKER) === perWorker && r.target === target);
  const sameLoad = (perWorker: boolean) => {
    const one = atRate('keygate', perWorker);
    const two = atRate('keygate, WORKERS=2', perWorker)?.load;
    return one && two ? ({ case: one.case, one: one.load, two } satisfies SameLoad) : undefined;
  };
  const fixed = sameLoad(false);
  const perWorker = sameLoad(true);
  const pct = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${Math.round(x * 100)}%` : 'not measured');
  const judged = (label: string, target: string, measured: string, met: boolean | undefined) =>
    `| ${label} | ${target} | ${measured} | ${met === undefined ? 'not measured' : met ? 'yes' : '**no**'} |`;
  return [
    '## Against what users run instead: nginx and oauth2-proxy',
    '',
    `${how} Same upstream for all; the targets take turns in every case. nginx: Debian's, one worker,`,
    'keep-alive to the upstream, the identity header cleared (a plain reverse proxy, no sign-in). oauth2-proxy',
    'v7.15.6: its own htpasswd sign-in form, its session cookie on every request, the user passed in',
    '`X-Forwarded-User`. Keygate: its session cookie, the user in `X-WEBAUTH-USER`, in one process and',
    'with `WORKERS=2` (CPU and memory of the main process and both workers). CPU µs/req is the CPU the',
    "proxy's processes used over the requests they answered; \"vs nginx (per CPU)\" is nginx's CPU per request over the target's.",
    `The case "${FIXED_RATE_CASE} … req/s" gives one and two workers the same offered load, half of what one worker answered in the first case, so that their CPU per request is for the same work with a core to spare; the last ("… req/s ${PER_WORKER}") gives each worker process the same load, a quarter of what one worker answered (one worker that rate, two workers twice it), so that each process wakes as often with as many requests waiting as the single worker does.`,
    '',
    ...peersTable(peers.rows),
    '',
    ...(peers.missing.length ? ['Not measured in this run:', ...peers.missing.map((m) => `- ${m.split('\n')[0]}`), ''] : []),
    '| figure (signed-in page) | target | measured | met |',
    '|---|---|---|---|',
    judged('Keygate vs oauth2-proxy, req/s', '≥ 100% (must)', o2p && kg ? pct(kg.rps / o2p.rps) : 'not measured', o2p && kg ? kg.rps >= o2p.rps : undefined),
    judged(
      'Keygate vs nginx, per CPU',
      '≥ 75% (stretch)',
      nginx && kg ? pct(nginx.cpuUs / kg.cpuUs) : 'not measured',
      nginx && kg ? nginx.cpuUs / kg.cpuUs >= 0.75 : undefined,
    ),
    judged(
      'Keygate p99 vs nginx p99',
      '≤ nginx + 2 ms',
      nginx && kg ? `${kg.p99} ms vs ${nginx.p99} ms` : 'not measured',
      nginx && kg ? kg.p99 <= nginx.p99 + 2 : undefined,
    ),
    judged(
      'CPU per request, WORKERS=2 vs 1, at the same offered load (half of what one worker answers)',
      'within 10%',
      fixed ? `${fixed.two.cpuUs.toFixed(0)} vs ${fixed.one.cpuUs.toFixed(0)} µs (${pct(fixed.two.cpuUs / fixed.one.cpuUs)})` : 'not measured',
      fixed ? fixed.two.cpuUs <= fixed.one.cpuUs * 1.1 : undefined,
    ),
    judged(
      'CPU per request, WORKERS=2 vs 1, each worker given the same load (a quarter of what one worker answers)',
      'within 10%',
      perWorker
        ? `${perWorker.two.cpuUs.toFixed(0)} vs ${perWorker.one.cpuUs.toFixed(0)} µs (${pct(perWorker.two.cpuUs / perWorker.one.cpuUs)})`
        : 'not measured',
      perWorker ? perWorker.two.cpuUs <= perWorker.one.cpuUs * 1.1 : undefined,
    ),
    judged(
      'CPU per request, WORKERS=2 vs 1, each as fast as it answers',
      'within 10%',
      kg && kg2 ? `${kg2.cpuUs.toFixed(0)} vs ${kg.cpuUs.toFixed(0)} µs (${pct(kg2.cpuUs / kg.cpuUs)})` : 'not measured',
      kg && kg2 ? kg2.cpuUs <= kg.cpuUs * 1.1 : undefined,
    ),
    judged('throughput, WORKERS=2 vs 1', 'more (2 cores)', kg && kg2 ? pct(kg2.rps / kg.rps) : 'not measured', kg && kg2 ? kg2.rps > kg.rps : undefined),
    '',
    ...(kg && nginx ? peersWhy(kg, nginx, o2p, kg2, fixed, perWorker) : []),
  ].join('\n');
}

/** Why Keygate is where it is against nginx, from this run's figures and the profile named in it. */
type SameLoad = { case: string; one: Load; two: Load };

function peersWhy(kg: Load, nginx: Load, o2p: Load | undefined, kg2: Load | undefined, fixed: SameLoad | undefined, perWorker: SameLoad | undefined): string[] {
  const user = (l: Load) => l.cpuUs - l.systemUs;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  return [
    'Why, where a figure misses its target:',
    '',
    `- **Per CPU against nginx.** The CPU per request splits (from /proc, user and system time) into the kernel's part and the process's own: nginx ${nginx.cpuUs.toFixed(0)} µs = ${nginx.systemUs.toFixed(0)} in the kernel + ${user(nginx).toFixed(0)} in nginx; Keygate ${kg.cpuUs.toFixed(0)} µs = ${kg.systemUs.toFixed(0)} + ${user(kg).toFixed(0)}${o2p ? `; oauth2-proxy ${o2p.cpuUs.toFixed(0)} µs = ${o2p.systemUs.toFixed(0)} + ${user(o2p).toFixed(0)}` : ''}. The kernel's part, the same reads and writes on the same sockets, is about the same for nginx and Keygate; the other half of Keygate's cost is all in user space. A CPU profile of Keygate during this section (\`BENCH_ONLY=proxy BENCH_KEYGATE_NODE_ARGS="--cpu-prof …"\`, 2026-12-03), its JavaScript and V8 self time without the socket calls: undici, the client to the upstream, 32% (building and validating the request's headers, the WASM HTTP parser, its handler calls); Node's HTTP server, sockets, streams, events and timers (on both sides) about 45%; garbage collection 6%; Keygate's own code (path classification, the session cache, header lists, request ids, metrics) about 8%. What Keygate checks is a small part of it; what it costs is being an HTTP server and an HTTP client in JavaScript, per request, which nginx does in C in ${user(nginx).toFixed(0)} µs. The stretch target would need Keygate's user-space part under ${Math.max(0, nginx.cpuUs / 0.75 - kg.systemUs).toFixed(0)} µs: not reachable with Node's HTTP stack; more cores are (\`WORKERS\`).`,
    ...(kg2 && (kg2.cpuUs > kg.cpuUs * 1.1 || kg2.rps <= kg.rps || [fixed, perWorker].some((f) => f && f.two.cpuUs > f.one.cpuUs * 1.1))
      ? [
          `- **WORKERS=2.** Each as fast as it answers, the two cores are full either way: Keygate used ${((kg.cpuUs * kg.rps) / 1e6).toFixed(2)} cores with one worker and ${((kg2.cpuUs * kg2.rps) / 1e6).toFixed(2)} with two, and the load generator (autocannon, in the bench process) and the upstream took the rest. A second worker has no free core to run on here, so it adds little or nothing (two workers answered ${Math.round((kg2.rps / kg.rps) * 100)}% of one's requests per second), and its CPU per request (${pct(kg2.cpuUs / kg.cpuUs)} of one worker's) ${kg2.cpuUs > kg.cpuUs * 1.05 ? 'grows with the switches between more busy processes on the same cores' : 'stays about the same'}. ${fixed ? `Given the same offered load with a core to spare (${fixed.case}), two workers used ${pct(fixed.two.cpuUs / fixed.one.cpuUs)} of one worker's CPU per request (${fixed.two.cpuUs.toFixed(0)} vs ${fixed.one.cpuUs.toFixed(0)} µs): each of the two gets half the requests, so it finds fewer waiting each time it wakes, and a wake-up costs the same however many it finds (on this virtual machine, tens of microseconds of kernel time). ${fixed.one.cpuUs > kg.cpuUs * 1.05 ? 'One worker given that load is above its own saturated figure for the same reason. ' : ''}` : ''}${perWorker ? `Given each worker the same load instead (${perWorker.case}: one worker ${perWorker.one.rps.toFixed(0)} req/s, two ${perWorker.two.rps.toFixed(0)}), so that each process wakes as often with as many requests, two workers used ${pct(perWorker.two.cpuUs / perWorker.one.cpuUs)} of one worker's CPU per request (${perWorker.two.cpuUs.toFixed(0)} vs ${perWorker.one.cpuUs.toFixed(0)} µs, the main process included): ${perWorker.two.cpuUs <= perWorker.one.cpuUs * 1.1 ? 'what a second worker adds per request is within the 10% the issue allows' : 'more than the 10% the issue allows, with each process doing the same work per wake-up'}. ` : ''}This machine cannot show the scaling: that needs the load generated elsewhere (the workers' sharing of the port, the session cache kept exact by NOTIFY, summed metrics and shutdown are tested in test/workers.test.ts).`,
        ]
      : []),
    ...(kg.p99 > nginx.p99 + 2
      ? [
          `- **p99 against nginx.** Every target is driven with the same 32 connections, so a saturated target's latency follows its throughput (Little's law: mean latency ≈ connections ÷ throughput, here ${((32 / kg.rps) * 1000).toFixed(1)} ms for Keygate and ${((32 / nginx.rps) * 1000).toFixed(1)} ms for nginx); Keygate's p99 is above nginx's + 2 ms by as much as its throughput is below nginx's, not because some requests stall: its p99 is ${(kg.p99 / Math.max(kg.p50, 0.5)).toFixed(1)}× its p50, nginx's ${(nginx.p99 / Math.max(nginx.p50, 0.5)).toFixed(1)}×.`,
        ]
      : []),
    '',
  ];
}

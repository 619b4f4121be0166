/**
 * The real Gogs 0.14.3 behind Keygate (npm run bench, section "gogs"): a repository's page, as
 * Gogs renders it for a signed-in person, and the assets that page loads, straight to Gogs and
 * through Keygate, taking turns. Gogs (test/support/real-gogs: the shipped app.ini, SQLite) trusts
 * the identity header from 127.0.0.1, so the direct requests carry it and Gogs does the same work
 * for both: the difference is what Keygate adds.
 */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { pageAssets } from '../test/support/real-gogs/page-assets.js';
import { startRealGogs, type RealGogs } from '../test/support/real-gogs/start.js';
import { freePort } from '../test/support/net.js';
import http from 'node:http';
import { combine, cpuSeconds, exactCpuSeconds, median, rotated, treeCpuSeconds, type Load } from './load.js';

/** One way to Gogs: its address, the headers every request carries, and the process (tree: with its children) whose CPU is counted. */
interface Target {
  name: RealGogsTarget;
  base: string;
  headers: Record<string, string>;
  pid: number | undefined;
  tree?: boolean;
}

const cpuOf = (t: Target) => (t.tree ? treeCpuSeconds(t.pid) : cpuSeconds(t.pid));

/**
 * Connections for this section (BENCH_GOGS_CONNECTIONS, default 8): Gogs renders a repository page
 * in tens of milliseconds of CPU, so 32 connections would only queue at Gogs and hide any latency
 * Keygate adds.
 */
export const GOGS_CONNECTIONS = Number(process.env.BENCH_GOGS_CONNECTIONS ?? 8);

/**
 * Requests sent one at a time (BENCH_GOGS_SEQUENTIAL per case and target, default 150), the targets
 * in turn: the latency a person sees, with nothing queued behind Gogs.
 */
export const GOGS_SEQUENTIAL = Number(process.env.BENCH_GOGS_SEQUENTIAL ?? 150);

export type RealGogsTarget = 'direct' | 'nginx' | 'bare proxy' | 'keygate';

export interface RealGogsRow {
  case: string;
  target: RealGogsTarget;
  load: Load;
  /**
   * One request at a time: the median latency, the proxy's CPU per request (NaN for direct), and
   * the added latency: the median of its differences with the direct request of the same turn.
   */
  single: { p50: number; cpuUs: number; added: number };
}

export interface RealGogsBench {
  gogs: RealGogs;
  /** Where Keygate must serve (Gogs' EXTERNAL_URL). */
  keygatePort: number;
  origin: string;
}

/** Gogs, told Keygate's address before Keygate starts; its user and repository made. */
export async function startBenchGogs(user: string): Promise<RealGogsBench & { repo: string }> {
  const keygatePort = await freePort();
  const origin = `http://localhost:${keygatePort}`;
  const gogs = await startRealGogs({ publicUrl: origin, trustedProxyIps: '127.0.0.1/32' });
  await gogs.createUser(user);
  const res = await fetch(`${gogs.url}/api/v1/admin/users/${user}/repos`, {
    method: 'POST',
    headers: { authorization: `token ${gogs.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'project', auto_init: true, readme: 'Default', gitignores: 'Node', license: 'MIT License' }),
  });
  if (res.status !== 201) throw new Error(`bench: creating the repository in Gogs: ${res.status} ${await res.text()}`);
  return { gogs, keygatePort, origin, repo: `/${user}/project` };
}

/**
 * The page and its assets (autocannon cycling through them), ROUNDS times, direct, through the bare
 * Node proxy and through Keygate in turn; then the same requests one at a time. Gogs' own CPU per
 * request is reported too: it is the bottleneck they all share. nginx (peers.ts), where installed,
 * is measured beside them: what a proxy in C reaches on the same machine.
 */
export async function measureRealGogs(opts: {
  gogs: RealGogs;
  gogsPid: number | undefined;
  keygate: ChildProcess;
  keygateBase: string;
  /** The bare Node proxy (bare-proxy.ts) in front of the same Gogs: what any Node proxy costs here. */
  bare: { base: string; pid: number | undefined };
  /** nginx in front of the same Gogs, passing the identity header on (peers.ts), where installed: what a proxy in C costs here. */
  nginx?: { base: string; pid: number | undefined };
  cookie: string;
  user: string;
  repo: string;
  seconds: number;
  rounds: number;
}): Promise<{ rows: RealGogsRow[]; assets: string[]; gogsCpuUs: Record<string, number> }> {
  const direct = { 'X-WEBAUTH-USER': opts.user };
  const page = await fetch(`${opts.gogs.url}${opts.repo}`, { headers: direct });
  const html = await page.text();
  if (page.status !== 200 || !html.includes(`Signed in as <strong>${opts.user}</strong>`)) {
    throw new Error(`bench: Gogs did not render ${opts.repo} for ${opts.user} (${page.status})`);
  }
  const assets = pageAssets(html);
  if (!assets.length) throw new Error('bench: found no assets on the repository page');
  const cases = [
    { name: 'repository page (real Gogs)', paths: [opts.repo] },
    { name: `its ${assets.length} assets (real Gogs)`, paths: assets },
  ];
  // nginx and the bare proxy pass the identity header on, so they carry it as "direct" does.
  const targets: Target[] = [
    { name: 'direct', base: opts.gogs.url, headers: direct, pid: undefined },
    ...(opts.nginx ? [{ name: 'nginx' as const, base: opts.nginx.base, headers: direct, pid: opts.nginx.pid, tree: true }] : []),
    { name: 'bare proxy', base: opts.bare.base, headers: direct, pid: opts.bare.pid },
    { name: 'keygate', base: opts.keygateBase, headers: { cookie: opts.cookie }, pid: opts.keygate.pid },
  ];
  const rows: RealGogsRow[] = [];
  const gogsCpuUs: Record<string, number> = {};
  for (const c of cases) {
    // Warm every path (Gogs' template cache, the proxies' JIT and connections).
    for (const t of targets) await load(t.base, c.paths, t.headers, 2);
    const rounds = new Map<string, Array<Awaited<ReturnType<typeof load>>>>(targets.map((t) => [t.name, []]));
    process.stderr.write(`bench: ${c.name}: ${opts.rounds} rounds, ${targets.map((t) => t.name).join(', ')} in turn…\n`);
    for (let i = 0; i < opts.rounds; i++) {
      for (const t of rotated(targets, i)) {
        const before = [await cpuOf(t), await cpuSeconds(opts.gogsPid)];
        const r = await load(t.base, c.paths, t.headers, opts.seconds / opts.rounds);
        r.cpu = (await cpuOf(t)) - before[0];
        r.gogsCpu = (await cpuSeconds(opts.gogsPid)) - before[1];
        rounds.get(t.name)!.push(r);
      }
    }
    process.stderr.write(`bench: ${c.name}: ${GOGS_SEQUENTIAL} requests one at a time per target…\n`);
    const single = await oneAtATime(targets, c.paths, GOGS_SEQUENTIAL);
    for (const t of targets) {
      const rs = rounds.get(t.name)!;
      rows.push({ case: c.name, target: t.name, load: combine(rs), single: single.get(t.name)! });
      gogsCpuUs[`${c.name}/${t.name}`] =
        (rs.reduce((n, r) => n + r.gogsCpu, 0) /
          Math.max(
            1,
            rs.reduce((n, r) => n + r.requests, 0),
          )) *
        1e6;
    }
  }
  return { rows, assets, gogsCpuUs };
}

/**
 * n requests per target, one at a time over one keep-alive connection each, the targets taking
 * turns request by request (so a slow moment of Gogs falls on all alike), cycling through paths.
 * The proxy's CPU is read around each of its requests.
 */
async function oneAtATime(targets: readonly Target[], paths: string[], n: number): Promise<Map<RealGogsTarget, { p50: number; cpuUs: number; added: number }>> {
  const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
  const get = (t: (typeof targets)[number], path: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      http
        .get(t.base + path, { agent: agents.get(t.name), headers: t.headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`bench: ${t.name} ${path}: ${res.statusCode}`));
          res.resume();
          res.on('end', () => resolve(performance.now() - started));
        })
        .on('error', reject);
    });
  const latencies = new Map<RealGogsTarget, number[]>(targets.map((t) => [t.name, []]));
  const cpu = new Map<RealGogsTarget, number>(targets.map((t) => [t.name, 0]));
  try {
    for (const t of targets) for (const path of paths) await get(t, path);
    for (let i = 0; i < n; i++) {
      const path = paths[i % paths.length];
      for (const t of rotated(targets, i)) {
        const before = await exactCpuSeconds(t.pid, t.tree);
        latencies.get(t.name)!.push(await get(t, path));
        cpu.set(t.name, cpu.get(t.name)! + (await exactCpuSeconds(t.pid, t.tree)) - before);
      }
    }
  } finally {
    for (const agent of agents.values()) agent.destroy();
  }
  // Paired: each request against the direct one of the same turn (same path, next to it in time),
  // so a slow stretch of Gogs falls on both sides of a difference.
  const direct = latencies.get('direct')!;
  const added = (t: RealGogsTarget) => median(latencies.get(t)!.map((ms, i) => ms - direct[i]));
  return new Map(
    targets.map((t) => [t.name, { p50: median(latencies.get(t.name)!), cpuUs: t.pid ? (cpu.get(t.name)! / n) * 1e6 : NaN, added: added(t.name) }]),
  );
}

async function load(base: string, paths: string[], headers: Record<string, string>, seconds: number) {
  const result = await autocannon({
    url: base,
    connections: GOGS_CONNECTIONS,
    duration: seconds,
    headers,
    requests: paths.map((path) => ({ method: 'GET' as const, path })),
  });
  return {
    requests: result.requests.total,
    seconds: result.duration,
    cpu: 0,
    gogsCpu: 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export function realGogsMarkdown(
  r: { rows: RealGogsRow[]; assets: string[]; gogsCpuUs: Record<string, number> },
  how: string,
  /** Keygate's CPU per proxied request in the proxy section (32 connections, the trivial upstream). */
  busyCpuUs: number,
): string {
  const lines = [
    '## Against the real Gogs',
    '',
    how,
    '',
    '| case | via | req/s | p50 ms | p99 ms | vs direct | proxy CPU µs/req | Gogs CPU µs/req | one at a time: p50 ms | added p50 ms | proxy CPU µs/req | errors, non-2xx |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const targets: string[] = [];
  const maybe = (c: string, t: RealGogsTarget) => r.rows.find((x) => x.case === c && x.target === t);
  const of = (c: string, t: RealGogsTarget) => maybe(c, t)!;
  const us = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
  for (const row of r.rows) {
    const direct = of(row.case, 'direct');
    const l = row.load;
    const proxied = row.target !== 'direct';
    const added = row.single.added;
    lines.push(
      `| ${row.case} | ${row.target} | ${l.rps.toFixed(0)} | ${l.p50} | ${l.p99} | ${((l.rps / direct.load.rps) * 100).toFixed(0)}% | ${us(l.cpuUs)} | ${us(r.gogsCpuUs[`${row.case}/${row.target}`] ?? NaN)} | ${row.single.p50.toFixed(2)} | ${proxied ? added.toFixed(2) : '–'} | ${us(row.single.cpuUs)} | ${l.errors}, ${l.non2xx} |`,
    );
    if (row.target === 'keygate') {
      const ratio = l.rps / direct.load.rps;
      // What the proxies that check nothing reach in the same run: the machine's own limit.
      const others = (['nginx', 'bare proxy'] as const).flatMap((t) => {
        const o = maybe(row.case, t);
        return o ? [{ t, rps: `${((o.load.rps / direct.load.rps) * 100).toFixed(0)}%`, added: `${o.single.added.toFixed(2)} ms` }] : [];
      });
      const besides = (k: 'rps' | 'added') => (others.length ? ` (${others.map((o) => `${o.t} ${o[k]}`).join(', ')})` : '');
      targets.push(
        `| ${row.case}: throughput (${GOGS_CONNECTIONS} connections) | ≥ 90% of direct | ${(ratio * 100).toFixed(0)}%${besides('rps')} | ${ratio >= 0.9 ? 'yes' : '**no**'} |`,
      );
      targets.push(
        `| ${row.case}: added p50 latency (one at a time) | ≤ 1 ms | ${added.toFixed(2)} ms${besides('added')} | ${added <= 1 ? 'yes' : '**no**'} |`,
      );
    }
  }
  lines.push('', '| figure | target | measured | met |', '|---|---|---|---|', ...targets, '');
  lines.push(`The assets are those the repository page loads (${r.assets.length}): ${r.assets.map((a) => `\`${a}\``).join(', ')}.`, '');
  const [pageCase, assetCase] = [...new Set(r.rows.map((x) => x.case))];
  const pageK = of(pageCase, 'keygate');
  const pageB = of(pageCase, 'bare proxy');
  const pageD = of(pageCase, 'direct');
  const assetK = of(assetCase, 'keygate');
  const assetB = of(assetCase, 'bare proxy');
  const assetD = of(assetCase, 'direct');
  const assetN = maybe(assetCase, 'nginx');
  const pageN = maybe(pageCase, 'nginx');
  const pct = (a: Load, b: Load) => `${((a.rps / b.rps) * 100).toFixed(0)}%`;
  const relative = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  lines.push(
    'How to read it:',
    '',
    `- **Added latency** is taken one request at a time (${GOGS_SEQUENTIAL} per case and target, the targets in turn request by request): with ${GOGS_CONNECTIONS} connections every request also waits behind the others at Gogs, and whatever CPU a proxy takes from the 2 cores Gogs needs comes back as queueing, many times over (the loaded p50 column). The added latency is the median of the differences between each request and the direct request of the same turn (the same path, next to it in time). One at a time, Keygate added ${pageK.single.added.toFixed(2)} ms to the page (the bare Node proxy ${pageB.single.added.toFixed(2)} ms) and ${assetK.single.added.toFixed(2)} ms to an asset (bare ${assetB.single.added.toFixed(2)} ms)${pageN && assetN ? `; nginx ${pageN.single.added.toFixed(2)} ms and ${assetN.single.added.toFixed(2)} ms, with ${us(pageN.single.cpuUs)} and ${us(assetN.single.cpuUs)} µs of its CPU per request (next point)` : ''}. Gogs renders the page in about ${pageD.single.p50.toFixed(0)} ms (it runs git for the last commit, the README and the licence), and its time varies by milliseconds from one request to the next, so the page's figure moves by about a millisecond between runs. That the bare proxy, which does nothing, also adds more to the page than to an asset fits what happens on 2 cores: while Gogs and its git processes render, both cores are busy, and the proxy's process waits for one to pass each piece of the answer on; with a core to spare (or Gogs on its own machine) that wait goes. The assets' figure is the steadier measure of what Keygate itself adds. Where a Node proxy's extra time goes one at a time, profiled by hand (2026-12-04, \`perf\` on the bare proxy against this Gogs): at a few requests a second its JavaScript runs largely in V8's baseline tier (its inline-cache builtins lead the profile), with V8's concurrent marking beside it; \`--single-threaded\`, \`--no-memory-reducer\` and \`--no-parallel-scavenge --no-concurrent-marking\` each left its CPU per request and its added latency where they were (1.55–1.80 ms of CPU per request with or without them).`,
    `- **Proxy CPU per request** is far above the ${us(busyCpuUs)} µs Keygate spends on a request in the proxy section above (32 connections), for the bare proxy too (one at a time, from the scheduler's own nanosecond count of each thread, /proc/pid/task/*/schedstat; bare proxy vs Keygate: page ${us(pageB.single.cpuUs)} vs ${us(pageK.single.cpuUs)} µs, asset ${us(assetB.single.cpuUs)} vs ${us(assetK.single.cpuUs)} µs). At a few requests per second a Node process sleeps between requests and is woken for each, and on this virtual machine each wake-up and each loopback write costs tens to hundreds of microseconds of kernel time that a busy process shares out over many requests. Most of it is the cost of a Node process being woken for each request here, which the bare proxy, checking nothing, pays as well${pageN && assetN ? ` (nginx, woken as often, used ${us(pageN.single.cpuUs)} µs per page and ${us(assetN.single.cpuUs)} per asset)` : ''}; Keygate's is ${relative(pageK.single.cpuUs, pageB.single.cpuUs)} (page) and ${relative(assetK.single.cpuUs, assetB.single.cpuUs)} (assets) the bare proxy's one at a time. Under load it used ${relative(assetK.load.cpuUs, assetB.load.cpuUs)} the bare proxy's CPU per asset. Until 2026-12-03 Keygate wrote an empty piece to the browser's socket each time it resumed a paused response (undici hands one over on resume), usually followed by another pause: twice the bare proxy's socket writes per asset (strace: 10.3 against 5.7) and about twice its CPU. It now skips them (6.0 writes per asset, the bare proxy 5.7; test/proxy.test.ts checks a slowly read download makes no empty write). What is left varies from run to run and is V8's garbage collection of Keygate's larger heap, not its request path: measured by hand against this Gogs (2026-12-04, \`--trace-gc\`, \`perf\`), a Keygate that answered the assets in about the bare proxy's CPU (380–500 µs) made no full collection, and one that used 1.5–2× made 10–100 full (mark-compact) collections in a few seconds, each marking its 26 MB heap while freeing about 2 MB (half its CPU in \`perf\` was V8's marking); the bare proxy's 5 MB heap was not collected that way once. One at a time it is the same: Keygate made 5–8 full collections per 280 assets, each marking its heap to free about 1 MB, and the bare proxy none. What starts them is V8 counting the external memory allocated since the last full collection against the old generation's room: a socket read allocates a 64 KB buffer outside V8's heap, a proxy allocates them as fast as bytes arrive, and only a collection frees them; so bytes passing through start full collections of the whole heap, and the larger the heap, the more each costs. The trace (\`--trace-gc --trace-incremental-marking\`, 2026-12-04) shows one every 50–80 ms under load, each started on "allocation limit" while the heap itself was 15 MB under its limit. Counted over this section (2026-12-04, a PerformanceObserver for \`gc\` in Keygate): 199 full collections with no flag, 197 with \`--max-semi-space-size=8\`, 284 (and more CPU) with \`--max-semi-space-size=1\`; earlier tries of \`--max-semi-space-size=2\` and \`--heap-growing-percent=100\` did no better, so Keygate sets no V8 flag. The rest is undici: it copies every byte it receives into its WebAssembly parser's memory before parsing it (lib/dispatcher/client-h1.js), where Node's \`http.request\`, the bare proxy's client, parses the socket's buffer in place. For small pages undici is the cheaper client (the proxy section); for files of hundreds of kilobytes the copy shows.`,
    `- **Throughput.** The page: Gogs is the bottleneck (about ${us(r.gogsCpuUs[`${pageCase}/direct`] ?? NaN)} µs of its CPU per page), and Keygate keeps ${pct(pageK.load, pageD.load)} of direct (the bare proxy ${pct(pageB.load, pageD.load)}${pageN ? `, nginx ${pct(pageN.load, pageD.load)}` : ''}). The assets: Gogs serves a static file with about ${us(r.gogsCpuUs[`${assetCase}/direct`] ?? NaN)} µs of CPU; the ${r.assets.length} files average about 340 KB (mermaid.min.js alone is 2.7 MB), so the bytes are the work and Gogs is not the bottleneck this target assumes. Through any proxy each byte is read and written once more by a third process on the same 2 cores: Keygate reaches ${pct(assetK.load, assetD.load)} of direct and the bare proxy ${pct(assetB.load, assetD.load)}, the same limit as the upload figure above${assetN ? `; nginx, a proxy in C that checks nothing, ${pct(assetN.load, assetD.load)} (${us(assetN.load.cpuUs)} µs of its CPU per asset against Keygate's ${us(assetK.load.cpuUs)})${[assetN, assetB, assetK].every((x) => x.load.rps < 0.9 * assetD.load.rps) ? ', so on this machine no proxy reaches 90% of direct on these files' : ''}, and Keygate keeps ${pct(assetK.load, assetN.load)} of what nginx does` : ''}. In a browser these files are cached after the first page.`,
    '',
  );
  return lines.join('\n');
}

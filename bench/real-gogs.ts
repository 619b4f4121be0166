/**
 * The real Gogs 0.14.3 behind Keygate (npm run bench, section "gogs"): a repository's page, as
 * Gogs renders it for a signed-in person, and the assets that page loads, straight to Gogs and
 * through Keygate, taking turns. Gogs (test/support/real-gogs: the shipped app.ini, SQLite) trusts
 * the identity header from 127.0.0.1, so the direct requests carry it and Gogs does the same work
 * for both: the difference is what Keygate adds. Each client keeps the cookies Gogs gives it, as a
 * browser does (withGogsCookies).
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
  // Each target's client keeps the cookies Gogs gives it, as the person's browser does: Gogs' own
  // session (sealed by Keygate on its way), its CSRF and language cookies.
  for (const t of targets) t.headers = await withGogsCookies(t.base, opts.repo, t.headers);
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
 * The headers of a browser that has been given Gogs' cookies: one page is asked for, its
 * Set-Cookie values join the Cookie header, and a second page must set none (Gogs knows the
 * browser's session now).
 */
async function withGogsCookies(base: string, path: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const first = await fetch(base + path, { headers, redirect: 'manual' });
  await first.arrayBuffer();
  const given = first.headers.getSetCookie().map((line) => line.split(';', 1)[0]);
  if (!given.length) throw new Error(`bench: ${base}${path} set no cookie (${first.status})`);
  const withCookies = { ...headers, cookie: [headers.cookie, ...given].filter(Boolean).join('; ') };
  const again = await fetch(base + path, { headers: withCookies, redirect: 'manual' });
  await again.arrayBuffer();
  if (again.status !== 200 || again.headers.getSetCookie().length) {
    throw new Error(`bench: ${base}${path} with its cookies: ${again.status}, set ${again.headers.getSetCookie().join(' | ') || 'none'}`);
  }
  return withCookies;
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
    `- **Each client keeps the cookies Gogs gives it**, as the person's browser does (since 2026-12-04): one page is asked for before the measurement, and its Set-Cookie values (Gogs' session, sealed by Keygate on its way; its CSRF and language cookies) go with every request after; the bench checks that Gogs then sets none. Until then the clients kept no cookie, so every page made Gogs start a new session and Keygate seal its cookie to the Keygate session (an HMAC, gogs-session.ts). A browser carries the sealed cookie back instead, and Keygate rebuilds each distinct Cookie header once (headers.ts), so a person's pages cost no HMAC. With the cookieless clients, the same code measured (2026-12-04, this section alone): page added 1.31 ms (bare proxy 0.64 ms).`,
    `- **Added latency** is taken one request at a time (${GOGS_SEQUENTIAL} per case and target, the targets in turn request by request): with ${GOGS_CONNECTIONS} connections every request also waits behind the others at Gogs, and whatever CPU a proxy takes from the 2 cores Gogs needs comes back as queueing, many times over (the loaded p50 column). The added latency is the median of the differences between each request and the direct request of the same turn (the same path, next to it in time). One at a time, Keygate added ${pageK.single.added.toFixed(2)} ms to the page (the bare Node proxy ${pageB.single.added.toFixed(2)} ms) and ${assetK.single.added.toFixed(2)} ms to an asset (bare ${assetB.single.added.toFixed(2)} ms)${pageN && assetN ? `; nginx ${pageN.single.added.toFixed(2)} ms and ${assetN.single.added.toFixed(2)} ms, with ${us(pageN.single.cpuUs)} and ${us(assetN.single.cpuUs)} µs of its CPU per request (next point)` : ''}. Gogs renders the page in about ${pageD.single.p50.toFixed(0)} ms (it runs git for the last commit, the README and the licence), and its time varies by milliseconds from one request to the next, so the page's figure moves by a few tenths of a millisecond between runs. Why a Node proxy adds more here than nginx: a process woken for one request runs its code cold, and on this virtual machine cold code is many times slower than the same code run often. Measured by hand (2026-12-04, a Node process doing one operation every 25 ms against the same operation in a loop): an HMAC-SHA-256 took 0.09 ms against 4.4 µs, a SHA-256 0.06 ms against 2.6 µs, a \`JSON.stringify\` of 40 small objects 0.031 ms against 4.7 µs. strace of one page request (2026-12-04) put the bare proxy's own time at about 0.5 ms from reading the request to writing it to Gogs, and as much from reading Gogs' answer to writing it to the browser. Keygate's own steps on a page, timed in the process one request at a time (2026-12-04, medians of 150, with cookies kept): 0.02 ms to read the path, 0.016 the session (cached), 0.028 the header list, 0.10–0.12 handing the request to undici (its dispatch included), then on the answer 0.006 the header list (0.10 when it carried a new Gogs session cookie to seal: the cookieless clients above), 0.03 \`writeHead\`, 0.02 to the first piece and 0.03 its write. A bare proxy on undici's dispatch, as Keygate forwards (a throwaway of bench/bare-proxy.ts), added 0.62–0.81 ms, as the \`http.request\` one does, so undici is not the difference; \`perf\` (10 kHz, 2026-12-04) shows both running their JavaScript in V8's baseline tier (inline-cache builtins lead), and Keygate, which runs more of it, used 0.4–0.5 ms more CPU per page than that bare proxy. strace of Keygate and the bare proxy one page at a time (2026-12-05, 40 pages each) gives both the same time of their own, medians of 0.52 and 0.65 ms from the browser's request to its write to Gogs and 0.66 and 0.65 ms from Gogs' answer to the write to the browser; the rest of the difference lies outside the proxy's own steps (Gogs' time for the same page moves by milliseconds from one minute to the next). The same strace found, and Keygate no longer does, a pause of undici on every page over 16 KiB (Node's write says wait above that, even when the kernel took the whole piece) that sent the end of each chunked page in a write of its own, about half a millisecond later. With more targets taking turns each proxy sleeps longer between its requests and adds more (a trial with 7 targets: bare proxy 1.5 ms, Keygate 2.0 ms), which is how much of this figure is a process waking cold. The assets' figure is the steadier measure of what Keygate itself adds.`,
    `- **Proxy CPU per request** is far above the ${us(busyCpuUs)} µs Keygate spends on a request in the proxy section above (32 connections), for the bare proxy too (one at a time, from the scheduler's own nanosecond count of each thread, /proc/pid/task/*/schedstat; bare proxy vs Keygate: page ${us(pageB.single.cpuUs)} vs ${us(pageK.single.cpuUs)} µs, asset ${us(assetB.single.cpuUs)} vs ${us(assetK.single.cpuUs)} µs). At a few requests per second a Node process sleeps between requests and is woken for each, runs its code cold (above), and on this virtual machine each wake-up and each loopback write costs tens to hundreds of microseconds of kernel time that a busy process shares out over many requests${pageN && assetN ? ` (nginx, woken as often, used ${us(pageN.single.cpuUs)} µs per page and ${us(assetN.single.cpuUs)} per asset)` : ''}. Keygate's is ${relative(pageK.single.cpuUs, pageB.single.cpuUs)} (page) and ${relative(assetK.single.cpuUs, assetB.single.cpuUs)} (assets) the bare proxy's one at a time; under load, ${relative(pageK.load.cpuUs, pageB.load.cpuUs)} per page and ${relative(assetK.load.cpuUs, assetB.load.cpuUs)} per asset.`,
    `- **Assets: the asset cache.** Gogs serves these files from its public folder ahead of its sign-in, the same for everyone, with an ETag (test/gogs-contract.test.ts). Keygate keeps their bodies (server/proxy/asset-cache.ts, \`GOGS_ASSET_CACHE_MB\`) and still sends every request to Gogs, asking with the kept ETag; Gogs answers 304 and Keygate sends the kept body, so Gogs spends ${us(r.gogsCpuUs[`${assetCase}/keygate`] ?? NaN)} µs of CPU on an asset through Keygate against ${us(r.gogsCpuUs[`${assetCase}/direct`] ?? NaN)} straight, and the bytes cross from Gogs once. nginx and the bare proxy here pass every byte on (nginx as a plain reverse proxy, as issue 19 defines it; its \`proxy_cache\` would be the same idea). Before the cache (2026-12-04, this section alone) Keygate reached 48% of direct on the assets with 795 µs of its CPU per asset: the files average about 340 KB (mermaid.min.js alone is 2.7 MB), so the bytes were the work, and each was read and written once more by a third process on the same 2 cores (nginx reached 68%, the bare proxy 58%); undici copies every byte it receives into its WebAssembly parser's memory, and the 64 KB socket buffers a proxy allocates as bytes arrive started full garbage collections of Keygate's larger heap (\`--trace-gc\`, 2026-12-04).`,
    `- **Throughput.** The page: Gogs is the bottleneck (about ${us(r.gogsCpuUs[`${pageCase}/direct`] ?? NaN)} µs of its CPU per page), and Keygate keeps ${pct(pageK.load, pageD.load)} of direct (the bare proxy ${pct(pageB.load, pageD.load)}${pageN ? `, nginx ${pct(pageN.load, pageD.load)}` : ''}). The assets: Keygate ${pct(assetK.load, assetD.load)} of direct, the bare proxy ${pct(assetB.load, assetD.load)}${assetN ? `, nginx ${pct(assetN.load, assetD.load)} (${us(assetN.load.cpuUs)} µs of its CPU per asset against Keygate's ${us(assetK.load.cpuUs)})` : ''}. These rows are first visits: a browser that has the files asks with their ETag itself, Keygate passes that request to Gogs untouched, and Gogs answers 304 with no body, through any proxy.`,
    '',
  );
  return lines.join('\n');
}

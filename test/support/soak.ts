/**
 * The soak scenario (issue 8, "Reliability"), shared by `npm run soak` (bench/soak.ts, 10 minutes)
 * and its short CI version (test/soak.test.ts): Keygate as a child process under a bounded mixed
 * load (signed-in page views, sign-ins with a page view each, Keygate's account page, git
 * pass-through with info/refs and upload-pack, one admin revocation halfway) while the resident
 * memory and open file descriptors of the Keygate process are sampled from /proc.
 *
 * Every answer is judged against what the scenario expects of its kind; anything else counts as an
 * unexpected error (a stack trace in a body too). Load is paced (SoakOptions.pauseMs between the
 * requests of each worker) so that it stays bounded on a shared machine.
 */
import { CLI_ACTOR } from '../../server/audit/actor.js';
import type { Db } from '../../server/db/pool.js';
import { endDevice } from '../../server/devices/actions.js';
import { startFakeGogs, type FakeGogs } from './gogs.js';
import { freePort, sleep } from './net.js';
import {
  enrolPerson,
  gitFetch,
  pageView,
  percentile,
  processFootprint,
  signInOnce,
  startChild,
  testPool,
  timed,
  type ChildKeygate,
  type Outcome,
  type Person,
} from './scenario.js';

export interface SoakOptions {
  /** DATABASE_URL Keygate uses (a fresh database: it is migrated by Keygate). */
  databaseUrl: string;
  durationMs: number;
  /** How often RSS and FDs are sampled. */
  sampleMs: number;
  /** Pause between two iterations of one worker. */
  pauseMs?: number;
  /** Page-view workers (each one request per iteration); sign-in, git and account workers are one each. */
  pageWorkers?: number;
  /** Progress lines (e.g. one per sample) go here. */
  progress?: (line: string) => void;
}

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  /** V8 heap in use, from Keygate's own metrics (keygate_nodejs_heap_size_used_bytes). */
  heapMiB: number;
  fds: number;
  requests: number;
}

export interface KindFigures {
  kind: string;
  count: number;
  expected: number;
  unexpected: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
}

export interface SoakResult {
  durationS: number;
  requests: number;
  unexpected: Array<{ kind: string; status: number; error?: string; body: string; t: number }>;
  unexpectedCount: number;
  kinds: KindFigures[];
  samples: Sample[];
  /** From the revocation's commit until the victim's first refused page, and its page answers after. */
  revocation: { atS: number; firstRefusedAfterMs: number | null; servedAfterMs: number[]; refusedAfter: number };
  /** First and last sample after the warm-up (the first fifth), and the range over it. */
  flatness: {
    rssFirstMiB: number;
    rssLastMiB: number;
    rssMinMiB: number;
    rssMaxMiB: number;
    heapFirstMiB: number;
    heapLastMiB: number;
    heapMinMiB: number;
    heapMaxMiB: number;
    fdsFirst: number;
    fdsLast: number;
    fdsMin: number;
    fdsMax: number;
  };
  keygateExited: boolean;
  stderr: string;
  signIns: number;
}

/** How far after the revocation a page already in flight may still be served (the NOTIFY's trip). */
const REVOCATION_GRACE_MS = 1_000;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const pauseMs = opts.pauseMs ?? 20;
  const gogs: FakeGogs = await startFakeGogs();
  let kg: ChildKeygate | undefined;
  let db: Db | undefined;
  try {
    // warn: at info every request is a log line, which the parent would keep for ten minutes.
    const metricsPort = await freePort();
    kg = await startChild(opts.databaseUrl, gogs, { LOG_LEVEL: 'warn', METRICS_PORT: String(metricsPort) });
    const heapMiB = async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      const used = /^keygate_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
      return used ? Math.round((Number(used) / 1048576) * 10) / 10 : 0;
    };
    db = testPool(opts.databaseUrl);
    const people: Person[] = [];
    for (const name of ['ana', 'ben', 'cai', 'dee']) people.push(await enrolPerson(db, kg, gogs, name));
    const victim = await enrolPerson(db, kg, gogs, 'vic');
    const pid = kg.app.child.pid!;

    const latencies = new Map<string, number[]>();
    const counts = new Map<string, { count: number; expected: number }>();
    const unexpected: SoakResult['unexpected'] = [];
    let unexpectedCount = 0;
    let requests = 0;
    let signIns = 0;
    const started = Date.now();
    const t = (at: number) => (at - started) / 1000;
    /** When the revocation was started, and when it had committed. */
    let revokingAt: number | undefined;
    let revokedAt: number | undefined;
    const victimAfter: Outcome[] = [];

    const record = (o: Outcome, ok: boolean) => {
      requests++;
      const c = counts.get(o.kind) ?? { count: 0, expected: 0 };
      c.count++;
      if (ok && !o.leaks) c.expected++;
      else {
        unexpectedCount++;
        if (unexpected.length < 50) unexpected.push({ kind: o.kind, status: o.status, error: o.error, body: o.body.slice(0, 200), t: t(o.at) });
      }
      counts.set(o.kind, c);
      const l = latencies.get(o.kind) ?? [];
      if (l.length < 200_000) l.push(o.ms);
      latencies.set(o.kind, l);
    };

    let stop = false;
    const loop = async (fn: () => Promise<void>) => {
      while (!stop) {
        await fn();
        await sleep(pauseMs);
      }
    };
    let n = 0;
    const pick = () => people[n++ % people.length];
    const workers: Array<Promise<void>> = [];
    for (let w = 0; w < (opts.pageWorkers ?? 2); w++) {
      workers.push(
        loop(async () => {
          const p = pick();
          const o = await pageView(kg!, p.client.cookieHeader(), p.name, 'page view');
          record(o, o.status === 200 && o.text.includes(`Signed in as ${p.name}`));
        }),
      );
    }
    workers.push(
      loop(async () => {
        const p = pick();
        const { outcomes, cookie } = await signInOnce(kg!, p);
        for (const o of outcomes) record(o, o.status === 200);
        if (cookie) {
          signIns++;
          const o = await pageView(kg!, cookie, p.name, 'page view (new session)');
          record(o, o.status === 200 && o.text.includes(`Signed in as ${p.name}`));
        }
      }),
      loop(async () => {
        for (const o of await gitFetch(kg!, pick())) record(o, o.status === 200);
      }),
      loop(async () => {
        const p = pick();
        const o = await timed('account page', `${kg!.url}/-/account`, { headers: { cookie: p.client.cookieHeader()! } });
        record(o, o.status === 200);
      }),
      // The victim reads pages until an admin revokes their key halfway; then they must be refused.
      loop(async () => {
        const o = await pageView(kg!, victim.client.cookieHeader(), victim.name, 'page view (revoked halfway)');
        if (revokingAt === undefined || o.at + o.ms < revokingAt) {
          record(o, o.status === 200);
        } else if (revokedAt === undefined || o.at < revokedAt) {
          // Answered while the revocation was being made: either answer is right.
          record(o, o.status === 200 || o.status === 303);
        } else {
          victimAfter.push(o);
          const settled = o.at > revokedAt + REVOCATION_GRACE_MS;
          record(o, o.status === 303 || (!settled && o.status === 200));
        }
        await sleep(pauseMs * 4);
      }),
    );

    const samples: Sample[] = [];
    const sampler = (async () => {
      while (!stop) {
        const f = await processFootprint(pid).catch(() => ({ rssKiB: 0, fds: 0 }));
        const s = { t: Math.round(t(Date.now())), rssMiB: Math.round((f.rssKiB / 1024) * 10) / 10, heapMiB: await heapMiB(), fds: f.fds, requests };
        samples.push(s);
        opts.progress?.(`soak: ${s.t}s rss ${s.rssMiB} MiB, heap ${s.heapMiB} MiB, fds ${s.fds}, requests ${s.requests}, unexpected ${unexpectedCount}`);
        await sleep(opts.sampleMs);
      }
    })();

    await sleep(opts.durationMs / 2);
    revokingAt = Date.now();
    await endDevice(db, victim.credentialId, CLI_ACTOR, { event: 'credential_revoked', reason: 'soak: lost device' });
    revokedAt = Date.now();
    await sleep(opts.durationMs / 2);
    stop = true;
    await Promise.all(workers);
    await sampler;
    const final = await processFootprint(pid).catch(() => ({ rssKiB: 0, fds: 0 }));
    samples.push({ t: Math.round(t(Date.now())), rssMiB: Math.round((final.rssKiB / 1024) * 10) / 10, heapMiB: await heapMiB(), fds: final.fds, requests });

    const kinds = [...counts.entries()].map(([kind, c]) => {
      const l = latencies.get(kind) ?? [];
      return {
        kind,
        count: c.count,
        expected: c.expected,
        unexpected: c.count - c.expected,
        p50ms: Math.round(percentile(l, 50) * 10) / 10,
        p99ms: Math.round(percentile(l, 99) * 10) / 10,
        maxms: Math.round(Math.max(0, ...l)),
      };
    });
    const steady = samples.slice(Math.floor(samples.length / 5));
    const rss = steady.map((s) => s.rssMiB);
    const heap = steady.map((s) => s.heapMiB);
    const fds = steady.map((s) => s.fds);
    const refused = victimAfter.filter((o) => o.status === 303).sort((a, b) => a.at + a.ms - (b.at + b.ms));
    return {
      durationS: t(Date.now()),
      requests,
      unexpected,
      unexpectedCount,
      kinds,
      samples,
      revocation: {
        atS: t(revokedAt),
        firstRefusedAfterMs: refused[0] ? Math.max(0, Math.round(refused[0].at + refused[0].ms - revokedAt)) : null,
        servedAfterMs: victimAfter.filter((o) => o.status === 200).map((o) => Math.round(o.at - revokedAt)),
        refusedAfter: refused.length,
      },
      flatness: {
        rssFirstMiB: rss[0],
        rssLastMiB: rss[rss.length - 1],
        rssMinMiB: Math.min(...rss),
        rssMaxMiB: Math.max(...rss),
        heapFirstMiB: heap[0],
        heapLastMiB: heap[heap.length - 1],
        heapMinMiB: Math.min(...heap),
        heapMaxMiB: Math.max(...heap),
        fdsFirst: fds[0],
        fdsLast: fds[fds.length - 1],
        fdsMin: Math.min(...fds),
        fdsMax: Math.max(...fds),
      },
      keygateExited: kg.app.exit !== undefined,
      stderr: kg.app.unexpectedStderr(),
      signIns,
    };
  } finally {
    await kg?.app.kill();
    await db?.end().catch(() => {});
    await gogs.close();
  }
}

/** The result as a Markdown section (tables), for docs/reliability.md and the console. */
export function soakMarkdown(r: SoakResult, how: string): string {
  const lines = [
    `Run: ${how}; ${Math.round(r.durationS)} s, ${r.requests} requests (${Math.round(r.requests / r.durationS)} per second), ${r.signIns} sign-ins, ` +
      `${r.unexpectedCount} unexpected answers; Keygate ${r.keygateExited ? 'EXITED' : 'kept running'}${r.stderr ? ', wrote to stderr' : ''}.`,
    '',
    '| request | count | as expected | unexpected | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.kinds.map((k) => `| ${k.kind} | ${k.count} | ${k.expected} | ${k.unexpected} | ${k.p50ms} | ${k.p99ms} | ${k.maxms} |`),
    '',
    `Revocation at ${Math.round(r.revocation.atS)} s (an admin revokes vic's key, as \`cli revoke\`): first refused page ${r.revocation.firstRefusedAfterMs ?? 'never'} ms after the commit; ` +
      `${r.revocation.servedAfterMs.length} page(s) sent after the commit were still served (sent ${r.revocation.servedAfterMs.join(', ') || '-'} ms after it, before the NOTIFY arrived), ${r.revocation.refusedAfter} refused.`,
    '',
    `Keygate process after the warm-up (first fifth of the run): RSS ${r.flatness.rssFirstMiB} → ${r.flatness.rssLastMiB} MiB (range ${r.flatness.rssMinMiB}–${r.flatness.rssMaxMiB}), ` +
      `V8 heap in use ${r.flatness.heapFirstMiB} → ${r.flatness.heapLastMiB} MiB (range ${r.flatness.heapMinMiB}–${r.flatness.heapMaxMiB}), open file descriptors ${r.flatness.fdsFirst} → ${r.flatness.fdsLast} (range ${r.flatness.fdsMin}–${r.flatness.fdsMax}).`,
    '',
    '| t (s) | RSS MiB | heap used MiB | open FDs | requests so far |',
    '|---:|---:|---:|---:|---:|',
    ...thin(r.samples, 13).map((s) => `| ${s.t} | ${s.rssMiB} | ${s.heapMiB} | ${s.fds} | ${s.requests} |`),
  ];
  if (r.unexpected.length)
    lines.push(
      '',
      'Unexpected answers (first 50):',
      '',
      ...r.unexpected.map((u) => `- ${u.t.toFixed(1)} s ${u.kind}: ${u.status || u.error} ${JSON.stringify(u.body.slice(0, 120))}`),
    );
  return lines.join('\n');
}

/** At most `n` samples, evenly spread, always with the first and the last. */
function thin<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.round((i * (items.length - 1)) / (n - 1))]);
  return out;
}

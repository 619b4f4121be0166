/**
 * The capacity model (npm run bench, section "capacity"; docs/performance.md "Capacity"): what is
 * measured here, and what the model computes from it and from the other sections' figures.
 *
 * Measured:
 * - the session cache's memory per live session, filling the real SessionCache with 100,000
 *   sessions (in a child process with --expose-gc, heap before and after);
 * - how a revocation reaches 1 and 4 Keygate instances on one PostgreSQL (NOTIFY fan-out), done
 *   in bench/run.ts (fanOutLatency), where the instances run;
 * - the statements per sign-in and PostgreSQL's CPU per sign-in, from the sign-in section.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface CacheMemory {
  entries: number;
  /** Heap growth per cached session, bytes. */
  bytesPerEntry: number;
  totalMiB: number;
}

/** Runs ./capacity-cache.ts in a child with --expose-gc (this process's heap holds the bench). */
export function measureCacheMemory(entries = 100_000): CacheMemory {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/capacity-cache.ts', String(entries)], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out) as CacheMemory;
}

export interface FanOut {
  instances: number;
  /** Time from the session row's deletion until every instance refuses the session, ms. */
  p50: number;
  max: number;
  n: number;
}

export interface CapacityInputs {
  cache: CacheMemory;
  fanOut: FanOut[];
  /** From the sign-in section. */
  signIn: { keygateCpuMs: number; postgresCpuMs: number; statements: number; perSec: number };
  /** Keygate's CPU per signed-in proxied request (µs), from the proxy section. */
  proxyCpuUs: number;
  /** The session cache's cap (SessionCache maxEntries) and TTL (SESSION_CACHE_TTL). */
  cacheMax: number;
  cacheTtlS: number;
}

/** The model's assumptions about people, stated in the document beside the figures. */
export const ASSUMPTIONS = {
  signInsPerPersonPerDay: 2,
  /** Share of a day's sign-ins in the busiest hour (everyone arriving in the morning). */
  peakHourShare: 0.3,
  /** Share of people active (with a request in the last SESSION_CACHE_TTL) at the peak. */
  activeShare: 0.2,
  /** Proxied requests (pages, assets, git) per active person per second at the peak. */
  requestsPerActivePerSec: 0.2,
  /** Live sessions per person (two browsers or machines). */
  sessionsPerPerson: 2,
  /** Audit rows per sign-in (sign-in, plus a share of the other events). */
  auditRowsPerSignIn: 1.2,
  /** One core of Keygate or PostgreSQL, as measured here, counted as fully usable to 70%. */
  usableCoreShare: 0.7,
};

export function capacityMarkdown(c: CapacityInputs, date: string): string {
  const a = ASSUMPTIONS;
  const fan = (n: number) => c.fanOut.find((f) => f.instances === n);
  const rows = [10_000, 100_000, 1_000_000].map((people) => {
    const signInsPerSec = (people * a.signInsPerPersonPerDay * a.peakHourShare) / 3600;
    const active = people * a.activeShare;
    const requestsPerSec = active * a.requestsPerActivePerSec;
    // Every active session misses the cache once per TTL (or always, beyond the cap).
    const cached = Math.min(active, c.cacheMax);
    const missesPerSec = cached / c.cacheTtlS + (active - cached) * a.requestsPerActivePerSec;
    const keygateCores = (signInsPerSec * c.signIn.keygateCpuMs) / 1000 + (requestsPerSec * c.proxyCpuUs) / 1e6;
    // A cache miss is one indexed SELECT: about one sign-in statement's worth of PostgreSQL CPU.
    const pgMsPerStatement = c.signIn.postgresCpuMs / c.signIn.statements;
    const pgCoresFor = (misses: number) => (signInsPerSec * c.signIn.postgresCpuMs + misses * pgMsPerStatement) / 1000;
    const pgCores = pgCoresFor(missesPerSec);
    const cacheMiB = (cached * c.cache.bytesPerEntry) / 2 ** 20;
    const sessionRows = people * a.sessionsPerPerson;
    const auditPerDay = people * a.signInsPerPersonPerDay * a.auditRowsPerSignIn;
    const instances = Math.max(1, Math.ceil(keygateCores / (2 * a.usableCoreShare)));
    const usable = 2 * a.usableCoreShare;
    const keygatePart = instances > 1 ? `Keygate CPU next: ${instances} instances of 2 cores (proxying, not sign-ins)` : 'one 2-core Keygate suffices';
    const first =
      active > c.cacheMax
        ? `the session cache: ${Math.round(active - cached).toLocaleString('en')} active sessions beyond SESSION_CACHE_SIZE read PostgreSQL on every request (${pgCores.toFixed(1)} cores); with SESSION_CACHE_SIZE=${Math.ceil(active).toLocaleString('en')} (${((active * c.cache.bytesPerEntry) / 2 ** 20).toFixed(0)} MiB per instance) PostgreSQL needs ${pgCoresFor(active / c.cacheTtlS).toFixed(2)} cores; ${keygatePart}`
        : pgCores > usable
          ? 'PostgreSQL CPU (sign-ins and cache refreshes): a larger server'
          : instances > 1
            ? `Keygate CPU: ${instances} instances of 2 cores (proxying dominates)`
            : 'none on one 2-core Keygate and one PostgreSQL';
    return `| ${people.toLocaleString('en')} | ${signInsPerSec.toFixed(1)} | ${requestsPerSec.toFixed(0)} | ${keygateCores.toFixed(2)} | ${pgCores.toFixed(2)} | ${cacheMiB.toFixed(1)} (${Math.round(cached).toLocaleString('en')}) | ${sessionRows.toLocaleString('en')} | ${Math.round(auditPerDay).toLocaleString('en')} | ${first} |`;
  });
  const pgSignInsPerCore = 1000 / c.signIn.postgresCpuMs;
  return [
    '## Capacity',
    '',
    `Measured by \`npm run bench\` on ${date} where marked; the rest computed from those figures.`,
    '',
    '| figure | value | how |',
    '|---|---|---|',
    `| session cache, per live session | ${c.cache.bytesPerEntry.toFixed(0)} bytes | measured: the real SessionCache filled with ${c.cache.entries.toLocaleString('en')} sessions, heap before and after (--expose-gc) |`,
    `| session cache at 100k live sessions | ${c.cache.totalMiB.toFixed(1)} MiB | measured (the cache holds at most ${c.cacheMax.toLocaleString('en')} by default; those active in the last ${c.cacheTtlS} s) |`,
    `| statements per sign-in | ${c.signIn.statements.toFixed(1)} | measured (pg_stat_statements, sign-in section) |`,
    `| PostgreSQL CPU per sign-in | ${c.signIn.postgresCpuMs.toFixed(2)} ms (${(c.signIn.postgresCpuMs / c.signIn.statements).toFixed(2)} ms a statement) | measured (all backends' CPU from /proc over the sign-in run) |`,
    `| sign-ins one PostgreSQL core carries | ${pgSignInsPerCore.toFixed(0)}/s; ${(pgSignInsPerCore * 2 * a.usableCoreShare).toFixed(0)}/s on 2 cores at ${a.usableCoreShare * 100}% | computed: 1000 ms ÷ PostgreSQL CPU per sign-in, whatever the number of Keygate instances |`,
    `| Keygate CPU per sign-in; per proxied request | ${c.signIn.keygateCpuMs.toFixed(2)} ms; ${c.proxyCpuUs.toFixed(0)} µs | measured (sign-in and proxy sections) |`,
    ...[1, 4].flatMap((n) => {
      const f = fan(n);
      return f
        ? [
            `| revocation reaching all of ${n} instance${n > 1 ? 's' : ''} (NOTIFY) | p50 ${f.p50.toFixed(1)} ms, max ${f.max.toFixed(1)} ms (n=${f.n}) | measured: the session row deleted on another connection, every instance asked until each refuses |`,
          ]
        : [];
    }),
    '',
    `Where the first bottleneck is. Assumptions: ${a.signInsPerPersonPerDay} sign-ins per person a day, ${a.peakHourShare * 100}% of them in the busiest hour; ${a.activeShare * 100}% of people active at that hour, each making ${a.requestsPerActivePerSec} proxied requests a second; ${a.sessionsPerPerson} live sessions per person; a core counted usable to ${a.usableCoreShare * 100}%.`,
    '',
    '| people | peak sign-ins/s | peak proxied req/s | Keygate cores | PostgreSQL cores | session cache MiB (sessions) | session rows | audit rows a day | first bottleneck |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    "Reading it: sign-ins are rare next to proxied requests, so Keygate's CPU grows with traffic, not with people; " +
      'PostgreSQL sees sign-ins and one indexed read per active session per cache TTL, and nothing for the requests in between. ' +
      'A revocation costs one NOTIFY that every instance hears; the measured fan-out to 4 instances is the same order as to 1. ' +
      'At 1M people the session table (rows above, about 1 KB each) and the audit table want their pruning (SESSION_ABSOLUTE_TIMEOUT, docs/operations.md) and PostgreSQL a machine of its own.',
    '',
  ].join('\n');
}

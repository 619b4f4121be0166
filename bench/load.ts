/**
 * Load rounds for the bench: autocannon against one target, and the CPU that target's process
 * (or process tree) used meanwhile, from /proc (Linux). Shared by bench/run.ts and bench/peers.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';

/** BENCH_CONNECTIONS: concurrent connections of every load round. */
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

export interface Load {
  rps: number;
  /** CPU time (user + system) the process under test spent per request, in microseconds; NaN for direct. */
  cpuUs: number;
  /** Of cpuUs, the microseconds per request spent in the kernel (system time). */
  systemUs: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** CPU seconds a process has used so far, in user space and in the kernel, from /proc (Linux); NaN elsewhere. */
async function cpuSplit(pid: number | string): Promise<{ user: number; system: number }> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based) of /proc/pid/stat, in clock ticks (USER_HZ = 100).
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return NaN;
  const { user, system } = await cpuSplit(pid);
  return user + system;
}

/**
 * CPU seconds a process's threads have run so far, to the nanosecond: the scheduler's own account
 * (/proc/pid/task/tid/schedstat). /proc/pid/stat counts in 10 ms ticks, charged to whatever runs when
 * the tick comes: fine over a loaded run, biased for a process that runs a fraction of a millisecond
 * per request and sleeps in between. Falls back to /proc/pid/stat where schedstat is missing.
 */
export async function exactCpuSeconds(pid: number | undefined, tree = false): Promise<number> {
  if (!pid) return NaN;
  const fromStat = () => (tree ? treeCpuSeconds(pid) : cpuSeconds(pid));
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  let ns = 0;
  for (const tid of tasks) {
    const schedstat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '');
    if (!schedstat) return fromStat();
    ns += Number(schedstat.split(' ')[0]);
  }
  if (!tasks.length) return fromStat();
  let children = 0;
  if (tree) {
    for (const child of await knownChildPids(pid)) {
      const seconds = await exactCpuSeconds(child);
      // A child that exited since the listing: listed again next time, counted nothing now.
      if (Number.isNaN(seconds)) childrenOf.delete(pid);
      else children += seconds;
    }
  }
  return ns / 1e9 + children;
}

/** Children as last listed: exactCpuSeconds runs between paired requests, where a scan of all /proc would part them in time. */
const childrenOf = new Map<number, number[]>();

async function knownChildPids(pid: number): Promise<number[]> {
  let known = childrenOf.get(pid);
  if (!known) childrenOf.set(pid, (known = await childPids(pid)));
  return known;
}

/** The direct children of a process (nginx's worker), from /proc. */
async function childPids(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
  }
  return found;
}

/** CPU seconds used so far by a process and its direct children (nginx's workers, Keygate's WORKERS, PostgreSQL's backends), split. */
async function treeCpuSplit(pid: number | undefined): Promise<{ user: number; system: number }> {
  if (!pid) return { user: NaN, system: NaN };
  const total = await cpuSplit(pid);
  for (const child of await childPids(pid)) {
    const { user, system } = await cpuSplit(child);
    // A child that exited between the listing and the read counts nothing.
    if (Number.isNaN(user)) continue;
    total.user += user;
    total.system += system;
  }
  return total;
}

/** CPU seconds used so far by a process and its direct children (PostgreSQL: the postmaster and its backends). */
export async function treeCpuSeconds(pid: number | undefined): Promise<number> {
  const { user, system } = await treeCpuSplit(pid);
  return user + system;
}

/** The postmaster's pid, from postmaster.pid somewhere under the data directory. */
export async function postmasterPid(dir: string): Promise<number | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.name === 'postmaster.pid')
      return Number((await readFile(path.join(entry.parentPath ?? (entry as { path: string }).path, entry.name), 'utf8')).split('\n')[0]);
  }
  return undefined;
}

/** One round of load against one target: what autocannon saw, and the CPU that process used meanwhile. */
export interface Round {
  requests: number;
  seconds: number;
  cpu: number;
  /** Of cpu, the part spent in the kernel (system time), where measured. */
  systemCpu?: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export async function loadRound(
  url: string,
  opts: { headers?: Record<string, string>; method?: string; body?: string; /** Requests per second in all, instead of as many as answered. */ rate?: number },
  seconds: number,
  pid?: number,
  /** Count the CPU of pid's direct children too (nginx's workers, Keygate's WORKERS). */
  tree = false,
): Promise<Round> {
  const cpuOf = async () => (pid ? (tree ? treeCpuSplit(pid) : cpuSplit(pid)) : { user: NaN, system: NaN });
  const cpuBefore = await cpuOf();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: opts.headers ?? {},
    method: (opts.method ?? 'GET') as 'GET',
    ...(opts.body ? { body: opts.body } : {}),
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  const cpuAfter = await cpuOf();
  return {
    requests: result.requests.total,
    seconds: result.duration,
    cpu: cpuAfter.user + cpuAfter.system - (cpuBefore.user + cpuBefore.system),
    systemCpu: cpuAfter.system - cpuBefore.system,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The list started at its (i mod length)-th item: over length rounds, each item is first, second, … once. */
export const rotated = <T>(items: readonly T[], i: number): T[] => [...items.slice(i % items.length), ...items.slice(0, i % items.length)];

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The rounds of one target as one figure: totals for throughput and CPU, the median round's latencies. */
export function combine(rounds: Round[]): Load {
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0);
  const cpu = rounds.reduce((n, r) => n + r.cpu, 0);
  return {
    rps: requests / Math.max(seconds, 1e-9),
    cpuUs: (cpu / Math.max(requests, 1)) * 1e6,
    systemUs: (rounds.reduce((n, r) => n + (r.systemCpu ?? NaN), 0) / Math.max(requests, 1)) * 1e6,
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
  };
}

/** Resident memory of a process (and, with tree, its direct children), in MiB, from /proc; NaN elsewhere. */
export async function rssMib(pid: number | undefined, tree = false): Promise<number> {
  if (!pid) return NaN;
  const of = async (p: string) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${p}/status`, 'utf8').catch(() => ''))?.[1] ?? 0) / 1024;
  let total = await of(String(pid));
  if (!tree) return total;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += await of(entry);
  }
  return total;
}

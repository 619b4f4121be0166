/** `node dist/main.js` (the compiled server, as production runs it) in its own process, judged by its JSON logs and its exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isListening, sleep } from './net.js';

export { freePort, sleep } from './net.js';

/** The repository root: where `dist/main.js` and `dist/cli.js` are run from (test/run.ts builds them first). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let empty: string | undefined;
/** An empty folder to run processes from: a .env in the checkout or the test's folder is not theirs to read. */
export function emptyFolder(): string {
  if (!empty) {
    const made = mkdtempSync(path.join(os.tmpdir(), 'keygate-cwd-'));
    // Removed with the test file's process: every file that runs Keygate made one, and left it.
    process.once('exit', () => {
      try {
        rmSync(made, { recursive: true, force: true });
      } catch {
        // Left behind: never a reason to fail a file whose tests passed.
      }
    });
    empty = made;
  }
  return empty;
}

/** A clean environment for a child process: only what is given, plus what node needs (PATH, HOME, TMPDIR). */
export function cleanEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env };
}

/**
 * What `server/main.ts` needs to listen on a free loopback port in front of `gogsUrl`, logging at
 * info, besides `env`; and the public URL it will have.
 */
export async function listenEnv(gogsUrl: string, env: Record<string, string> = {}): Promise<{ url: string; env: Record<string, string> }> {
  const port = await freePort();
  const url = `http://localhost:${port}`;
  return { url, env: { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, GOGS_URL: gogsUrl, LOG_LEVEL: 'info' } };
}

/** One JSON log line. */
export type LogLine = Record<string, any>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class MainProcess {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  readonly child: ChildProcess;

  /**
   * Only `env` and what node needs (PATH, HOME, TMPDIR) reach the process. By default it runs
   * `node dist/main.js` of this checkout from a folder of its own (so no .env is picked up);
   * `how` runs another command (e.g. `npm start` in another clone), from another folder, as another user.
   */
  constructor(env: Record<string, string>, how: { command?: string[]; cwd?: string; uid?: number; gid?: number } = {}) {
    const [file, ...args] = how.command ?? [process.execPath, '--enable-source-maps', path.join(ROOT, 'dist', 'main.js')];
    this.child = spawn(file, args, { cwd: how.cwd ?? emptyFolder(), env: cleanEnv(env), uid: how.uid, gid: how.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve((this.exit = { code, signal }))));
  }

  /**
   * stderr without the first-admin block that every start prints while no admin exists
   * (server/main.ts): what is left would be a crash or a warning from node.
   */
  unexpectedStderr(): string {
    return this.stderr.replace(/\n-{72}\n {2}Keygate has no admin yet\.[\s\S]*?\n-{72}\n\n/g, '');
  }

  /** The JSON log lines written so far. */
  logs(): LogLine[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /**
   * Resolves with the first log line whose msg is `match` (or that `match` accepts, described by
   * `what` in errors); rejects if the process exits first or on timeout.
   */
  waitForLog(match: string | ((line: LogLine) => boolean), timeoutMs: number, what = `"${String(match)}"`): Promise<LogLine> {
    const accepts = typeof match === 'string' ? (l: LogLine) => l.msg === match : match;
    return this.poll(() => this.logs().find(accepts), timeoutMs, `${what} log`);
  }

  /**
   * Resolves with stderr once it matches `re`; rejects if the process exits first or on timeout.
   * stdout and stderr are separate pipes: a log line seen on one says nothing of what has reached the other.
   */
  waitForStderr(re: RegExp, timeoutMs: number, what = String(re)): Promise<string> {
    return this.poll(() => (re.test(this.stderr) ? this.stderr : undefined), timeoutMs, `${what} on stderr`);
  }

  /** What `probe` finds, asked every 25 ms; an error naming `what` if the process exits first or on timeout. */
  private async poll<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (this.exit) throw new Error(`exited (${JSON.stringify(this.exit)}) before ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await sleep(25);
    }
  }

  async waitForExit(timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, and the exit it leads to (undefined if it has not gone within 15 s). */
  async stop(): Promise<Exit | undefined> {
    this.child.kill('SIGTERM');
    return this.waitForExit(15_000);
  }

  /** For after hooks: SIGTERM, then SIGKILL if it has not gone within 10 s. */
  async kill(): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGTERM');
    if (await this.waitForExit(10_000)) return;
    this.child.kill('SIGKILL');
    await this.waitForExit(5_000);
  }
}

/** Stops a postmaster a killed test may have left on `port` (its data directory's postmaster.pid). */
export async function stopLeftCluster(pgDir: string, port: number): Promise<void> {
  if (!(await isListening(port))) return;
  const pidFile = path.join(pgDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
    for (let i = 0; i < 100 && (await isListening(port)); i++) await sleep(100);
  }
}

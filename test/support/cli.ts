/**
 * The admin CLI: in-process through runCli (what every command does, without the second or so a
 * process start costs), and once as the real program (`runCliProcess`).
 */
import { spawn } from 'node:child_process';
import { runCli as runCliInProcess } from '../../server/cli.js';
import path from 'node:path';
import { cleanEnv, emptyFolder, ROOT } from './main-process.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The objects of a `--json` listing: one JSON object per line. */

export const jsonLines = (stdout: string): any[] =>
  stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);

/** Runs a CLI command in this process with only `env` as its environment. */
export async function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const clean: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  const code = await runCliInProcess(args, { env: clean, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, signal: null, stdout, stderr };
}

/** Runs the CLI program itself with a clean environment (only `env`, plus what node needs), from `cwd` (default: an empty folder); kills it after 60 s. */
export function runCliProcess(args: string[], env: Record<string, string | undefined>, cwd = emptyFolder()): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', path.join(ROOT, 'dist', 'cli.js'), ...args], {
      cwd,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A CLI run, for assertion messages. */
export const show = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Runs fns at most `limit` at a time (each CLI start costs about a second of CPU). */
export async function limited<T>(limit: number, fns: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(fns.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, fns.length) }, async () => {
      while (next < fns.length) {
        const i = next++;
        results[i] = await fns[i]();
      }
    }),
  );
  return results;
}

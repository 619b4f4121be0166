/**
 * The admin command line: `npm run cli -- <command>` (node dist/cli.js in production). Each
 * command exits non-zero with a clear message on bad input. Help is answered from this file
 * alone; the commands and everything they need (server/cli/commands.ts) load only when one is
 * named.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CliIo } from './cli/io.js';
import { USAGE } from './cli/usage.js';

export type { CliIo } from './cli/io.js';

/**
 * Runs one CLI command and returns its exit code: 0; 2 for bad input or configuration; 1 when
 * something else failed (Gogs refused, the database went away). The reason goes to stderr as
 * one line, never a stack trace. The entry point below is a thin wrapper; the tests call this
 * in-process.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(USAGE);
    return name ? 0 : 2;
  }
  try {
    const { runCommand } = await import('./cli/commands.js');
    return await runCommand(argv, io);
  } catch (err) {
    io.stderr(`keygate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

// Run as a program (`npm run cli`), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runCli(process.argv.slice(2), {
    env: process.env,
    dotenvFile: path.resolve('.env'),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  }).then((code) => process.exit(code));
}

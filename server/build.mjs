// Compiles the server into dist/: one ES module per entry point (dist/main.js, the server;
// dist/cli.js, the admin command line), bundled from server/ by esbuild with the installed
// packages left as imports. Production runs these with plain node: no TypeScript at run time.
// Run: node server/build.mjs (npm run build runs it, with web/build.mjs). With --if-stale it
// does nothing when dist/ is newer than every file under server/ (npm run cli: a few ms).
import { build } from 'esbuild';
import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, 'dist');

/** Whether some source file under server/ (or package.json) is newer than dist/'s oldest entry point. */
async function stale() {
  const built = await Promise.all(
    ['main.js', 'cli.js'].map((f) =>
      stat(join(outdir, f)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  const since = Math.min(...built);
  if (since === 0) return true;
  const sources = (await readdir(join(root, 'server'), { recursive: true })).map((f) => join(root, 'server', f));
  for (const file of [...sources, join(root, 'package.json')]) if ((await stat(file)).mtimeMs > since) return true;
  return false;
}

try {
  if (process.argv.includes('--if-stale') && !(await stale())) process.exit(0);
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, 'server', 'main.ts'), cli: join(root, 'server', 'cli.ts') },
    outdir,
    bundle: true,
    // One copy of the code both entry points share, in dist/chunk-*.js.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
} catch (err) {
  if (!err?.errors) console.error(err);
  process.exitCode = 1;
}

// Bundles the browser scripts and copies the stylesheet into web/dist,
// which the server serves under /-/static/. Run: node web/build.mjs
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolve from this file, so the build works from any working directory.
const webDir = dirname(fileURLToPath(import.meta.url));
const outdir = join(webDir, 'dist');

try {
  await mkdir(outdir, { recursive: true });
  await Promise.all([
    build({
      entryPoints: ['login', 'enroll', 'account', 'admin'].map((name) => join(webDir, 'client', `${name}.ts`)),
      outdir,
      bundle: true,
      format: 'esm',
      target: 'es2020',
      platform: 'browser',
      minify: true,
      sourcemap: 'linked',
      logLevel: 'warning',
    }),
    copyFile(join(webDir, 'static', 'keygate.css'), join(outdir, 'keygate.css')),
  ]);
} catch (err) {
  // esbuild has already printed its own diagnostics; other errors (e.g. a missing CSS file) need printing.
  if (!err?.errors) console.error(err);
  process.exitCode = 1;
}

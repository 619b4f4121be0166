/**
 * Forward-only schema migrations: plain SQL files in db/migrations/, each applied once, in its own
 * transaction, recorded (with a hash, so an edited migration is detected) under an advisory lock so
 * that several instances starting at once do not race. postgres-migrations does exactly this.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { migrate } from 'postgres-migrations';
import { ROOT } from '../root.js';
import type { Db } from './pool.js';

export const MIGRATIONS_DIR = path.join(ROOT, 'db', 'migrations');

/** Applies pending migrations; returns the names of those applied now. */
export async function runMigrations(db: Db): Promise<string[]> {
  const client = await db.connect();
  try {
    // A migration may legitimately take longer than the pool's per-statement limit.
    await client.query('SET statement_timeout = 0');
    const applied = await migrate({ client }, MIGRATIONS_DIR);
    return applied.filter((m) => m.id > 0).map((m) => m.fileName);
  } finally {
    await client.query('RESET statement_timeout').catch(() => {});
    client.release();
  }
}

/** True when every migration file has been applied (for readiness checks). */
export async function migrationsCurrent(db: Db): Promise<boolean> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'));
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM migrations WHERE id > 0');
  return Number(rows[0]?.n ?? 0) >= files.length;
}

import { randomBytes } from 'node:crypto';
import { oneRow, type Db } from '../db/pool.js';

/**
 * The secret that signs session cookies: SESSION_SECRET if set, otherwise one generated on first
 * start and kept in the database, so a restart (or a second instance) keeps every session valid.
 */
export async function loadSessionSecret(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  // Insert-if-absent then read: two instances starting at once agree on one secret.
  await db.query(`INSERT INTO settings (key, value) VALUES ('session_secret', $1) ON CONFLICT (key) DO NOTHING`, [randomBytes(32).toString('base64url')]);
  const { rows } = await db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'session_secret'`);
  return oneRow(rows).value;
}

/**
 * Whom to tell: the person's address. With GOGS_ADMIN_TOKEN, the one they keep in Gogs (asked
 * when the message is sent, so a change there counts at once); else, or when Gogs has none or
 * does not answer, the one given with their invite (users.email). No address: no email.
 */
import type { Queryable } from '../db/pool.js';
import type { GogsAdminApi } from '../gogs/admin-api.js';
import { isValidEmail } from './address.js';

export interface Recipient {
  username: string;
  /** Null when Keygate knows no address for them. */
  email: string | null;
}

export async function recipientOf(db: Queryable, gogs: GogsAdminApi | undefined, userId: string): Promise<Recipient | null> {
  const { rows } = await db.query<{ username: string; email: string | null }>('SELECT username, email FROM users WHERE id = $1', [userId]);
  const row = rows[0];
  if (!row) return null;
  if (gogs) {
    const inGogs = await gogs.findUser(row.username).catch(() => null);
    if (inGogs?.email && isValidEmail(inGogs.email)) return { username: row.username, email: inGogs.email };
  }
  return { username: row.username, email: row.email };
}

/**
 * Whom to tell: the addresses Keygate knows for the person. The one given with their invite
 * (users.email, set by an administrator) and, with GOGS_ADMIN_TOKEN, the one they keep in Gogs
 * (asked when the message is sent): both when they differ. Gogs' alone is not enough: whoever holds
 * the person's session could change it in Gogs' settings and then read what Keygate tells them
 * about their keys. No address: no email.
 */
import type { Queryable } from '../db/pool.js';
import type { GogsAdminApi } from '../gogs/admin-api.js';
import { isValidEmail } from './address.js';

export interface Recipient {
  username: string;
  /** Empty when Keygate knows no address for them; the administrator-given one first. */
  emails: string[];
}

export async function recipientOf(db: Queryable, gogs: GogsAdminApi | undefined, userId: string): Promise<Recipient | null> {
  const { rows } = await db.query<{ username: string; email: string | null }>('SELECT username, email FROM users WHERE id = $1', [userId]);
  const row = rows[0];
  if (!row) return null;
  const emails = row.email ? [row.email] : [];
  if (gogs) {
    const inGogs = await gogs.findUser(row.username).catch(() => null);
    const email = inGogs?.email;
    if (email && isValidEmail(email) && !emails.some((e) => e.toLowerCase() === email.toLowerCase())) emails.push(email);
  }
  return { username: row.username, emails };
}

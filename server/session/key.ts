/**
 * A session is stored under the SHA-256 of its id, never the id itself (as invites keep only a
 * hash of their token). The id is in the browser's signed cookie; the database, the in-process
 * cache and the NOTIFY channel only ever hold its key. Read access to the database (a backup, a
 * replica, a leaked dump) then gives no cookie to ride a session with: the session secret is not
 * enough without an id.
 */
import { createHash } from 'node:crypto';

/** The key a session id is stored under: lower-case hex SHA-256. */
export function sessionKey(sid: string): string {
  return createHash('sha256').update(sid).digest('hex');
}

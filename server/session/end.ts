/**
 * Ending sessions on the server: the rows go, so the next request through any instance is
 * anonymous (other instances hear of it through NOTIFY, see cache.ts). Each function returns the
 * ids of the sessions it ended, so the caller's own instance can forget them at once.
 */
import type { Queryable } from '../db/pool.js';

async function endWhere(db: Queryable, where: string, value: string): Promise<string[]> {
  const { rows } = await db.query<{ sid: string }>(`DELETE FROM session WHERE ${where} RETURNING sid`, [value]);
  return rows.map((r) => r.sid);
}

/** Ends every session a credential signed in (revocation, removal). */
export function endSessionsOfCredential(db: Queryable, credentialId: string): Promise<string[]> {
  return endWhere(db, `sess -> 'auth' ->> 'credentialId' = $1`, credentialId);
}

/** Ends every session of a user (disable, "log out everywhere"). */
export function endSessionsOfUser(db: Queryable, userId: string): Promise<string[]> {
  return endWhere(db, `sess -> 'auth' ->> 'userId' = $1`, userId);
}

/** Ends one session by id (sign-out through Gogs' own sign-out route). */
export async function endSession(db: Queryable, sid: string): Promise<void> {
  await endWhere(db, 'sid = $1', sid);
}

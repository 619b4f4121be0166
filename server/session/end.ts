/** Ending sessions on the server: the row goes, so the next request through any instance is anonymous. */
import type { Queryable } from '../db/pool.js';

/** Ends every session a credential signed in (revocation). */
export async function endSessionsOfCredential(db: Queryable, credentialId: string): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM session WHERE sess -> 'auth' ->> 'credentialId' = $1`, [credentialId]);
  return rowCount ?? 0;
}

/** Ends every session of a user. */
export async function endSessionsOfUser(db: Queryable, userId: string): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM session WHERE sess -> 'auth' ->> 'userId' = $1`, [userId]);
  return rowCount ?? 0;
}

/** Ends one session by id (sign-out through Gogs' own sign-out route). */
export async function endSession(db: Queryable, sid: string): Promise<void> {
  await db.query('DELETE FROM session WHERE sid = $1', [sid]);
}

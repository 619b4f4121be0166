/** A user's signed-in sessions, as the CLI and the admin page show them. */
import type { Queryable } from '../db/pool.js';

export interface SessionSummary {
  /** The first characters of the session id: enough to tell sessions apart, useless to steal. */
  idPrefix: string;
  credentialId: string;
  signedInAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export async function listSessionsOfUser(db: Queryable, userId: string): Promise<SessionSummary[]> {
  const { rows } = await db.query<{ sid: string; auth: { credentialId: string; signedInAt: number; lastSeenAt: number }; expire: Date }>(
    `SELECT sid, sess -> 'auth' AS auth, expire FROM session
      WHERE sess -> 'auth' ->> 'userId' = $1 AND expire > now()
      ORDER BY (sess -> 'auth' ->> 'signedInAt')::bigint DESC`,
    [userId],
  );
  return rows.map((r) => ({
    idPrefix: r.sid.slice(0, 8),
    credentialId: r.auth.credentialId,
    signedInAt: new Date(r.auth.signedInAt),
    lastSeenAt: new Date(r.auth.lastSeenAt),
    expiresAt: r.expire,
  }));
}

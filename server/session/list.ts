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

/**
 * Sessions still alive by Keygate's own rules: not past the idle timeout nor the absolute
 * lifetime (a row may outlive them until the next request or the store's pruning removes it).
 */
export async function listSessionsOfUser(
  db: Queryable,
  userId: string,
  limits: { sessionIdleMs: number; sessionAbsoluteMs: number },
): Promise<SessionSummary[]> {
  const now = Date.now();
  const { rows } = await db.query<{ sid: string; auth: { credentialId: string; signedInAt: number; lastSeenAt: number }; expire: Date }>(
    `SELECT sid, sess -> 'auth' AS auth, expire FROM session
      WHERE sess -> 'auth' ->> 'userId' = $1 AND expire > now()
        AND (sess -> 'auth' ->> 'lastSeenAt')::bigint >= $2
        AND (sess -> 'auth' ->> 'signedInAt')::bigint >= $3
      ORDER BY (sess -> 'auth' ->> 'signedInAt')::bigint DESC`,
    [userId, now - limits.sessionIdleMs, now - limits.sessionAbsoluteMs],
  );
  return rows.map((r) => ({
    idPrefix: r.sid.slice(0, 8),
    credentialId: r.auth.credentialId,
    signedInAt: new Date(r.auth.signedInAt),
    lastSeenAt: new Date(r.auth.lastSeenAt),
    expiresAt: r.expire,
  }));
}

/**
 * Every statement on the session table outside connect-pg-simple's own, in one place: ending
 * sessions, listing them, the proxy's lookups and touches, taking a ceremony, counting. Rows are
 * keyed by the session's key (key.ts), which is what every function here takes and returns.
 * connect-pg-simple's statements and the sign-in's replace statement are in middleware.ts, the
 * store they belong to.
 */
import { oneRow, type Queryable } from '../db/pool.js';
import type { SessionAuth } from './types.js';

// -- Ending sessions: the rows go, so the next request through any instance is anonymous (other
// instances hear of it through NOTIFY, see cache.ts). Each returns the keys of the sessions it
// ended, so the caller's own instance can forget them at once.

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
export async function endSession(db: Queryable, key: string): Promise<void> {
  await endWhere(db, 'sid = $1', key);
}

// -- Listing, as the CLI and the admin page show them.

export interface SessionSummary {
  /** The first characters of the session's key (a hash of its id): enough to tell sessions apart, useless to steal. */
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

// -- The proxy's view (identity.ts).

/** The sign-in held by a live session row, or null. */
export async function loadSessionAuth(db: Queryable, key: string): Promise<SessionAuth | null> {
  const { rows } = await db.query<{ auth: SessionAuth | null }>({
    name: 'keygate-session-auth',
    text: `SELECT sess -> 'auth' AS auth FROM session WHERE sid = $1 AND expire > now()`,
    values: [key],
  });
  return rows[0]?.auth ?? null;
}

/** Writes last-seen only (the throttled idle-timeout touch; notifies nobody, see migration 0002). */
export async function touchLastSeen(db: Queryable, key: string, at: number): Promise<void> {
  await db.query(`UPDATE session SET sess = jsonb_set(sess, '{auth,lastSeenAt}', to_jsonb($2::bigint)) WHERE sid = $1`, [key, at]);
}

// -- Ceremonies (webauthn/ceremony.ts).

/** Takes the session's ceremony away atomically (a row lock, then an UPDATE) and returns what it was. */
export async function takeCeremony<T>(db: Queryable, key: string): Promise<T | undefined> {
  const { rows } = await db.query<{ ceremony: T }>({
    name: 'keygate-consume-ceremony',
    text: `WITH old AS (SELECT sid, sess -> 'ceremony' AS ceremony FROM session WHERE sid = $1 FOR UPDATE)
     UPDATE session s SET sess = s.sess - 'ceremony'
       FROM old WHERE s.sid = old.sid AND old.ceremony IS NOT NULL
     RETURNING old.ceremony`,
    values: [key],
  });
  return rows[0]?.ceremony;
}

// -- Metrics.

/** Signed-in sessions whose row has not expired. */
export async function countSignedInSessions(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM session WHERE expire > now() AND sess ? 'auth'`);
  return Number(oneRow(rows).n);
}

/**
 * Every statement on the session table outside connect-pg-simple's own, in one place: ending
 * sessions, listing them, the proxy's lookups and touches, taking a ceremony, counting. Rows are
 * keyed by the session's key (key.ts), which is what every function here takes and returns.
 * connect-pg-simple's statements and the sign-in's replace statement are in middleware.ts, the
 * store they belong to.
 */
import { oneRow, type Queryable } from '../db/pool.js';
import type { SessionAuth, SessionEndReason } from './types.js';
import { credentialWithOwnerFromRow, credentialWithOwnerSelect, type CredentialWithOwner, type CredentialWithOwnerRow } from '../webauthn/credentials.js';

export type { SessionEndReason } from './types.js';

// -- Ending sessions: the rows go, so the next request through any instance is anonymous (other
// instances hear of it through NOTIFY, see cache.ts), and why each ended is kept in session_ends
// for the page that browser sees next (end-reasons.ts). Each returns the keys of the sessions it
// ended, so the caller's own instance can forget them at once.

async function endWhere(db: Queryable, where: string, values: unknown[], reason: SessionEndReason): Promise<string[]> {
  const { rows } = await db.query<{ sid: string }>(
    `WITH ended AS (DELETE FROM session WHERE ${where} RETURNING sid),
       noted AS (INSERT INTO session_ends (sid, reason) SELECT sid, $1 FROM ended
                 ON CONFLICT (sid) DO UPDATE SET reason = excluded.reason, ended_at = now())
     SELECT sid FROM ended`,
    [reason, ...values],
  );
  return rows.map((r) => r.sid);
}

/** Ends every session a credential signed in (revocation, removal). */
export function endSessionsOfCredential(db: Queryable, credentialId: string, reason: 'credential_revoked' | 'credential_removed'): Promise<string[]> {
  return endWhere(db, `sess -> 'auth' ->> 'credentialId' = $2`, [credentialId], reason);
}

/** Ends every session of a user (disable, "log out everywhere"), or every one but `exceptKey`. */
export function endSessionsOfUser(db: Queryable, userId: string, reason: SessionEndReason, exceptKey?: string): Promise<string[]> {
  return endWhere(db, `sess -> 'auth' ->> 'userId' = $2 AND sid <> $3`, [userId, exceptKey ?? ''], reason);
}

/** Ends one of a user's sessions; nothing if that session is not theirs. */
export function endSessionOfUser(db: Queryable, userId: string, key: string, reason: SessionEndReason): Promise<string[]> {
  return endWhere(db, `sess -> 'auth' ->> 'userId' = $2 AND sid = $3`, [userId, key], reason);
}

/** Ends every signed-in session of everyone but `exceptKey` (an admin's emergency button). */
export function endEverySession(db: Queryable, reason: SessionEndReason, exceptKey: string): Promise<string[]> {
  return endWhere(db, `sess ? 'auth' AND sid <> $2`, [exceptKey], reason);
}

/** Ends one session by its key (a timeout judged on a request, a sign-out). */
export async function endSession(db: Queryable, key: string, reason: SessionEndReason): Promise<void> {
  await endWhere(db, 'sid = $2', [key], reason);
}

/** Why the session with this key ended, if it did recently (session_ends); null if unknown. */
export async function sessionEndReason(db: Queryable, key: string): Promise<SessionEndReason | null> {
  const { rows } = await db.query<{ reason: SessionEndReason }>('SELECT reason FROM session_ends WHERE sid = $1', [key]);
  return rows[0]?.reason ?? null;
}

/** Forgets why sessions ended longer ago than a cookie lives (the store's periodic pruning). */
export async function pruneSessionEnds(db: Queryable, olderThanMs: number): Promise<void> {
  await db.query(`DELETE FROM session_ends WHERE ended_at < now() - make_interval(secs => $1)`, [olderThanMs / 1000]);
}

// -- Listing, as the CLI and the admin page show them.

export interface SessionSummary {
  /** The session's key (a hash of its id, key.ts): names it to end it; useless to ride it. */
  key: string;
  /** Its first characters: enough to tell sessions apart on a page. */
  idPrefix: string;
  credentialId: string;
  signedInAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** Where and in what the person signed in (absent for sessions from before these were kept). */
  ip: string | null;
  userAgent: string | null;
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
  const { rows } = await db.query<{ sid: string; auth: SessionAuth; expire: Date }>(
    `SELECT sid, sess -> 'auth' AS auth, expire FROM session
      WHERE sess -> 'auth' ->> 'userId' = $1 AND expire > now()
        AND (sess -> 'auth' ->> 'lastSeenAt')::bigint >= $2
        AND (sess -> 'auth' ->> 'signedInAt')::bigint >= $3
      ORDER BY (sess -> 'auth' ->> 'signedInAt')::bigint DESC`,
    [userId, now - limits.sessionIdleMs, now - limits.sessionAbsoluteMs],
  );
  return rows.map((r) => ({
    key: r.sid,
    idPrefix: r.sid.slice(0, 8),
    credentialId: r.auth.credentialId,
    signedInAt: new Date(r.auth.signedInAt),
    lastSeenAt: new Date(r.auth.lastSeenAt),
    expiresAt: r.expire,
    ip: r.auth.ip ?? null,
    userAgent: r.auth.userAgent ?? null,
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

/**
 * Loads a session the way the store's get does (not past its expiry), and takes its ceremony out of
 * the row in the same statement: the loaded copy still holds it, the row no longer does. For the
 * routes whose first step is consumeCeremony (middleware.ts, takingCeremony). With `credentialId`
 * (sign-in's verify, whose body names the key), the same statement also reads that credential and
 * its owner, as findCredentialWithOwner would: null if no credential has that id.
 */
export async function loadTakingCeremony<T>(
  db: Queryable,
  key: string,
  credentialId: Buffer | null = null,
): Promise<{ sess: T | null; credential: CredentialWithOwner | null }> {
  const { rows } = await db.query<{ sess: T | null } & CredentialWithOwnerRow>({
    name: 'keygate-session-load-take-ceremony',
    text: `WITH old AS (SELECT sid, sess FROM session WHERE sid = $1 AND expire >= now() FOR UPDATE),
       taken AS (UPDATE session s SET sess = s.sess - 'ceremony' FROM old WHERE s.sid = old.sid RETURNING old.sess)
     SELECT taken.sess, credential.*
       FROM (SELECT 1) AS one
       LEFT JOIN taken ON true
       LEFT JOIN (${credentialWithOwnerSelect('$2::bytea')}) AS credential ON true`,
    values: [key, credentialId],
  });
  const row = rows[0];
  return { sess: row?.sess ?? null, credential: credentialWithOwnerFromRow(row) };
}

// -- Metrics.

/** Signed-in sessions whose row has not expired. */
export async function countSignedInSessions(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM session WHERE expire > now() AND sess ? 'auth'`);
  return Number(oneRow(rows).n);
}

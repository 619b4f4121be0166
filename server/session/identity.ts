/**
 * The proxy's view of a session, without Express: read Keygate's signed cookie, load the session
 * row, and apply the same timeouts as Keygate's pages. A session that exists in PostgreSQL and is
 * within its timeouts is the only thing that makes Keygate assert an identity to Gogs.
 */
import { parse as parseCookies } from 'cookie';
import signature from 'cookie-signature';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import { judgeSession, needsTouch, type SessionAuth } from './auth.js';

export interface Identity {
  sid: string;
  auth: SessionAuth;
}

/** The session id from the Cookie header if its signature verifies, else null. */
export function readSessionId(cookieHeader: string | undefined, cookieName: string, secret: string): string | null {
  if (!cookieHeader || !cookieHeader.includes(cookieName)) return null;
  const raw = parseCookies(cookieHeader)[cookieName];
  if (!raw || !raw.startsWith('s:')) return null;
  const sid = signature.unsign(raw.slice(2), secret);
  return sid === false ? null : sid;
}

export function createIdentityResolver(config: Config, db: Db, secret: string) {
  return async function resolveIdentity(cookieHeader: string | undefined): Promise<Identity | null> {
    const sid = readSessionId(cookieHeader, config.sessionCookieName, secret);
    if (!sid) return null;
    const { rows } = await db.query<{ auth: SessionAuth | null }>(
      `SELECT sess -> 'auth' AS auth FROM session WHERE sid = $1 AND expire > now()`,
      [sid],
    );
    const auth = rows[0]?.auth;
    if (!auth) return null;
    const now = Date.now();
    if (judgeSession(auth, config, now) !== 'valid') {
      await db.query('DELETE FROM session WHERE sid = $1', [sid]);
      return null;
    }
    if (needsTouch(auth, config, now)) {
      // Sliding idle expiry, written at most once a minute (see needsTouch); the request does not wait for it.
      db.query(`UPDATE session SET sess = jsonb_set(sess, '{auth,lastSeenAt}', to_jsonb($2::bigint)) WHERE sid = $1`, [sid, now]).catch(() => {});
    }
    return { sid, auth };
  };
}

export type IdentityResolver = ReturnType<typeof createIdentityResolver>;

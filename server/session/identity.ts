/**
 * The proxy's view of a session, without Express: read Keygate's signed cookie, find the session
 * (in the cache, see cache.ts, or its row), and apply the same timeouts as Keygate's pages. A session that exists in PostgreSQL and is
 * within its timeouts is the only thing that makes Keygate assert an identity to Gogs.
 */
import { parse as parseCookies } from 'cookie';
import signature from 'cookie-signature';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import { judgeSession, needsTouch, type SessionAuth } from './auth.js';
import type { SessionCache } from './cache.js';

export interface Identity {
  sid: string;
  auth: SessionAuth;
}

const VERIFIED_MAX = 20_000;

/**
 * The session id from the Cookie header if its signature verifies, else null.
 * @param verified cookie values already verified under this secret, and the id each carries: the
 *   same signed value always verifies to the same id, so the HMAC runs once per cookie, not once
 *   per request (bounded; the oldest entries go first)
 */
export function readSessionId(cookieHeader: string | undefined, cookieName: string, secret: string, verified?: Map<string, string>): string | null {
  if (!cookieHeader || !cookieHeader.includes(cookieName)) return null;
  const raw = parseCookies(cookieHeader)[cookieName];
  if (!raw || !raw.startsWith('s:')) return null;
  const known = verified?.get(raw);
  if (known !== undefined) return known;
  const sid = signature.unsign(raw.slice(2), secret);
  if (sid === false) return null;
  if (verified) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(raw, sid);
  }
  return sid;
}

export function createIdentityResolver(config: Config, db: Db, secret: string, cache: SessionCache) {
  const verified = new Map<string, string>();
  const load = async (sid: string): Promise<SessionAuth | null> => {
    const { rows } = await db.query<{ auth: SessionAuth | null }>(`SELECT sess -> 'auth' AS auth FROM session WHERE sid = $1 AND expire > now()`, [sid]);
    return rows[0]?.auth ?? null;
  };

  return async function resolveIdentity(cookieHeader: string | undefined): Promise<Identity | null> {
    const sid = readSessionId(cookieHeader, config.sessionCookieName, secret, verified);
    if (!sid) return null;
    const now = Date.now();
    let auth = cache.get(sid, now);
    let fromCache = auth !== undefined;
    if (auth === undefined) {
      auth = await load(sid);
      cache.set(sid, auth, now);
    }
    if (!auth) return null;
    let verdict = judgeSession(auth, config, now);
    if (verdict === 'idle' && fromCache) {
      // Another instance may have seen this session since we cached it: ask the database.
      auth = await load(sid);
      fromCache = false;
      cache.set(sid, auth, now);
      if (!auth) return null;
      verdict = judgeSession(auth, config, now);
    }
    if (verdict !== 'valid') {
      cache.forget(sid);
      await db.query('DELETE FROM session WHERE sid = $1', [sid]);
      return null;
    }
    if (needsTouch(auth, config, now)) {
      // Sliding idle expiry, written at most once a minute (see needsTouch) and without notifying
      // other instances; the request does not wait for it.
      auth.lastSeenAt = now;
      db.query(`UPDATE session SET sess = jsonb_set(sess, '{auth,lastSeenAt}', to_jsonb($2::bigint)) WHERE sid = $1`, [sid, now]).catch(() => {});
    }
    return { sid, auth };
  };
}

export type IdentityResolver = ReturnType<typeof createIdentityResolver>;

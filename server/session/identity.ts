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
import { sessionKey } from './key.js';
import { endSession, loadSessionAuth, touchLastSeen } from './sql.js';

export interface Identity {
  /** The session's key (key.ts): how the database, the cache and NOTIFY name it. */
  key: string;
  auth: SessionAuth;
}

const VERIFIED_MAX = 20_000;
/** Cookie headers longer than this are verified each time rather than remembered. */
const VERIFIED_HEADER_MAX = 4096;

/**
 * The key (key.ts) of the session id in the Cookie header if its signature verifies, else null.
 * @param verified Cookie headers already read under this secret, and the session key each carries
 *   (or null: none, or a bad signature). The same header always reads the same way, so the parse
 *   and the HMAC run once per distinct header, not once per request (bounded; the oldest entries
 *   go first).
 */
export function readSessionKey(cookieHeader: string | undefined, cookieName: string, secret: string, verified?: Map<string, string | null>): string | null {
  if (!cookieHeader || !cookieHeader.includes(cookieName)) return null;
  const known = verified?.get(cookieHeader);
  if (known !== undefined) return known;
  const raw = parseCookies(cookieHeader)[cookieName];
  const unsigned = raw && raw.startsWith('s:') ? signature.unsign(raw.slice(2), secret) : false;
  const key = unsigned === false ? null : sessionKey(unsigned);
  if (verified && cookieHeader.length <= VERIFIED_HEADER_MAX) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(cookieHeader, key);
  }
  return key;
}

export interface IdentityResolver {
  /** The signed-in person for this Cookie header: from the cache, or the session row. */
  (cookieHeader: string | undefined): Promise<Identity | null>;
  /**
   * The same answer without waiting, when it needs no database statement (the proxy's common
   * case: a cached, valid session, or no session cookie at all); undefined when it does.
   */
  cached(cookieHeader: string | undefined): Identity | null | undefined;
}

export function createIdentityResolver(config: Config, db: Db, secret: string, cache: SessionCache): IdentityResolver {
  const verified = new Map<string, string | null>();
  const load = (key: string) => loadSessionAuth(db, key);
  const touch = (sid: string, auth: SessionAuth, now: number) => {
    // Sliding idle expiry, written at most once a minute (see needsTouch) and without notifying
    // other instances; the request does not wait for it.
    auth.lastSeenAt = now;
    touchLastSeen(db, sid, now).catch(() => {});
  };

  function cached(cookieHeader: string | undefined): Identity | null | undefined {
    const sid = readSessionKey(cookieHeader, config.sessionCookieName, secret, verified);
    if (!sid) return null;
    const now = Date.now();
    const auth = cache.get(sid, now);
    if (auth === undefined) return undefined;
    if (auth === null) return null;
    // Anything but a valid session (idle: another instance may have seen it since; expired: the
    // row is deleted) goes the long way.
    if (judgeSession(auth, config, now) !== 'valid') return undefined;
    if (needsTouch(auth, config, now)) touch(sid, auth, now);
    return { key: sid, auth };
  }

  async function resolveIdentity(cookieHeader: string | undefined): Promise<Identity | null> {
    const sid = readSessionKey(cookieHeader, config.sessionCookieName, secret, verified);
    if (!sid) return null;
    const now = Date.now();
    let auth = cache.get(sid, now);
    const fromCache = auth !== undefined;
    if (auth === undefined) {
      auth = await load(sid);
      cache.set(sid, auth, now);
    }
    if (!auth) return null;
    let verdict = judgeSession(auth, config, now);
    if (verdict === 'idle' && fromCache) {
      // Another instance may have seen this session since we cached it: ask the database.
      auth = await load(sid);
      cache.set(sid, auth, now);
      if (!auth) return null;
      verdict = judgeSession(auth, config, now);
    }
    if (verdict !== 'valid') {
      cache.forget(sid);
      await endSession(db, sid, 'timed_out');
      return null;
    }
    if (needsTouch(auth, config, now)) touch(sid, auth, now);
    return { key: sid, auth };
  }
  resolveIdentity.cached = cached;
  return resolveIdentity;
}

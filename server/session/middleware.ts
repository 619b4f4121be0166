/**
 * express-session backed by connect-pg-simple on Keygate's own pages. The table comes from the
 * migrations (createTableIfMissing is off); touching is off because idle time is tracked in the
 * session itself and written at most once a minute (see auth.ts).
 */
import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import type { Ceremony } from '../webauthn/ceremony.js';
import type { SessionAuth } from './auth.js';
import type { SessionCache } from './cache.js';

declare module 'express-session' {
  interface SessionData {
    auth?: SessionAuth;
    ceremony?: Ceremony;
    /** When this session last gave a fresh, user-verified assertion (step-up, ASVS 7.5.1). */
    stepUpAt?: number;
  }
}

export type SessionStore = session.Store;

/** Marks a signed-in session that was loaded from its row (never written to the row itself). */
const LOADED = '_loadedSignedIn';

type StoredSession = session.SessionData & { [LOADED]?: boolean };
type Callback = (err?: unknown) => void;

/**
 * connect-pg-simple, wrapped in two ways:
 * - a session this process destroys (sign-out, timeout) is forgotten by this process's proxy
 *   cache at once; other instances hear of it through NOTIFY;
 * - a signed-in session that was loaded from its row is only ever UPDATEd, never re-inserted. If
 *   it was ended (revoked, disabled, signed out elsewhere) while a request was in flight, that
 *   request's end-of-request save must not bring it back to life. New sessions (sign-in always
 *   starts one: regenerate) are inserted as usual.
 */
export function createSessionStore(db: Db, cache?: SessionCache): session.Store {
  const PgStore = connectPgSimple(session);
  class CachedPgStore extends PgStore {
    override get(sid: string, callback: (err: unknown, sess?: session.SessionData | null) => void): void {
      super.get(sid, (err: unknown, sess?: StoredSession | null) => {
        if (sess?.auth) sess[LOADED] = true;
        callback(err, sess);
      });
    }

    override set(sid: string, sess: StoredSession, callback?: Callback): void {
      const { [LOADED]: loaded, ...data } = sess;
      if (!loaded || !data.auth) {
        super.set(sid, data as session.SessionData, callback);
        return;
      }
      const expires = data.cookie?.expires ? new Date(data.cookie.expires) : new Date(Date.now() + 86_400_000);
      db.query('UPDATE session SET sess = $1, expire = $2 WHERE sid = $3', [JSON.stringify(data), expires, sid]).then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
    }

    override destroy(sid: string, callback?: Callback): void {
      cache?.forget(sid);
      super.destroy(sid, (err?: unknown) => {
        cache?.forget(sid);
        callback?.(err);
      });
    }
  }
  return new CachedPgStore({
    pool: db,
    tableName: 'session',
    createTableIfMissing: false,
    disableTouch: true,
    pruneSessionInterval: 15 * 60,
    errorLog: () => {},
  });
}

export function createSessionMiddleware(config: Config, store: session.Store, secret: string) {
  return session({
    name: config.sessionCookieName,
    secret,
    store,
    resave: false,
    // No row and no cookie for a visitor who has not started a ceremony.
    saveUninitialized: false,
    rolling: false,
    proxy: config.trustProxy,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      // __Host- requires Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2).
      secure: config.https,
      path: '/',
      maxAge: config.sessionAbsoluteMs,
    },
  });
}

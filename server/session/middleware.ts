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

/**
 * connect-pg-simple, wrapped so that a session this process destroys (sign-out, timeout) is
 * forgotten by this process's proxy cache at once; other instances hear of it through NOTIFY.
 */
export function createSessionStore(db: Db, cache?: SessionCache): session.Store {
  const PgStore = connectPgSimple(session);
  class CachedPgStore extends PgStore {
    override destroy(sid: string, callback?: (err?: unknown) => void): void {
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

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

declare module 'express-session' {
  interface SessionData {
    auth?: SessionAuth;
    ceremony?: Ceremony;
  }
}

export type SessionStore = session.Store;

export function createSessionStore(db: Db): session.Store {
  const PgStore = connectPgSimple(session);
  return new PgStore({
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

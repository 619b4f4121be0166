/**
 * express-session backed by connect-pg-simple on Keygate's own pages. The table comes from the
 * migrations (createTableIfMissing is off); touching is off because idle time is tracked in the
 * session itself and written at most once a minute (see auth.ts).
 */
import { createHash } from 'node:crypto';
import connectPgSimple from 'connect-pg-simple';
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import session from 'express-session';
import { AUDIT_COLUMNS, auditParams, auditValues, type AuditEvent } from '../audit/record.js';
import type { Config } from '../config.js';
import type { Db, RowWrite } from '../db/pool.js';
import { markCeremonyTakenAtLoad, type Ceremony } from '../webauthn/ceremony.js';
import { credentialUseUpdate, credentialUseValues, noteCredentialReadAtLoad, type CredentialUse } from '../webauthn/credentials.js';
import { sessionCookieOptions } from './cookie.js';
import { sessionKey } from './key.js';
import type { CeremonyLoad, ReplacingStore, SessionAuth } from './types.js';
import type { SessionCache } from './cache.js';
import { endSession, loadTakingCeremony, pruneSessionEnds, type SessionEndReason } from './sql.js';

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
 * On a signed-in session loaded from its row (never written to the row itself): its ceremony as
 * loaded, as JSON ("null" for none). Its presence marks the session as loaded; its value lets a
 * request that did not change the ceremony leave it as the row has it, since another request may
 * have taken it meanwhile (a ceremony is used once). A plain enumerable property, because
 * express-session copies only those from the loaded object into req.session.
 */
const LOADED = '_loadedSignedIn';
/**
 * On a session object (non-enumerable, so never stored): the sid and content this process last
 * wrote for it. express-session saves again at the end of a request whenever the session id
 * changed (sign-in), even right after an explicit save, after moving the cookie's expiry forward
 * by the few milliseconds since; such a write is skipped. As with express-session's own change
 * check (and disableTouch), the cookie is left out of the comparison: only content counts.
 */
const WRITTEN = Symbol('keygate.written');

/** How often ended and expired session rows are deleted. */
const PRUNE_INTERVAL_MS = 5 * 60_000;

type StoredSession = session.SessionData & { [LOADED]?: string; [WRITTEN]?: string };
type Callback = (err?: unknown) => void;

/** The sid and the session's content without its cookie, as compared for WRITTEN. */
function contentKey(sid: string, data: session.SessionData): string {
  const { cookie: _cookie, ...content } = data;
  return `${sid}\n${JSON.stringify(content)}`;
}

function markWritten(sess: StoredSession, key: string): void {
  Object.defineProperty(sess, WRITTEN, { value: key, configurable: true, writable: true, enumerable: false });
}

function expireOf(data: session.SessionData): Date {
  return data.cookie?.expires ? new Date(data.cookie.expires) : new Date(Date.now() + 86_400_000);
}

/**
 * connect-pg-simple, wrapped in four ways:
 * - a session is stored under its key, the SHA-256 of its id (key.ts), never the id;
 * - a session this process destroys (sign-out, timeout) is forgotten by this process's proxy
 *   cache at once; other instances hear of it through NOTIFY;
 * - a signed-in session that was loaded from its row is only ever UPDATEd, never re-inserted. If
 *   it was ended (revoked, disabled, signed out elsewhere) while a request was in flight, that
 *   request's end-of-request save must not bring it back to life. New sessions (sign-in always
 *   starts one, see replace) are inserted as usual;
 * - a write identical to the one this process just made for the same session object is skipped
 *   (see WRITTEN);
 * - on a route that consumes a ceremony first thing (createSessionMiddleware's takingCeremony), the
 *   load itself takes the ceremony out of the row, atomically, and reads the credential the body
 *   names (sql.ts, loadTakingCeremony): one statement instead of a load, a take and a lookup.
 */
export function createSessionStore(db: Db, cache?: SessionCache, opts: { sessionAbsoluteMs?: number } = {}): ReplacingStore {
  const PgStore = connectPgSimple(session);
  // Why a session ended matters while its cookie can still come back (session_ends).
  const endsKeptMs = opts.sessionAbsoluteMs ?? 30 * 86_400_000;
  class CachedPgStore extends PgStore implements ReplacingStore {
    /**
     * Set by createSessionMiddleware just around express-session's handling of a request whose
     * route consumes the ceremony; read (and cleared) by the get() that express-session makes
     * synchronously for that request.
     */
    takeCeremonyOnLoad: CeremonyLoad | null = null;

    async end(sid: string, reason: SessionEndReason): Promise<void> {
      const key = sessionKey(sid);
      cache?.forget(key);
      await endSession(db, key, reason);
      cache?.forget(key);
    }

    override pruneSessions(fn?: (err: Error) => void): void {
      // Before the sessions' own pruning, whose callback (or next timer) then follows both.
      void pruneSessionEnds(db, endsKeptMs)
        .catch(() => {})
        .finally(() => super.pruneSessions(fn));
    }

    override get(sid: string, callback: (err: unknown, sess?: session.SessionData | null) => void): void {
      const loaded = (err: unknown, sess?: StoredSession | null) => {
        if (sess?.auth) sess[LOADED] = JSON.stringify(sess.ceremony ?? null);
        callback(err, sess);
      };
      const taking = this.takeCeremonyOnLoad;
      if (taking) {
        this.takeCeremonyOnLoad = null;
        loadTakingCeremony<StoredSession>(db, sessionKey(sid), taking.credentialId).then(
          ({ sess, credential }) => {
            taking.credential = credential;
            loaded(null, sess);
          },
          (err: unknown) => loaded(err),
        );
        return;
      }
      super.get(sessionKey(sid), loaded);
    }

    override set(sid: string, sess: StoredSession, callback?: Callback): void {
      const { [LOADED]: loaded, ...data } = sess;
      const key = contentKey(sid, data);
      if (sess[WRITTEN] === key) {
        callback?.();
        return;
      }
      const done = (err?: unknown) => {
        if (!err) markWritten(sess, key);
        callback?.(err);
      };
      if (loaded === undefined || !data.auth) {
        super.set(sessionKey(sid), data, done);
        return;
      }
      // A ceremony this request did not change is left as the row has it now: taken, if another
      // request took it meanwhile. One it started, replaced or used up is written.
      const keepRowCeremony = loaded === JSON.stringify(data.ceremony ?? null);
      db.query({
        name: keepRowCeremony ? 'keygate-session-update-keeping-ceremony' : 'keygate-session-update',
        text: keepRowCeremony
          ? `UPDATE session SET sess = ($1::jsonb - 'ceremony') || CASE WHEN sess ? 'ceremony' THEN jsonb_build_object('ceremony', sess -> 'ceremony') ELSE '{}'::jsonb END,
                                expire = $2 WHERE sid = $3`
          : 'UPDATE session SET sess = $1, expire = $2 WHERE sid = $3',
        values: [JSON.stringify(data), expireOf(data), sessionKey(sid)],
      }).then(
        () => done(),
        (err: unknown) => done(err),
      );
    }

    rowWrite(sid: string, sess: StoredSession): RowWrite | null {
      const { [LOADED]: loaded, ...data } = sess;
      // A signed-in session loaded from its row is only ever UPDATEd (set).
      if (loaded !== undefined || data.auth) return null;
      const values = [JSON.stringify(data), expireOf(data), sessionKey(sid)];
      return {
        values,
        // As connect-pg-simple's set: a new row, or the ceremony-only session's row replaced.
        insert: (p, from) =>
          `INSERT INTO session (sess, expire, sid) SELECT $${p}::jsonb, $${p + 1}::timestamptz, $${p + 2}::varchar ${from}
           ON CONFLICT (sid) DO UPDATE SET sess = $${p}::jsonb, expire = $${p + 1}::timestamptz`,
        written: () => {
          markWritten(sess, contentKey(sid, data));
          this.keepPruning();
        },
      };
    }

    /**
     * connect-pg-simple starts its timer that deletes expired rows at its first set(); a process
     * whose only new sessions are written by rowWrite (sign-in's options) starts it here.
     */
    private keepPruning(): void {
      const own = this as unknown as { pruneTimer?: NodeJS.Timeout; closed?: boolean };
      if (own.pruneTimer || own.closed) return;
      own.pruneTimer = setTimeout(() => this.pruneSessions(), PRUNE_INTERVAL_MS).unref();
    }

    async replace(
      oldSid: string | undefined,
      sid: string,
      sess: StoredSession,
      opts: { audit?: AuditEvent; credentialUse?: CredentialUse } = {},
    ): Promise<boolean> {
      const { [LOADED]: _loaded, ...data } = sess;
      const json = JSON.stringify(data);
      const key = sessionKey(sid);
      const oldKey = oldSid && oldSid !== sid ? sessionKey(oldSid) : null;
      if (oldKey) cache?.forget(oldKey);
      const auth = data.auth;
      // Only sign-in replaces a session, so there is always a key and a person to check.
      if (!auth) throw new Error('replace() writes signed-in sessions only');
      const values: unknown[] = [json, expireOf(data), key, oldKey ?? '', Buffer.from(auth.credentialId, 'base64url'), auth.userId];
      // Where each optional part's parameters start ($n), if it is there.
      const audit = opts.audit ? values.push(...auditValues(opts.audit)) - 10 : null;
      const use = opts.credentialUse ? values.push(...credentialUseValues(opts.credentialUse)) - 5 : null;
      const { rowCount } = await db.query({
        name: `keygate-session-replace${audit ? '-audited' : ''}${use ? '-used' : ''}`,
        // All in one statement (one snapshot, one commit): the old id is gone exactly when the new
        // session exists, and with `audit` (sign-in's success) so is its audit row, and with
        // `credentialUse` so are the key's new counter and last use: a sign-in is written whole or
        // not at all.
        //
        // A signed-in session is only written while its key is not revoked and its person not
        // disabled, and those rows are locked until this statement commits (share-locked, or the
        // key's row updated with its use). A revocation or a disable (which UPDATE them, then
        // delete the sessions) that commits first is seen here (READ COMMITTED re-checks a locked
        // row that changed), and nothing is written; one that comes later waits for this commit,
        // and its DELETE then finds this session. Either way, once it returns, no session of that
        // key or person exists (test/signin-race.test.ts). With `credentialUse`, a counter that
        // moved since it was read (another sign-in with the same key got there first) also
        // writes nothing.
        text: `WITH allowed AS (
                 ${
                   use
                     ? `SELECT 1 FROM users u WHERE u.id = $6::bigint AND u.disabled_at IS NULL FOR SHARE
               ), used AS (
                 ${credentialUseUpdate(use)}
                   AND credential_id = $5 AND user_id = $6::bigint AND EXISTS (SELECT 1 FROM allowed)
                 RETURNING 1`
                     : `SELECT 1 FROM credentials c JOIN users u ON u.id = c.user_id
                  WHERE c.credential_id = $5 AND u.id = $6::bigint AND c.revoked_at IS NULL AND u.disabled_at IS NULL
                  FOR SHARE OF c, u`
                 }
               ), gone AS (DELETE FROM session WHERE sid = $4 AND sid <> $3)
               ${
                 audit
                   ? `, audited AS (INSERT INTO audit_events (${AUDIT_COLUMNS})
                        SELECT ${auditParams(audit)}
                         WHERE EXISTS (SELECT 1 FROM ${use ? 'used' : 'allowed'}))`
                   : ''
               }
               INSERT INTO session (sess, expire, sid) SELECT $1::jsonb, $2::timestamptz, $3::varchar WHERE EXISTS (SELECT 1 FROM ${use ? 'used' : 'allowed'})
               ON CONFLICT (sid) DO UPDATE SET sess = $1, expire = $2`,
        values,
      });
      if (oldKey) cache?.forget(oldKey);
      if (!rowCount) return false;
      markWritten(sess, contentKey(sid, data));
      return true;
    }

    override destroy(sid: string, callback?: Callback): void {
      const key = sessionKey(sid);
      cache?.forget(key);
      super.destroy(key, (err?: unknown) => {
        cache?.forget(key);
        callback?.(err);
      });
    }
  }
  // connect-pg-simple's statements are few and fixed: prepared once per connection (named), so
  // PostgreSQL does not parse and plan them again for every request.
  const prepared = {
    query: (text: string, values?: unknown[]) => db.query({ name: `keygate-cps-${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text, values }),
  };
  return new CachedPgStore({
    pool: prepared as unknown as Db,
    tableName: 'session',
    createTableIfMissing: false,
    disableTouch: true,
    // Ended and expired rows (ceremony-only sessions expire with their ceremony) go every 5 minutes.
    pruneSessionInterval: PRUNE_INTERVAL_MS / 1000,
    errorLog: () => {},
  });
}

/** The requests takingCeremony has loaded, or tried to. */
const LOAD_TRIED = new WeakSet<IncomingMessage>();

/** Keygate's session middleware: where it loads a session, and how. */
export interface SessionMiddleware {
  /** Mounted for every request to Keygate's pages and API; it leaves the requests `takesCeremony` names to takingCeremony. */
  everyRequest: RequestHandler;
  /**
   * On the route line of the requests `takesCeremony` names, after their body is read: loads the
   * session in the statement that takes its ceremony and reads the credential `credentialIdOf`
   * finds in the body (noteCredentialReadAtLoad). Two handlers: the second loads all the same
   * after something before it failed (a rate-limit refusal, an unreadable body), so that whatever
   * such a request did, its ceremony is gone from the row.
   */
  takingCeremony(credentialIdOf: (req: IncomingMessage & { body?: unknown }) => Buffer | null): [RequestHandler, ErrorRequestHandler];
  /**
   * The request's session row as another statement writes it (sign-in's options: the rate limit's
   * point and the row in one statement, ratelimit/limits.ts takeAddressWritingRow); once written,
   * express-session's save at the end of the request writes nothing more. Null for a signed-in
   * session, which only the store's own save writes.
   */
  rowWrite(req: Request): RowWrite | null;
}

/**
 * express-session with Keygate's store. `takesCeremony` names the requests whose route consumes the
 * session's ceremony before anything else (sign-in's verify): for them the session's load is also
 * the ceremony's atomic take (see the store's get) and the read of the credential the body names,
 * which saves two statements on the busiest ceremony. Whatever such a request then does, its
 * ceremony is gone from the row: refused by the rate limit or an unreadable body, the browser
 * starts the ceremony again.
 */
export function createSessionMiddleware(
  config: Config,
  store: ReplacingStore,
  secret: string,
  opts: { takesCeremony?: (req: IncomingMessage) => boolean } = {},
): SessionMiddleware {
  const middleware = session({
    name: config.sessionCookieName,
    secret,
    store,
    resave: false,
    // No row and no cookie for a visitor who has not started a ceremony.
    saveUninitialized: false,
    rolling: false,
    proxy: config.trustProxy,
    cookie: { ...sessionCookieOptions(config), maxAge: config.sessionAbsoluteMs },
  });
  const takesCeremony = opts.takesCeremony ?? (() => false);
  return {
    everyRequest: (req, res, next) => {
      if (takesCeremony(req)) next();
      else middleware(req, res, next);
    },
    takingCeremony(credentialIdOf) {
      const load = (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], next: (err?: unknown) => void) => {
        // Another spelling of the path was loaded by everyRequest, as any request; and a load that
        // failed (the first handler's) is not tried again by the second.
        if (!takesCeremony(req) || LOAD_TRIED.has(req)) {
          next();
          return;
        }
        LOAD_TRIED.add(req);
        const credentialId = credentialIdOf(req);
        const taking: CeremonyLoad = { credentialId };
        // express-session calls the store's get synchronously, inside this call, when the browser
        // sent a session cookie (and never otherwise): the load is read there, and cleared here in any case.
        store.takeCeremonyOnLoad = taking;
        markCeremonyTakenAtLoad(req);
        try {
          middleware(req, res, (err?: unknown) => {
            if (credentialId && taking.credential !== undefined) noteCredentialReadAtLoad(req, credentialId, taking.credential);
            next(err);
          });
        } finally {
          store.takeCeremonyOnLoad = null;
        }
      };
      return [(req, res, next) => load(req, res, next), (err, req, res, next) => load(req, res, (loadErr) => next(loadErr ?? err))];
    },
    rowWrite: (req) => store.rowWrite(req.sessionID, req.session),
  };
}

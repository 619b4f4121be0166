/**
 * Rate limits against brute force and enumeration (issue 4, class 7; ASVS 6.1.1, 6.3.1).
 *
 * Kept in PostgreSQL with rate-limiter-flexible's Postgres store (table `rate_limits`, created by
 * db/migrations/0003_rate_limits.sql), so every instance shares one count.
 *
 * - `ip`: every request to a ceremony endpoint (/-/api/login/*, /-/api/enroll/*,
 *   /-/api/step-up/*, /-/api/account/devices/*) and to invite redemption (/-/enroll/<token>)
 *   counts against the client's address: RATE_LIMIT_IP_PER_MINUTE per minute, before anything is
 *   done or written for it. One exception: a sign-in's verify whose session's load took a live
 *   sign-in ceremony out of the row (atomically, so no other request can have it) is not counted
 *   up front: that ceremony came from sign-in options, which counted, and this request used it
 *   up, so such requests are bounded by the options counted. If it then fails, it counts after
 *   all; if it signs the person in, it counts nothing more (perIpBeforeSignIn, perIpForVerify,
 *   perFailedSignIn). This saves the busiest ceremony a statement (docs/performance.md, sign-ins).
 *   Sign-in's options without a typed name (a passkey) read nothing before their ceremony is
 *   written but their session (as every request with a session cookie): they pay their point in
 *   the statement that writes the ceremony, which writes it only within the limit
 *   (takeAddressWritingRow), another statement saved. Those with a typed name pay first, before
 *   its lookups. An options body refused before either (not JSON, not the expected shape, too
 *   large: 400 or 413) takes no point, and nothing is written for it; such a flood costs Keygate
 *   the parsing of bounded bodies, not the database.
 *   Failure audit rows stay bounded: a verify without such a ceremony pays before anything is
 *   written for it, however many are sent at once; one with it spends a ceremony an options
 *   request paid for (from whichever address, within CEREMONY_TIMEOUT). A ceremony body refused
 *   for its size before Express counts too, and past the limit is not audited (countRefusedBody).
 * - `username`: username-first sign-in options count against the typed name, lower-cased,
 *   whether or not such a user exists (so the limit tells nothing either):
 *   RATE_LIMIT_USERNAME_PER_15MIN per 15 minutes.
 * - `sign_in_failures`: a failed sign-in counts against the presented credential's owner, or,
 *   for a credential id nobody has, against that id (the same budget either way, so the limit
 *   does not tell a registered id from a decoy): RATE_LIMIT_USERNAME_PER_15MIN per 15 minutes.
 *   Past it, a failed attempt is answered 429 instead of its reason. A valid assertion is never
 *   refused by this limit: only the key's holder can make one, and refusing it would let anyone
 *   lock a person out by failing on purpose (ASVS 6.1.1, "prevent malicious account lockout").
 *
 * Over a limit: 429 with Retry-After (seconds), JSON under /-/api and the message page
 * elsewhere (errors.ts), and one `rate_limited` audit row per subject and window (the first
 * refusal; an attacker cannot flood the append-only audit log). If the store cannot be reached,
 * ceremonies fail closed with 503: they need the database anyway.
 */
import type { Catalogue } from '../../web/i18n/index.js';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { recordEvent } from '../audit/record.js';
import type { Config } from '../config.js';
import type { Db, RowWrite } from '../db/pool.js';
import { AppError } from '../errors.js';
import { requestContext } from '../http/context.js';
import { isValidUsername } from '../users/users.js';
import type { Logger } from '../log.js';
import { SignInFailure } from '../webauthn/authenticate.js';
import { decodeCredentialId } from '../webauthn/credentials.js';
import { clientAddress } from './client-address.js';
import { rateLimitEvents, type RateLimitEventMap, type RateLimitName } from './events.js';

export { RATE_LIMIT_NAMES, rateLimitEvents, type RateLimitName, type RateLimitRejected, type RateLimitUnavailable } from './events.js';

const TABLE = 'rate_limits';
const MINUTE = 60;
const FIFTEEN_MINUTES = 15 * 60;
/** When the store is down: how long to tell the client to wait. */
const UNAVAILABLE_RETRY_SECONDS = 5;

export interface RateLimitDeps {
  config: Config;
  db: Db;
  log: Logger;
}

export class RateLimits {
  /** This gateway's events (see events.ts); also re-emitted on the process-wide rateLimitEvents. */
  readonly events = new EventEmitter<RateLimitEventMap>();
  private readonly limiters: Record<RateLimitName, RateLimiterPostgresWithRow>;

  constructor(private readonly deps: RateLimitDeps) {
    const { config, db } = deps;
    const make = (keyPrefix: RateLimitName, points: number, duration: number, sweep: boolean) =>
      new RateLimiterPostgresWithRow({
        storeClient: db,
        tableName: TABLE,
        tableCreated: true,
        keyPrefix,
        points,
        duration,
        // Once a subject is over its limit, this instance refuses it from memory until the window
        // ends, so an attacker's flood costs no further database statements.
        inMemoryBlockOnConsumed: points + 1,
        // One limiter deletes long-expired rows for all three (every 5 minutes).
        clearExpiredByTimeout: sweep,
      });
    this.limiters = {
      ip: make('ip', config.rateLimitIpPerMinute, MINUTE, true),
      username: make('username', config.rateLimitUsernamePer15Min, FIFTEEN_MINUTES, false),
      sign_in_failures: make('sign_in_failures', config.rateLimitUsernamePer15Min, FIFTEEN_MINUTES, false),
    };
  }

  /**
   * Express middleware: one point per request against the client's address. Mounted first on the
   * route line of every ceremony endpoint and of invite redemption, before the body is parsed.
   * @param route the family of endpoints, as metrics and the audit row name it (never a path with a token in it)
   */
  perIp(route: string): RequestHandler {
    return (req, res, next) => {
      this.takeAddress(req, res, route).then(next, next);
    };
  }

  /**
   * Express middleware for sign-in's options and verify, first on their route lines: refuses the
   * request (429) while this instance knows the client's address is over its limit, from memory,
   * without a rate-limit statement. It takes no point: on options, perIpUnless or
   * takeAddressWritingRow does; on verify, perIpForVerify, once the session is loaded.
   */
  perIpBeforeSignIn(route: string): RequestHandler {
    const limiter = this.limiters.ip as RateLimiterPostgresWithRow & InMemoryBlocks;
    return (req, res, next) => {
      const ms = limiter.getInMemoryBlockMsBeforeExpire(limiter.getKey(this.address(req)));
      next(ms > 0 ? this.refuse('ip', res, route, ms) : undefined);
    };
  }

  /**
   * perIp, except for the requests `later` names, whose point the route takes itself with
   * takeAddressWritingRow (sign-in's options without a typed name).
   */
  perIpUnless(later: (req: Request) => boolean, route: string): RequestHandler {
    return (req, res, next) => {
      if (later(req)) next();
      else this.takeAddress(req, res, route).then(next, next);
    };
  }

  /**
   * One point against the client's address, taken by the statement that also writes `row` (see
   * RateLimiterPostgresWithRow): the row is written only if the point is within the limit. One
   * statement where perIp and the row's own write are two; for sign-in's options without a typed
   * name, whose route reads nothing before it, so the point still comes before anything is
   * written or read for the request. Resolves like perIp: undefined (the row written), or the
   * refusal to answer with (nothing written but the point). Without a row (a signed-in session,
   * which only its store's own save writes), the point alone, as perIp takes it.
   */
  takeAddressWritingRow(req: Request, res: Response, route: string, row: RowWrite | null): Promise<AppError | undefined> {
    return this.take('ip', this.address(req), req, res, { route }, row ?? undefined);
  }

  /**
   * Sign-in's verify, on its route line once the session is loaded (and after an unreadable body,
   * as the second handler): takes the address's point now, before the request is worked on or
   * audited, unless `tookCeremony` says this request's load took a live sign-in ceremony out of
   * the row (see the top). perFailedSignIn then counts only what was not counted here.
   */
  perIpForVerify(route: string, tookCeremony: (req: Request) => boolean): [RequestHandler, ErrorRequestHandler] {
    const count = (req: Request, res: Response) => {
      (req as Counted)[COUNTED] = true;
      return this.takeAddress(req, res, route);
    };
    return [
      (req, res, next) => {
        if (tookCeremony(req)) next();
        else count(req, res).then(next, next);
      },
      (err, req, res, next) => {
        if (isRefusal(err)) next(err);
        else
          count(req, res).then(
            (refusal) => next(refusal ?? err),
            (failure: unknown) => next(failure),
          );
      },
    ];
  }

  /**
   * A ceremony request whose body was refused before Express (declared over the size limit,
   * http/body-limit.ts): takes its point against the address. True if the address was within its
   * limit (the refusal may be audited); false if it is over it, or the store cannot say (then
   * nothing more is written for the request).
   */
  async countRefusedBody(req: IncomingMessage): Promise<boolean> {
    try {
      await this.limiters.ip.consume(this.address(req));
      return true;
    } catch {
      return false;
    }
  }

  /** Express middleware for POST /-/api/login/options, after JSON parsing: one point against the typed username. */
  perTypedUsername(): RequestHandler {
    return (req, res, next) => {
      const body: unknown = req.body;
      const typed = req.method === 'POST' && body && typeof body === 'object' ? (body as { username?: unknown }).username : undefined;
      // The same trimming as the route's schema; longer names are refused there, before any ceremony.
      const name = typeof typed === 'string' ? typed.trim().toLowerCase() : '';
      if (name.length === 0 || name.length > 64) {
        next();
        return;
      }
      // A name Gogs could not have is counted by its hash: the key then holds nothing a client chose
      // (PostgreSQL text refuses NUL, for one), and such a name still has a budget of its own.
      const valid = isValidUsername(name);
      const subject = valid ? name : `sha256:${createHash('sha256').update(name).digest('base64url')}`;
      this.take('username', subject, req, res, { route: '/-/api/login/options', subjectUsername: valid ? name : undefined }).then(next, next);
    };
  }

  /**
   * Express error middleware for /-/api/login/verify, last on its route line: a verify that fails
   * counts one point against the client's address unless perIpForVerify took it already; a failed
   * sign-in also counts against the presented credential's owner (or the id itself). Past either
   * limit it answers 429 instead. The failure itself has been audited already.
   */
  perFailedSignIn(route: string): ErrorRequestHandler {
    return (err, req, res, next) => {
      // Refused by a limit already: nothing more to count.
      if (isRefusal(err)) {
        next(err);
        return;
      }
      this.countFailure(err, req, res, route).then(
        (refusal) => next(refusal ?? err),
        (failure: unknown) => next(failure),
      );
    };
  }

  private async countFailure(err: unknown, req: Request, res: Response, route: string): Promise<AppError | undefined> {
    const byAddress = (req as Counted)[COUNTED] ? undefined : await this.takeAddress(req, res, route);
    if (byAddress || !(err instanceof SignInFailure)) return byAddress;
    const body = req.body as { response?: { rawId?: unknown } } | undefined;
    const rawId = decodeCredentialId(body?.response?.rawId);
    if (!rawId) return undefined;
    const { rows } = await this.deps.db
      .query<{ username: string }>('SELECT u.username FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.credential_id = $1', [rawId])
      .catch(() => ({ rows: [] as Array<{ username: string }> }));
    const owner = rows[0]?.username;
    const subject = owner ? `user:${owner.toLowerCase()}` : `credential:${createHash('sha256').update(rawId).digest('base64url')}`;
    return this.take('sign_in_failures', subject, req, res, { route: '/-/api/login/verify', subjectUsername: owner });
  }

  /**
   * Takes one point. Resolves to undefined when allowed, or to the AppError to answer with
   * (429 over the limit, 503 when the store is unreachable), with Retry-After already set.
   */
  private async take(
    limit: RateLimitName,
    subject: string,
    req: Request,
    res: Response,
    about: { route: string; subjectUsername?: string },
    row?: RowWrite,
  ): Promise<AppError | undefined> {
    const limiter = this.limiters[limit];
    try {
      await limiter.consume(subject, 1, row ? { row } : {});
      return undefined;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        const refusal = this.refuse(limit, res, about.route, outcome.msBeforeNext);
        // Only the refusal that crossed the limit is audited (refusals from memory report 0 points).
        if (outcome.consumedPoints === limiter.points + 1) await this.audit(limit, req, about, retryAfterOf(outcome.msBeforeNext));
        return refusal;
      }
      this.deps.log.error({ err: outcome, limit }, 'rate limit store unavailable: refusing the request');
      this.emit('unavailable', { limit, route: about.route, error: outcome });
      res.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
      return new AppError('unavailable', 503, (t) => t.errors.limitsUnavailable, outcome);
    }
  }

  /** The client's address, as the `ip` limit counts it. */
  private address(req: IncomingMessage): string {
    return clientAddress(req, this.deps.config.trustProxy);
  }

  /** One point against the client's address (see take). */
  private takeAddress(req: Request, res: Response, route: string): Promise<AppError | undefined> {
    return this.take('ip', this.address(req), req, res, { route });
  }

  /** The 429 for a subject over `limit` for another `ms`, with Retry-After set and the refusal announced. */
  private refuse(limit: RateLimitName, res: Response, route: string, ms: number): AppError {
    const retryAfterSeconds = retryAfterOf(ms);
    res.set('Retry-After', String(retryAfterSeconds));
    this.emit('rejected', { limit, route, retryAfterSeconds });
    return new AppError('rate_limited', 429, (t) => tooManyAttempts(t, retryAfterSeconds));
  }

  private async audit(limit: RateLimitName, req: Request, about: { route: string; subjectUsername?: string }, retryAfterSeconds: number): Promise<void> {
    const auth = (req as { session?: { auth?: { username?: string; userId?: string } } }).session?.auth;
    try {
      await recordEvent(this.deps.db, {
        event: 'rate_limited',
        outcome: 'failure',
        actor: auth?.username ? `user:${auth.username}` : 'anonymous',
        subjectUsername: about.subjectUsername ?? null,
        reason: limit,
        details: { route: about.route, method: req.method, retryAfterSeconds },
        ...requestContext(req),
      });
    } catch (err) {
      // The refusal stands even if it could not be written down.
      this.deps.log.error({ err }, 'could not audit a rate-limit refusal');
    }
  }

  private emit<K extends keyof RateLimitEventMap>(event: K, ...args: RateLimitEventMap[K]): void {
    // A listener's bug must not turn a 429 into a 500.
    for (const emitter of [this.events, rateLimitEvents]) {
      try {
        (emitter.emit as (e: K, ...a: RateLimitEventMap[K]) => boolean)(event, ...args);
      } catch (err) {
        this.deps.log.error({ err }, 'rate limit listener failed');
      }
    }
  }
}

/**
 * The in-memory block rate-limiter-flexible keeps for inMemoryBlockOnConsumed (a public method of
 * its store limiters that its type declarations leave out).
 */
interface InMemoryBlocks {
  getInMemoryBlockMsBeforeExpire(key: string): number;
}

/** rate-limiter-flexible's Postgres store's own methods that RateLimiterPostgresWithRow builds on. */
interface PostgresStoreInternals {
  _upsert(rlKey: string, points: number, msDuration: number, forceExpire?: boolean, options?: { row?: RowWrite }): Promise<unknown>;
  _query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Array<{ points: number; expire: string | null; written?: boolean }> }>;
}
const store = RateLimiterPostgres.prototype as unknown as PostgresStoreInternals;

/**
 * rate-limiter-flexible's Postgres limiter, whose consume(key, points, { row }) also writes `row`
 * in the statement that counts the point: the library's own upsert of the point (its text as the
 * library builds it, in a WITH), then the row, inserted only if the points counted are within the
 * limit, in one statement (one snapshot, one commit). The library then reads the points and the
 * window's end from that statement's answer as from its own, and decides as it always does (the
 * refusal, the in-memory block). The library builds and sends its statement synchronously inside
 * consume(), which is how the row reaches it here.
 */
class RateLimiterPostgresWithRow extends RateLimiterPostgres {
  #row: RowWrite | null = null;

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false, options: { row?: RowWrite } = {}): Promise<unknown> {
    this.#row = options.row ?? null;
    try {
      return store._upsert.call(this, rlKey, points, msDuration, forceExpire, options);
    } finally {
      this.#row = null;
    }
  }

  _query(q: { name?: string; text: string; values?: unknown[] }): ReturnType<PostgresStoreInternals['_query']> {
    const row = this.#row;
    this.#row = null;
    // Only the library's upsert of a point is extended (as 11.4 builds it); any other statement is
    // sent as it is, and the row is then left to its own write: express-session's at the end of
    // the request, and a refusal restores the session first (login/routes.ts).
    if (!row || q.name !== 'rlflx-upsert' || !/RETURNING points, expire;?\s*$/.test(q.text)) return store._query.call(this, q);
    const values = q.values ?? [];
    const limit = values.length + 1;
    const text = `WITH counted AS (${q.text.trim().replace(/;$/, '')}),
      written AS (${row.insert(limit + 1, `FROM counted WHERE counted.points <= $${limit}`)} RETURNING 1)
      SELECT counted.points, counted.expire, EXISTS (SELECT 1 FROM written) AS written FROM counted`;
    return store._query.call(this, { name: `${q.name ?? 'upsert'}-with-row`, text, values: [...values, this.points, ...row.values] }).then((res) => {
      if (res.rows[0]?.written) row.written();
      return res;
    });
  }
}

/** On a verify request: its point against the address is taken (perIpForVerify). */
const COUNTED = Symbol('keygate.ipCounted');
type Counted = Request & { [COUNTED]?: true };

/** A 429 from one of the limits. */
const isRefusal = (err: unknown) => err instanceof AppError && err.code === 'rate_limited';

/** Whole seconds, at least one. */
function retryAfterOf(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** "Too many attempts. Wait 30 seconds…", in seconds below 90, else in whole minutes. */
function tooManyAttempts(t: Catalogue, seconds: number): string {
  return seconds < 90 ? t.errors.tooManyAttemptsSeconds(seconds) : t.errors.tooManyAttemptsMinutes(Math.ceil(seconds / 60));
}

export function createRateLimits(deps: RateLimitDeps): RateLimits {
  return new RateLimits(deps);
}

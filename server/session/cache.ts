/**
 * Signed-in sessions as the proxy sees them, cached in process so that a proxied request costs no
 * database round trip. PostgreSQL stays the source of truth:
 *
 * - a trigger (db/migrations/0002, 0011) NOTIFYs `keygate_session` with the sid whenever a
 *   signed-in session's row is deleted or its sign-in changes (a row without a sign-in is cached,
 *   if at all, as "not signed in", which its deletion leaves true); every instance LISTENs and
 *   forgets that sid at once, so a revocation through any instance (or the CLI) holds on all of them;
 * - while the listening connection is down, the cache is bypassed: every lookup goes to the
 *   database (or fails closed with it). When the connection is back, the cache is cleared before
 *   it is used again, so a notification lost in the gap cannot keep a revoked session alive;
 * - entries also expire after a short TTL, a bound on staleness should a notification be lost on
 *   a connection that still looks alive.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../log.js';
import type { SessionAuth } from './types.js';

export const SESSION_CHANNEL = 'keygate_session';

interface Entry {
  auth: SessionAuth | null;
  until: number;
}

/** How long a forget is remembered: longer than any session read may take (see set). */
const FORGET_MEMORY_MS = 300_000;
const FORGET_MEMORY_MAX = 20_000;

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private live = false;
  /** When the channel last came up: a session read before then may predate a lost notification. */
  private liveSince = 0;
  /** Sessions forgotten lately, and when: a read begun before its forget must not be cached. */
  private readonly forgotten = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

  /** Whether cached answers may be used (the invalidation channel is up). */
  get isLive(): boolean {
    return this.live;
  }

  /** The cached sign-in (null: known to be anonymous), or undefined on a miss. */
  get(sid: string, now = Date.now()): SessionAuth | null | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(sid);
    if (!entry) return undefined;
    if (entry.until < now) {
      this.entries.delete(sid);
      return undefined;
    }
    return entry.auth;
  }

  /**
   * @param now when the caller began reading this session from the database (identity.ts takes
   *   it before its query). A read begun before the channel came back, or before a notification
   *   that this session ended, may be stale: it is used for this request but not cached.
   */
  set(sid: string, auth: SessionAuth | null, now = Date.now()): void {
    if (!this.live || now < this.liveSince) return;
    const forgottenAt = this.forgotten.get(sid);
    if (forgottenAt !== undefined && forgottenAt >= now) return;
    // Re-inserted, not updated in place: the Map's order (insertion) is then also expiry order,
    // and expired entries are dropped from its head as new ones come in. Without this, every
    // session ever seen would stay until maxEntries pushed it out (the soak's memory growth).
    this.entries.delete(sid);
    for (let i = 0; i < 4; i++) {
      const head = this.entries.entries().next().value;
      if (!head || (head[1].until >= now && this.entries.size < this.maxEntries)) break;
      this.entries.delete(head[0]);
    }
    this.entries.set(sid, { auth, until: now + this.ttlMs });
  }

  forget(sid: string, now = Date.now()): void {
    this.entries.delete(sid);
    this.forgotten.delete(sid);
    this.forgotten.set(sid, now);
    for (let i = 0; i < 4; i++) {
      const head = this.forgotten.entries().next().value;
      if (!head || (head[1] >= now - FORGET_MEMORY_MS && this.forgotten.size <= FORGET_MEMORY_MAX)) break;
      this.forgotten.delete(head[0]);
    }
  }

  /** Forgets sessions this instance has just ended (other instances hear through NOTIFY). */
  forgetAll(sids: Iterable<string>): void {
    for (const sid of sids) this.forget(sid);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The channel is up: start from empty, whatever happened while it was down. */
  goLive(now = Date.now()): void {
    this.entries.clear();
    this.forgotten.clear();
    this.liveSince = now;
    this.live = true;
  }

  /** The channel is down: stop trusting (and drop) everything cached. */
  goDark(): void {
    this.live = false;
    this.entries.clear();
  }
}

export interface SessionListener {
  /** Resolves once the first LISTEN is established (or failed). */
  ready: Promise<void>;
  /**
   * Resolves once every session change committed before the call has reached this instance: it
   * sends a probe on the channel and waits for it to come back (PostgreSQL delivers notifications
   * in commit order). Immediate while the channel is down, since the cache is not used then.
   */
  sync(db: pg.Pool, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Probe payloads; session ids never contain `~`. */
const PROBE_PREFIX = '~probe:';

/**
 * Keeps a dedicated connection LISTENing for ended sessions and feeds the cache; reconnects with
 * backoff when the connection drops.
 */
export function startSessionListener(connection: pg.ClientConfig, cache: SessionCache, log: Logger): SessionListener {
  let client: pg.Client | null = null;
  let stopped = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;
  /** When the channel was lost (ms since the epoch), until it is back: for the recovery log line. */
  let lostAt: number | undefined;
  let markReady: () => void = () => {};
  const probes = new Map<string, () => void>();
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const scheduleReconnect = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
    timer.unref();
    // At most 2 s between attempts: the cache (and its saving of a query per request) is back soon after PostgreSQL.
    retryMs = Math.min(retryMs * 2, 2_000);
  };

  const connect = async () => {
    const c = new pg.Client({ ...connection, keepAlive: true, application_name: 'keygate-session-listener' });
    client = c;
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = null;
      cache.goDark();
      lostAt ??= Date.now();
      if (!stopped) log.warn({ err: err?.message }, 'session invalidation channel lost; sessions are read from the database until it is back');
      c.end().catch(() => {});
      scheduleReconnect();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (msg) => {
      if (msg.channel !== SESSION_CHANNEL || !msg.payload) return;
      if (msg.payload.startsWith(PROBE_PREFIX)) {
        probes.get(msg.payload)?.();
        probes.delete(msg.payload);
      } else {
        cache.forget(msg.payload);
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${SESSION_CHANNEL}`);
      if (stopped || client !== c) return;
      retryMs = 250;
      cache.goLive();
      if (lostAt !== undefined) {
        log.info({ downMs: Date.now() - lostAt }, 'session invalidation channel back; the session cache starts empty');
        lostAt = undefined;
      }
    } catch (err) {
      lost(err as Error);
    } finally {
      markReady();
    }
  };

  void connect();
  return {
    ready,
    async sync(db, timeoutMs = 2_000) {
      if (!cache.isLive) return;
      const probe = `${PROBE_PREFIX}${randomUUID()}`;
      let timer: NodeJS.Timeout | undefined;
      const echoed = new Promise<void>((resolve) => {
        probes.set(probe, resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      await db.query('SELECT pg_notify($1, $2)', [SESSION_CHANNEL, probe]);
      await echoed;
      clearTimeout(timer);
      probes.delete(probe);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      cache.goDark();
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

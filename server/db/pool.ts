/** The PostgreSQL pool, small query helpers and transactions. Each capability owns its own SQL. */
import pg from 'pg';

export type Db = pg.Pool;
export type Queryable = pg.Pool | pg.PoolClient;

/** DATABASE_TIMEOUT's default: the bound on one database operation (see createPool). */
export const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;

/**
 * A pool where no operation waits forever, whatever state PostgreSQL is in (docs/reliability.md):
 * - getting a connection (a free one, or a new one: TCP, TLS, authentication) takes at most
 *   `timeoutMs`; a server that is down answers at once (ECONNREFUSED), one that hangs is given up;
 * - a statement runs at most `timeoutMs` on the server (statement_timeout, a clean error, the
 *   connection stays usable), and the client stops waiting for an answer a second later
 *   (query_timeout: a server that hangs, or a network that drops packets, never answers), and
 *   that connection is thrown away.
 * A request makes a few such operations at most; the first that fails ends it with a 503.
 */
export function createPool(connectionString: string, max = 10, timeoutMs = DEFAULT_DATABASE_TIMEOUT_MS): Db {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
    idleTimeoutMillis: 30_000,
    application_name: 'keygate',
  });
  // An idle client's error (e.g. the server restarted) must not crash the process; the pool drops it.
  pool.on('error', () => {});
  return pool;
}

/**
 * A row that one module writes inside a statement another module runs and completes (the session's
 * row inside the rate limit's statement: ratelimit/limits.ts), so that both happen in one round trip
 * and one commit, or neither.
 */
export interface RowWrite {
  /** Its parameters' values. */
  values: unknown[];
  /** The INSERT … SELECT, its parameters numbered from $`first`, its SELECT's rows taken `from` (a FROM … WHERE clause). */
  insert(first: number, from: string): string;
  /** Called once the statement has written the row. */
  written(): void;
}

/** Runs fn in a transaction; commits if it resolves, rolls back if it throws. */
export async function withTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that cannot even roll back (server gone, or timed out mid-statement) is
    // destroyed rather than given back to the pool for the next request to trip over.
    await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
    throw err;
  } finally {
    client.release(broken);
  }
}

/** PostgreSQL's unique_violation, optionally on a named constraint or index. */
/** The one row a statement always returns (INSERT … RETURNING, count(*)); a missing one is a bug, thrown. */
export function oneRow<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error('expected one row from the database, got none');
  return row;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** Network error codes of a socket to PostgreSQL that is refused, reset or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What node-postgres and pg-pool say when the server is gone or too slow (they set no code). */
const CLIENT_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/**
 * Whether an error means "the database is unavailable right now" (down, restarting, refusing
 * connections, too slow), rather than a bug: such a request is answered 503, never 500. SQLSTATE
 * class 08 (connection exception), 53 (insufficient resources: too many connections), 57P01-03
 * (shutting down, crashed, starting up) and 57014 (statement_timeout).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || ['57P01', '57P02', '57P03', '57014'].includes(code)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (CLIENT_MESSAGES.some((m) => message.startsWith(m))) return true;
  }
  return false;
}

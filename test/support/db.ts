/** A fresh, migrated database per test file, inside the run's PostgreSQL (see test/run.ts). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runMigrations } from '../../server/db/migrate.js';
import { createPool, type Db } from '../../server/db/pool.js';

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.KEYGATE_TEST_ADMIN_URL ?? process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('run the tests with `npm test` (it starts PostgreSQL), or set TEST_DATABASE_URL');
  return url;
}

/**
 * A connection to the run's PostgreSQL for creating and dropping databases, with every wait bounded:
 * a DROP DATABASE waits for every backend of the cluster (other files' too) to take its signal,
 * and one that never does would otherwise hold this file until the runner's timeout.
 */
function adminClient(): pg.Client {
  return new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 10_000, statement_timeout: 30_000, query_timeout: 35_000 });
}

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `kg_${randomBytes(6).toString('hex')}`;
  const admin = adminClient();
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const db = createPool(url.toString(), 10);
  if (opts.migrate !== false) await runMigrations(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      // The pool ends once every client it lent is back: one never given back (a leak in Keygate)
      // fails the test file here, saying so, instead of holding it until the runner's timeout.
      // Statements still running when the server closed end within DATABASE_TIMEOUT (10 s).
      let bound: NodeJS.Timeout | undefined;
      const ended = Promise.race([db.end().then(() => true), new Promise<false>((resolve) => (bound = setTimeout(() => resolve(false), 20_000)))]).finally(() =>
        clearTimeout(bound),
      );
      const ok = await ended;
      const c = adminClient();
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      if (!ok) throw new Error(`the pool of ${name} did not end in 20 s: ${db.totalCount - db.idleCount} of its clients were never given back`);
    },
  };
}

/** Row counts of the tables a ceremony may touch, to prove a failure wrote nothing. */
export async function rowCounts(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<{ users: string; credentials: string; invites_used: string; sessions: string }>(
    `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM credentials) AS credentials,
            (SELECT count(*) FROM invites WHERE used_at IS NOT NULL) AS invites_used,
            (SELECT count(*) FROM session WHERE sess ? 'auth') AS sessions`,
  );
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
}

/**
 * Runs `sql` (a LOCK TABLE, a SELECT … FOR UPDATE) in a transaction of its own connection and keeps
 * the lock until release(): Keygate stops at the step that needs it (crash and shutdown tests).
 */
export async function holdLock(databaseUrl: string, sql: string, params: unknown[] = [], name = 'test-lock'): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: name });
  // The test's database may be dropped (WITH FORCE) with this connection still open: an 'error'
  // event then, which must not become an uncaught exception in the test's process.
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(sql, params);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Counts the statements a pool runs while fn does its work (a counter, not a stand-in); with `which`, only those whose SQL it accepts. */
export async function countStatements(db: pg.Pool, fn: () => Promise<void>, which: (sql: string) => boolean = () => true): Promise<number> {
  let n = 0;
  const original = db.query.bind(db);
  (db as { query: unknown }).query = (...args: unknown[]) => {
    const sql = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
    if (which(sql)) n++;
    return (original as (...a: unknown[]) => unknown)(...args);
  };
  try {
    await fn();
  } finally {
    (db as { query: unknown }).query = original;
  }
  return n;
}

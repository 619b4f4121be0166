/**
 * The schema: migrations apply once on an empty database, and the constraints the code relies on
 * are enforced by PostgreSQL itself (append-only audit log, unique credential ids, usernames
 * unique case-insensitively, connect-pg-simple's session table ready before any request).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate } from 'postgres-migrations';
import { MIGRATIONS_DIR, migrationsCurrent, runMigrations } from '../server/db/migrate.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

/** The SQLSTATE of the error fn rejects with. */
async function sqlState(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`;
  }
  assert.fail('the statement succeeded');
}

async function insertUser(database: TestDatabase, username: string): Promise<string> {
  const { rows } = await database.db.query<{ id: string }>('INSERT INTO users (username, user_handle) VALUES ($1, $2) RETURNING id', [
    username,
    randomBytes(32),
  ]);
  return String(rows[0].id);
}

async function insertCredential(database: TestDatabase, userId: string, credentialId: Buffer): Promise<void> {
  await database.db.query(
    `INSERT INTO credentials (credential_id, user_id, public_key, aaguid, device_type, backed_up, attestation_format, nickname)
     VALUES ($1, $2, $3, '00000000-0000-0000-0000-000000000000', 'singleDevice', false, 'none', 'key')`,
    [credentialId, userId, randomBytes(77)],
  );
}

describe('migrations on an empty database', () => {
  let database: TestDatabase;
  let firstRun: string[];
  before(async () => {
    database = await createTestDatabase({ migrate: false });
  });
  after(() => database?.drop());

  test('an empty database has no schema before migrating', async () => {
    const { rows } = await database.db.query(`SELECT 1 FROM pg_class WHERE relname IN ('users', 'session', 'migrations') AND relkind = 'r'`);
    assert.equal(rows.length, 0);
    // migrationsCurrent must not claim a fresh database is ready.
    assert.equal(await migrationsCurrent(database.db).catch(() => false), false);
  });

  test('runMigrations applies every migration file, in order, and returns their names', async () => {
    firstRun = await runMigrations(database.db);
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    assert.ok(files.length >= 1);
    assert.deepEqual(firstRun, files);
    assert.equal(await migrationsCurrent(database.db), true);
  });

  test('each migration is recorded once in the migrations table, with its hash', async () => {
    const { rows } = await database.db.query<{ id: number; name: string; hash: string; n: string }>(
      `SELECT id, name, hash, count(*) OVER (PARTITION BY id) AS n FROM migrations WHERE id > 0 ORDER BY id`,
    );
    // postgres-migrations records the file's number as id and the rest of its name as name.
    assert.deepEqual(
      rows.map((r) => `${String(r.id).padStart(4, '0')}_${r.name}.sql`),
      firstRun,
    );
    for (const r of rows) {
      assert.equal(Number(r.n), 1, `migration ${r.id} recorded ${r.n} times`);
      assert.match(r.hash, /^[0-9a-f]{40}$/);
    }
  });

  test('a second run applies nothing and records nothing new', async () => {
    const before = await database.db.query('SELECT count(*)::int AS n FROM migrations');
    assert.deepEqual(await runMigrations(database.db), []);
    const afterRun = await database.db.query('SELECT count(*)::int AS n FROM migrations');
    assert.equal(afterRun.rows[0].n, before.rows[0].n);
  });

  test("the session table exists with connect-pg-simple's columns before any request", async () => {
    const { rows } = await database.db.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'session' ORDER BY ordinal_position`,
    );
    const columns = Object.fromEntries(rows.map((r) => [r.column_name, r]));
    assert.deepEqual(Object.keys(columns).sort(), ['expire', 'sess', 'sid']);
    assert.equal(columns.sid.data_type, 'character varying');
    assert.equal(columns.sess.data_type, 'jsonb');
    assert.equal(columns.expire.data_type, 'timestamp with time zone');
    for (const r of rows) assert.equal(r.is_nullable, 'NO', `${r.column_name} must be NOT NULL`);
    const pk = await database.db.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = 'session'::regclass AND i.indisprimary`,
    );
    assert.deepEqual(
      pk.rows.map((r) => r.attname),
      ['sid'],
    );
    // connect-pg-simple's own upsert works against it.
    await database.db.query(
      `INSERT INTO session (sess, expire, sid) SELECT $1, to_timestamp($2), $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2) RETURNING sid`,
      [JSON.stringify({ cookie: {} }), Date.now() / 1000 + 60, 'sid-1'],
    );
  });

  test('two instances migrating at once apply each migration exactly once', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const [a, b] = await Promise.all([runMigrations(fresh.db), runMigrations(fresh.db)]);
      assert.deepEqual([...a, ...b].sort(), firstRun);
      const { rows } = await fresh.db.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations WHERE id > 0');
      assert.equal(rows[0].n, firstRun.length);
    } finally {
      await fresh.drop();
    }
  });
});

describe('schema constraints', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('audit_events accepts inserts but refuses UPDATE, DELETE and TRUNCATE', async () => {
    await database.db.query(`INSERT INTO audit_events (actor, event, outcome) VALUES ('system', 'test_event', 'success')`);
    await database.db.query(`INSERT INTO audit_events (actor, event, outcome) VALUES ('system', 'test_event', 'failure')`);
    for (const statement of [
      `UPDATE audit_events SET outcome = 'failure' WHERE event = 'test_event'`,
      `UPDATE audit_events SET details = '{"x":1}'`,
      `DELETE FROM audit_events WHERE event = 'test_event'`,
      `DELETE FROM audit_events`,
      `TRUNCATE audit_events`,
    ]) {
      await assert.rejects(database.db.query(statement), /append-only/, statement);
    }
    const { rows } = await database.db.query<{ n: number; failures: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'failure')::int AS failures FROM audit_events WHERE event = 'test_event'`,
    );
    assert.deepEqual(rows[0], { n: 2, failures: 1 });
  });

  test('TRUNCATE of audit_events is refused even when the table is empty', async () => {
    const fresh = await createTestDatabase();
    try {
      await assert.rejects(fresh.db.query('TRUNCATE audit_events'), /append-only/);
    } finally {
      await fresh.drop();
    }
  });

  test('a credential id is unique across all users', async () => {
    const alice = await insertUser(database, 'cred_alice');
    const bob = await insertUser(database, 'cred_bob');
    const id = randomBytes(16);
    await insertCredential(database, alice, id);
    assert.equal(await sqlState(() => insertCredential(database, bob, id)), '23505');
    assert.equal(await sqlState(() => insertCredential(database, alice, id)), '23505');
    await insertCredential(database, bob, randomBytes(16));
  });

  test('usernames are unique case-insensitively', async () => {
    await insertUser(database, 'Carol');
    assert.equal(await sqlState(() => insertUser(database, 'carol')), '23505');
    assert.equal(await sqlState(() => insertUser(database, 'CAROL')), '23505');
    await insertUser(database, 'carol2');
  });

  test('usernames outside the Gogs pattern are refused by the database too', async () => {
    for (const name of ['-x', '.x', 'a b', 'x'.repeat(36), '']) {
      assert.equal(await sqlState(() => insertUser(database, name)), '23514', JSON.stringify(name));
    }
  });

  test('a settings key holds one value, so instances cannot fork the session secret', async () => {
    await database.db.query(`INSERT INTO settings (key, value) VALUES ('k', 'v1')`);
    assert.equal(await sqlState(() => database.db.query(`INSERT INTO settings (key, value) VALUES ('k', 'v2')`)), '23505');
  });
});

describe('a failing migration', () => {
  let database: TestDatabase;
  let dir: string;
  before(async () => {
    database = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-migrations-'));
    for (const f of await readdir(MIGRATIONS_DIR)) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'));
    const next = String(files.length + 1).padStart(4, '0');
    await writeFile(
      path.join(dir, `${next}_broken.sql`),
      `CREATE TABLE half_done (x int);\nINSERT INTO half_done VALUES (1);\nALTER TABLE users ADD COLUMN half_done_flag boolean;\nSELECT 1 / 0;\n`,
    );
  });
  after(async () => {
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('rolls back completely, keeps the earlier migrations, and stays pending', async () => {
    const client = await database.db.connect();
    try {
      await assert.rejects(migrate({ client }, dir), /division by zero/);
    } finally {
      client.release();
    }
    const tables = await database.db.query(`SELECT 1 FROM pg_class WHERE relname = 'half_done'`);
    assert.equal(tables.rows.length, 0, 'the broken migration left a table behind');
    const column = await database.db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'half_done_flag'`);
    assert.equal(column.rows.length, 0, 'the broken migration left a column behind');
    const { rows } = await database.db.query<{ name: string }>('SELECT name FROM migrations WHERE id > 0 ORDER BY id');
    assert.ok(rows.length >= 1);
    assert.ok(!rows.some((r) => r.name === 'broken'), 'the broken migration was recorded');
    // The real migrations still apply cleanly: nothing pending from them.
    assert.deepEqual(await runMigrations(database.db), []);
  });
});

describe('0005: stored key names cleaned of control and bidi characters', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('names stored before it lose C1 controls, bidi overrides and separators; a name left empty becomes "Security key"; clean names are untouched', async () => {
    const userId = await insertUser(database, 'old-names');
    const names: Array<[string, string]> = [
      ['Work\u009b31mkey', 'Work31mkey'],
      ['\u202egnp.exe', 'gnp.exe'],
      ['a\u2066b\u2069\u200e', 'ab'],
      ['\u009b\u202e', 'Security key'],
      ['Clé 鍵 👩\u200d💻', 'Clé 鍵 👩\u200d💻'],
    ];
    for (const [i, [stored]] of names.entries()) {
      await insertCredential(database, userId, randomBytes(16 + i));
      await database.db.query('UPDATE credentials SET nickname = $1 WHERE id = (SELECT max(id) FROM credentials)', [stored]);
    }
    // The migration as shipped, run again over these rows.
    await database.db.query(await readFile(path.join(MIGRATIONS_DIR, '0005_clean_nicknames.sql'), 'utf8'));
    const { rows } = await database.db.query('SELECT nickname FROM credentials ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.nickname),
      names.map(([, cleaned]) => cleaned),
    );
  });
});

describe('0010: who ended a key, for keys ended before the column existed', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('a key whose first ending in the audit log is its removal by its owner is marked so; revoked keys, live keys and keys revoked then removed are not', async () => {
    const userId = await insertUser(database, 'old-endings');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await insertCredential(database, userId, randomBytes(20 + i));
      ids.push(String((await database.db.query<{ id: string }>('SELECT max(id) AS id FROM credentials')).rows[0].id));
    }
    const [removed, revoked, live, revokedThenRemoved] = ids;
    const end = (id: string, event: string) =>
      database.db.query(`INSERT INTO audit_events (actor, subject_user_id, credential_id, event, outcome) VALUES ('test', $1, $2, $3, 'success')`, [
        userId,
        id,
        event,
      ]);
    await database.db.query('UPDATE credentials SET revoked_at = now() WHERE id = ANY($1::bigint[])', [[removed, revoked, revokedThenRemoved]]);
    await end(removed, 'credential_removed');
    await end(revoked, 'credential_revoked');
    await end(revokedThenRemoved, 'credential_revoked');
    await end(revokedThenRemoved, 'credential_removed');
    await database.db.query(`INSERT INTO audit_events (actor, credential_id, event, outcome) VALUES ('test', $1, 'credential_removed', 'failure')`, [live]);

    // The shipped migration's backfill (the ALTER TABLE before it has run with the others).
    const sql = await readFile(path.join(MIGRATIONS_DIR, '0010_credential_removed_by_owner.sql'), 'utf8');
    const backfill = sql.slice(sql.indexOf('UPDATE credentials c'));
    await database.db.query('UPDATE credentials SET removed_by_owner = false');
    await database.db.query(backfill);
    const { rows } = await database.db.query<{ id: string; removed_by_owner: boolean }>(
      'SELECT id, removed_by_owner FROM credentials WHERE user_id = $1 ORDER BY id',
      [userId],
    );
    assert.deepEqual(
      rows.map((r) => r.removed_by_owner),
      [true, false, false, false],
    );
  });
});

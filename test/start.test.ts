/**
 * `npm start` as deployed: the compiled entry (`node dist/main.js`) in its own process,
 * with an external database or its own embedded PostgreSQL under DATA_DIR, judged by its logs,
 * what it serves, and how it stops.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MIGRATIONS_DIR } from '../server/db/migrate.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { runCli } from './support/cli.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { enroll } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { listenEnv, MainProcess, stopLeftCluster } from './support/main-process.js';
import { freePort, isListening, sleep } from './support/net.js';

describe('npm start with DATABASE_URL', () => {
  let database: TestDatabase;
  let gogs: FakeGogs;
  let app: MainProcess;
  let url: string;

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    gogs = await startFakeGogs();
    const listening = await listenEnv(gogs.url, { DATABASE_URL: database.url });
    url = listening.url;
    app = new MainProcess(listening.env);
  });
  after(async () => {
    await app?.kill();
    await gogs?.close();
    await database?.drop();
  });

  test('migrates the database and logs "keygate listening" with its public URL', { timeout: 60_000 }, async () => {
    const line = await app.waitForLog('keygate listening', 45_000);
    assert.equal(line.url, url);
    assert.equal(line.gogs, gogs.url);
    assert.equal(line.rpId, 'localhost');
    const migrated = app.logs().find((l) => l.msg === 'migrations applied');
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(migrated?.applied, files);
    const { rows } = await database.db.query(`SELECT to_regclass('public.session') AS t`);
    assert.equal(rows[0].t, 'session');
  });

  test('serves the sign-in page and sends an anonymous visitor of / to it', async () => {
    const client = new TestClient(url);
    const login = await client.get('/-/login');
    assert.equal(login.status, 200);
    assert.match(login.headers.get('content-type') ?? '', /text\/html/);
    const home = await client.get('/');
    assert.equal(home.status, 303);
    assert.equal(home.location, '/-/login?return_to=%2F');
  });

  test('keeps the session secret it generated in the database, not in its logs', async () => {
    const { rows } = await database.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'session_secret'`);
    assert.equal(rows.length, 1);
    assert.ok(rows[0].value.length >= 32);
    assert.ok(!app.stdout.includes(rows[0].value) && !app.stderr.includes(rows[0].value));
    assert.ok(!app.stdout.includes(new URL(database.url).password), 'the database password is logged');
  });

  test('SIGTERM lets an in-flight request finish, then exits 0 promptly', { timeout: 30_000 }, async () => {
    // /api/v1 is passed through without sign-in; the fake Gogs holds the answer back.
    gogs.clear();
    gogs.setDelay(1500);
    const inFlight = fetch(`${url}/api/v1/version`).then(async (r) => ({ status: r.status, body: await r.text() }));
    inFlight.catch(() => {});
    for (let i = 0; i < 200 && gogs.requests.length === 0; i++) await sleep(25);
    assert.equal(gogs.requests.length, 1, 'the request did not reach Gogs');

    const started = Date.now();
    app.child.kill('SIGTERM');
    const answered = await inFlight;
    assert.equal(answered.status, 200, 'the in-flight request was cut off');
    assert.match(answered.body, /\/api\/v1\/version/);
    const exit = await app.waitForExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${app.stderr}`);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(app.logs().some((l) => l.msg === 'stopped'));
    assert.equal(await isListening(Number(new URL(url).port)), false);
    gogs.setDelay(0);
  });
});

describe('LOG_FORMAT', () => {
  let database: TestDatabase;
  let gogs: FakeGogs;
  before(async () => {
    database = await createTestDatabase({ migrate: false });
    gogs = await startFakeGogs();
  });
  after(async () => {
    await gogs?.close();
    await database?.drop();
  });

  test('pretty: one readable line per event (time, level, message), its fields below; never JSON', { timeout: 60_000 }, async () => {
    const { env } = await listenEnv(gogs.url, { DATABASE_URL: database.url, LOG_FORMAT: 'pretty' });
    const app = new MainProcess(env);
    try {
      for (let i = 0; i < 450 && !app.stdout.includes('keygate listening'); i++) await sleep(100);
      assert.match(app.stdout, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO: keygate listening\n {4}url: "http:\/\/localhost:\d+"$/m);
      assert.equal(app.logs().length, 0, 'JSON lines in pretty output');
    } finally {
      await app.kill();
    }
  });

  test('auto (the default) on a pipe, as under a service manager: JSON lines', { timeout: 60_000 }, async () => {
    const { env } = await listenEnv(gogs.url, { DATABASE_URL: database.url });
    const app = new MainProcess(env);
    try {
      const line = await app.waitForLog('keygate listening', 45_000);
      assert.equal(line.level, 30);
      assert.doesNotMatch(app.stdout, /INFO: /);
    } finally {
      await app.kill();
    }
  });
});

describe('npm start with a bad configuration', () => {
  test('PORT=notaport exits non-zero and names PORT on stderr', { timeout: 30_000 }, async () => {
    const app = new MainProcess({ PORT: 'notaport', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', LOG_LEVEL: 'info' });
    try {
      const exit = await app.waitForExit(20_000);
      assert.ok(exit, 'it did not exit');
      assert.notEqual(exit.code, 0);
      assert.match(app.stderr, /\bPORT\b/);
      assert.doesNotMatch(app.stdout, /keygate listening/);
    } finally {
      await app.kill();
    }
  });
});

describe('npm start with embedded PostgreSQL (no DATABASE_URL)', () => {
  let dataDir: string;
  let gogs: FakeGogs;
  let env: Record<string, string>;
  let url: string;
  let pgPort: number;
  const started: MainProcess[] = [];
  const browser = () => new TestClient(url);
  let client: TestClient;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-start-'));
    gogs = await startFakeGogs();
    pgPort = await freePort();
    ({ url, env } = await listenEnv(gogs.url, { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) }));
  });
  after(async () => {
    for (const app of started) await app.kill();
    // If a Keygate process died without stopping its cluster, stop the postmaster it left.
    if (dataDir) await stopLeftCluster(path.join(dataDir, 'postgres'), pgPort);
    await gogs?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('starts its own PostgreSQL under DATA_DIR and serves the sign-in page', { timeout: 90_000 }, async () => {
    const app = new MainProcess(env);
    started.push(app);
    const line = await app.waitForLog('keygate listening', 80_000);
    assert.equal(line.url, url);
    const embedded = app.logs().find((l) => l.msg === 'using embedded PostgreSQL');
    assert.equal(embedded?.port, pgPort);
    assert.ok(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')), 'no cluster under DATA_DIR');
    assert.equal(await isListening(pgPort), true);
    const password = (await readFile(path.join(dataDir, 'postgres.password'), 'utf8')).trim();
    assert.ok(password.length >= 16);
    assert.ok(!app.stdout.includes(password) && !app.stderr.includes(password), 'the database password is logged');

    const login = await browser().get('/-/login');
    assert.equal(login.status, 200);
    const home = await browser().get('/');
    assert.equal(home.status, 303);
    assert.match(home.location ?? '', /^\/-\/login/);
  });

  test('the CLI reaches the running embedded database; its invite enrols a key', { timeout: 60_000 }, async () => {
    const r = await runCli(['invite', 'alice'], env);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const m = new RegExp(`^${url.replace(/[.:/]/g, '\\$&')}/-/enroll/([A-Za-z0-9_-]{43})\\n$`).exec(r.stdout);
    assert.ok(m, r.stdout);
    // The CLI must not have stopped the cluster the server is using.
    assert.equal(await isListening(pgPort), true);

    client = browser();
    const enrolled = await enroll(client, new SoftwareAuthenticator(), m[1]);
    assert.equal(enrolled.status, 200, enrolled.text);
    gogs.clear();
    const page = await client.get('/');
    assert.equal(page.status, 200);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['alice']);
  });

  test('SIGTERM lets an in-flight request finish, exits 0 and stops the embedded PostgreSQL', { timeout: 40_000 }, async () => {
    const app = started[0];
    gogs.clear();
    gogs.setDelay(1000);
    const inFlight = client.get('/alice/repo');
    inFlight.catch(() => {});
    for (let i = 0; i < 200 && gogs.requests.length === 0; i++) await sleep(25);
    assert.equal(gogs.requests.length, 1, 'the request did not reach Gogs');
    const stopping = Date.now();
    app.child.kill('SIGTERM');
    const answered = await inFlight;
    gogs.setDelay(0);
    assert.equal(answered.status, 200, 'the in-flight request was cut off');
    assert.match(answered.text, /Signed in as alice/);
    const exit = await app.waitForExit(30_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `stdout: ${app.stdout}\nstderr: ${app.stderr}`);
    assert.ok(Date.now() - stopping < 10_000, `took ${Date.now() - stopping} ms to stop`);
    for (let i = 0; i < 50 && (await isListening(pgPort)); i++) await sleep(100);
    assert.equal(await isListening(pgPort), false, 'the embedded PostgreSQL is still running');
  });

  test('after a restart on the same DATA_DIR, the same session cookie still reaches Gogs as the user', { timeout: 90_000 }, async () => {
    assert.ok(client, 'needs the enrolled browser from the test before');
    const app = new MainProcess(env);
    started.push(app);
    await app.waitForLog('keygate listening', 80_000);
    assert.equal(
      app.logs().some((l) => l.msg === 'migrations applied'),
      false,
      'the schema was applied again',
    );
    gogs.clear();
    const page = await client.get('/');
    assert.equal(page.status, 200, `signed out by the restart: ${page.status} ${page.location}`);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['alice']);

    app.child.kill('SIGTERM');
    assert.deepEqual(await app.waitForExit(30_000), { code: 0, signal: null });
  });

  test(
    'SIGTERM during start-up (the embedded PostgreSQL up, Keygate not yet serving) is kept: start-up ends, then a clean stop',
    { timeout: 60_000 },
    async () => {
      const app = new MainProcess(env);
      started.push(app);
      await app.waitForLog('using embedded PostgreSQL', 45_000);
      app.child.kill('SIGTERM');
      assert.deepEqual(await app.waitForExit(30_000), { code: 0, signal: null }, app.stderr);
      assert.ok(
        app.logs().some((l) => l.msg === 'stopped'),
        app.stdout,
      );
      assert.equal(app.unexpectedStderr(), '');
      for (let i = 0; i < 50 && (await isListening(pgPort)); i++) await sleep(100);
      assert.equal(await isListening(pgPort), false, 'the embedded PostgreSQL is still running');
    },
  );
});

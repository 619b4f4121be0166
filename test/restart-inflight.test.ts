/**
 * Graceful shutdown and restart with work in flight (issue 8, "Reliability"): SIGTERM while a git
 * push streams through the pass-through and a sign-in is inside its database work. They finish
 * within SHUTDOWN_TIMEOUT; a ceremony still stuck at the bound gets a 503, Keygate still exits 0, and
 * the database holds that ceremony whole or not at all. A Keygate restarted on the same database
 * serves the same session cookies. (test/shutdown.test.ts covers a signed-in upload and the cut
 * at the bound; this adds git, a ceremony, and the restart.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createInvite } from '../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, holdLock as holdLockOn, type TestDatabase } from './support/db.js';
import { enroll } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { sleep } from './support/net.js';
import { enrolPerson, pageView, startChild, type ChildKeygate, type Person } from './support/scenario.js';
import { streamingPost } from './support/streaming.js';

/** A git push (git-receive-pack POST) streamed in 64 KiB chunks with an access token. */
function gitPush(kg: ChildKeygate, person: Person) {
  return streamingPost(
    `${kg.url}/${person.name}/repo.git/git-receive-pack`,
    {
      authorization: `Basic ${Buffer.from(`${person.token}:x`).toString('base64')}`,
      'content-type': 'application/x-git-receive-pack-request',
    },
    20,
  );
}

let database: TestDatabase;
let gogs: FakeGogs;
let admin: pg.Pool;

const holdLock = (sql: string, params: unknown[]) => holdLockOn(database.url, sql, params, 'restart-test-lock');

async function blockedAt(pattern: RegExp): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await admin.query(
      `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keygate' AND wait_event_type = 'Lock'`,
    );
    if (rows.some((r) => pattern.test(r.query))) return;
    await sleep(20);
  }
  throw new Error(`Keygate never blocked at ${pattern}`);
}

const figures: Record<string, unknown> = {};

before(async () => {
  database = await createTestDatabase({ migrate: false });
  gogs = await startFakeGogs();
  admin = new pg.Pool({ connectionString: database.url, application_name: 'restart-test', max: 2 });
  // An idle connection ended by the server (the database dropped WITH FORCE at the end) is no failure.
  admin.on('error', () => {});
});
after(async () => {
  console.log(`# reliability: SIGTERM with work in flight, restart\n${JSON.stringify(figures, null, 1)}`);
  await admin?.end();
  await gogs?.close();
  await database?.drop();
});

describe('SIGTERM with a git push and a sign-in in flight (SHUTDOWN_TIMEOUT=10s), then a restart', () => {
  let kg: ChildKeygate;
  let alice: Person;
  let signedInDuringDrain: string | undefined;

  before(async () => {
    kg = await startChild(database.url, gogs, { SHUTDOWN_TIMEOUT: '10s' });
    alice = await enrolPerson(admin, kg, gogs, 'alice');
  });
  after(() => kg?.app.kill());

  test('the push and the sign-in in flight both finish during the drain, intact; exit 0 before the bound', { timeout: 60_000 }, async () => {
    const push = gitPush(kg, alice);
    await push.send(8);
    // A sign-in whose counter update waits on a lock: it is inside its database work at SIGTERM.
    const browser = new TestClient(kg.url);
    const options = await browser.post('/-/api/login/options', {});
    assert.equal(options.status, 200);
    const response = await alice.key.authenticate(options.json, browser.origin);
    const lock = await holdLock('SELECT 1 FROM credentials WHERE credential_id = $1 FOR UPDATE', [Buffer.from(alice.credentialId, 'base64url')]);
    const verify = browser.post('/-/api/login/verify', { response });
    await blockedAt(/UPDATE credentials/);

    const stopping = Date.now();
    kg.app.child.kill('SIGTERM');
    await kg.app.waitForLog('shutting down: draining in-flight requests', 10_000);
    await sleep(300);
    await lock.release();
    const signedIn = await verify;
    assert.equal(signedIn.status, 200, signedIn.text);
    signedInDuringDrain = browser.cookieHeader();
    await push.send(8);
    push.end();
    const pushed = await push.response;
    assert.equal(pushed.status, 200, pushed.body);
    const sent = push.sent();
    const received = JSON.parse(pushed.body);
    assert.deepEqual({ bytes: received.bytes, sha256: received.sha256, user: received.user }, { ...sent, user: 'alice' });
    const exit = await kg.app.waitForExit(15_000);
    figures.drainExitMs = Date.now() - stopping;
    assert.deepEqual(exit, { code: 0, signal: null }, kg.app.stderr);
    assert.ok(!kg.app.logs().some((l) => String(l.msg).startsWith('SHUTDOWN_TIMEOUT reached')), 'nothing had to be cut');
  });

  test('a Keygate restarted on the same database serves the same sessions, including the one signed in during the drain', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const again = await startChild(database.url, gogs, {}, { url: kg.url, env: { ...kg.env, SHUTDOWN_TIMEOUT: '10s' } });
    figures.restartMs = Date.now() - started;
    try {
      for (const cookie of [alice.client.cookieHeader(), signedInDuringDrain]) {
        const page = await pageView(again, cookie, 'alice');
        assert.equal(page.status, 200, page.body);
        assert.match(page.text, /Signed in as alice/);
      }
      assert.equal(gogs.last()?.authHeaderValues.join(), 'alice');
    } finally {
      await again.app.kill();
    }
  });
});

describe('SIGTERM with an enrolment stuck in the database past SHUTDOWN_TIMEOUT=1s (DATABASE_TIMEOUT=3s)', () => {
  test(
    'the enrolment gets a 503 at the bound, Keygate still exits 0, and neither the credential nor the used invite is stored',
    { timeout: 60_000 },
    async () => {
      const kg = await startChild(database.url, gogs, { SHUTDOWN_TIMEOUT: '1s', DATABASE_TIMEOUT: '3s' });
      try {
        const { token, invite } = await createInvite(admin, kg.config, { username: 'stuck', createdBy: 'test' });
        const browser = new TestClient(kg.url);
        const options = await browser.post('/-/api/enroll/options', { token });
        assert.equal(options.status, 200);
        const key = new SoftwareAuthenticator();
        const response = await key.register(options.json, browser.origin);
        const lock = await holdLock('LOCK TABLE credentials IN SHARE MODE', []);
        const verify = browser.post('/-/api/enroll/verify', { token, response }).then(
          (r) => `${r.status} ${r.json?.error?.code}`,
          () => 'cut',
        );
        await blockedAt(/INSERT INTO credentials/);
        const stopping = Date.now();
        kg.app.child.kill('SIGTERM');
        const answer = await verify;
        figures.stuckCeremonyAnsweredMs = Date.now() - stopping;
        figures.stuckCeremonyAnswer = answer;
        assert.equal(answer, '503 shutting_down', 'at SHUTDOWN_TIMEOUT the browser is told Keygate is restarting');
        const exit = await kg.app.waitForExit(20_000);
        figures.stuckExitMs = Date.now() - stopping;
        await lock.release();
        assert.deepEqual(exit, { code: 0, signal: null }, kg.app.stderr);
        assert.ok(kg.app.logs().some((l) => String(l.msg).startsWith('SHUTDOWN_TIMEOUT reached')));
        const { rows } = await admin.query(`SELECT used_at FROM invites WHERE id = $1`, [invite.id]);
        assert.equal(rows[0].used_at, null, 'the invite is unused');
        assert.equal((await admin.query(`SELECT 1 FROM users WHERE username = 'stuck'`)).rowCount, 0, 'no user, no credential');
        // And the same invite works on the next start.
        const next = await startChild(database.url, gogs);
        try {
          assert.equal((await enroll(new TestClient(next.url), new SoftwareAuthenticator(), token)).status, 200);
        } finally {
          await next.app.kill();
        }
      } finally {
        await kg.app.kill();
      }
    },
  );
});

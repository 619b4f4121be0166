/**
 * kill -9 in the middle of a ceremony (issue 8, "Reliability"). Keygate runs as a child process;
 * the test holds a PostgreSQL lock on what one step of the ceremony writes, so the child blocks
 * inside that step (seen in pg_stat_activity), then SIGKILLs it, lets go of the lock and checks
 * what the database holds:
 * - enrolment: the credential stored and the invite used, or neither (and then the same invite
 *   still works);
 * - sign-in: the counter and last use, the session and its audit row all written (one statement)
 *   or none of them.
 * No test hook in Keygate: only locks a DBA could take.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createInvite } from '../server/enrollment/invites.js';
import { sessionKey } from '../server/session/key.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, holdLock as holdLockOn, type TestDatabase } from './support/db.js';
import { enroll, signIn } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { sleep } from './support/net.js';
import { startChild, type ChildKeygate } from './support/scenario.js';

let database: TestDatabase;
let gogs: FakeGogs;
/** The test's own connections (application_name crash-test, so never mistaken for Keygate's). */
let admin: pg.Pool;

const q = async <T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []) => (await admin.query<T>(sql, params)).rows;

/** A transaction that holds a lock until released. */
const holdLock = (sql: string, params: unknown[] = []) => holdLockOn(database.url, sql, params, 'crash-test-lock');

/** Waits until one of Keygate's connections waits for a lock in a statement matching `pattern`. */
async function blockedAt(pattern: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await q<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keygate' AND wait_event_type = 'Lock'`,
    );
    const hit = rows.find((r) => pattern.test(r.query));
    if (hit) return hit.query;
    if (Date.now() > deadline) throw new Error(`Keygate never blocked at ${what}; waiting: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
}

/** Waits until none of Keygate's backends is inside a transaction or a statement any more. */
async function keygateBackendsSettled(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const [{ n }] = await q<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keygate' AND state <> 'idle'`,
    );
    if (Number(n) === 0) return;
    await sleep(20);
  }
  throw new Error('Keygate backends still busy after its death');
}

/** One step of a kill: the lock that stops Keygate there, and the statement it is then stuck in. */
interface Step {
  lock: () => Promise<{ release: () => Promise<void> }>;
  stuckIn: RegExp;
  what: string;
}

/**
 * Sends `request`, walks Keygate through `steps` (each lock taken before the previous one is let
 * go, so Keygate moves exactly one step on), SIGKILLs it at the last, then lets everything go.
 */
async function killDuring(kg: ChildKeygate, request: () => Promise<unknown>, steps: Step[]): Promise<{ stuckIn: string; answered: boolean }> {
  let held = await steps[0].lock();
  const inFlight = request().then(
    () => true,
    () => false,
  );
  let stuckIn = await blockedAt(steps[0].stuckIn, steps[0].what);
  for (const step of steps.slice(1)) {
    const next = await step.lock();
    await held.release();
    held = next;
    stuckIn = await blockedAt(step.stuckIn, step.what);
  }
  kg.app.child.kill('SIGKILL');
  const exit = await kg.app.waitForExit(10_000);
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
  await held.release();
  await keygateBackendsSettled();
  return { stuckIn, answered: await inFlight };
}

const lockTable =
  (table: string): Step['lock'] =>
  () =>
    holdLock(`LOCK TABLE ${table} IN SHARE MODE`);
const lockRow =
  (table: string, where: string, value: () => unknown): Step['lock'] =>
  () =>
    holdLock(`SELECT 1 FROM ${table} WHERE ${where} = $1 FOR UPDATE`, [value()]);

/** The key of the session in a browser's signed cookie (how its row is stored). */
function sidOf(client: TestClient, kg: ChildKeygate): string {
  const raw = decodeURIComponent(client.cookies.get(kg.config.sessionCookieName) ?? '');
  assert.ok(raw.startsWith('s:'));
  return sessionKey(raw.slice(2, raw.lastIndexOf('.')));
}

/** What an enrolment left behind for `username` and its invite. */
async function enrolmentState(username: string, inviteId: string) {
  const [invite] = await q(`SELECT used_at IS NOT NULL AS used, used_by_credential FROM invites WHERE id = $1`, [inviteId]);
  const users = await q(`SELECT id FROM users WHERE username = $1`, [username]);
  const credentials = await q(`SELECT c.id FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = $1`, [username]);
  const audits = await q(`SELECT event FROM audit_events WHERE subject_username = $1 AND outcome = 'success' ORDER BY id`, [username]);
  const sessions = await q(`SELECT sid FROM session WHERE sess -> 'auth' ->> 'username' = $1`, [username]);
  return {
    used: invite.used as boolean,
    usedBy: invite.used_by_credential as string | null,
    users: users.length,
    credentials: credentials.map((c) => String(c.id)),
    audits: audits.map((a) => a.event),
    sessions: sessions.length,
  };
}

/** The sign-in columns of a credential. */
async function credentialUse(credentialId: string) {
  const [row] = await q(
    `SELECT sign_count::int AS sign_count, last_used_at IS NOT NULL AS used, last_used_ip IS NOT NULL AS ip, last_used_user_agent IS NOT NULL AS ua
       FROM credentials WHERE credential_id = $1`,
    [Buffer.from(credentialId, 'base64url')],
  );
  return row as { sign_count: number; used: boolean; ip: boolean; ua: boolean };
}

const figures: Array<Record<string, unknown>> = [];

before(async () => {
  database = await createTestDatabase({ migrate: false });
  gogs = await startFakeGogs();
  admin = new pg.Pool({ connectionString: database.url, application_name: 'crash-test', max: 3 });
  // An idle connection ended by the server (the database dropped WITH FORCE at the end) is no failure.
  admin.on('error', () => {});
});
after(async () => {
  console.log(`# reliability: kill -9 mid-ceremony\n${JSON.stringify(figures, null, 1)}`);
  await admin?.end();
  await gogs?.close();
  await database?.drop();
});

describe('kill -9 mid-enrolment: the credential stored and the invite used, or neither', () => {
  const pending: Array<{ username: string; token: string; inviteId: string }> = [];
  const finished: Array<{ username: string; key: SoftwareAuthenticator }> = [];

  /** Starts Keygate, invites `username`, starts enrolment, and kills Keygate at `steps`. */
  async function enrolAndKill(username: string, steps: (ids: { inviteId: string; sid: () => string }) => Step[]) {
    const kg = await startChild(database.url, gogs);
    const { token, invite } = await createInvite(admin, kg.config, { username, createdBy: 'test' });
    const client = new TestClient(kg.url);
    const key = new SoftwareAuthenticator();
    const options = await client.post('/-/api/enroll/options', { token });
    assert.equal(options.status, 200, options.text);
    const response = await key.register(options.json, client.origin);
    const kill = await killDuring(
      kg,
      () => client.post('/-/api/enroll/verify', { token, response }),
      steps({ inviteId: invite.id, sid: () => sidOf(client, kg) }),
    );
    assert.equal(kill.answered, false, 'the browser got no answer');
    const state = await enrolmentState(username, invite.id);
    figures.push({ ceremony: 'enrolment', killedIn: kill.stuckIn.replace(/\s+/g, ' ').slice(0, 60), ...state, credentials: state.credentials.length });
    return { state, token, inviteId: invite.id, key };
  }

  const neither = (state: Awaited<ReturnType<typeof enrolmentState>>) => {
    assert.equal(state.used, false, 'the invite is still unused');
    assert.deepEqual(state.credentials, [], 'no credential');
    assert.equal(state.users, 0, 'no user row without a credential');
    assert.deepEqual(state.audits, [], 'no success audited');
    assert.equal(state.sessions, 0);
  };

  const points: Array<[string, (ids: { inviteId: string; sid: () => string }) => Step[]]> = [
    [
      'waiting for the invite row lock',
      ({ inviteId }) => [{ lock: lockRow('invites', 'id', () => inviteId), stuckIn: /FROM invites .*FOR UPDATE/s, what: 'the invite lock' }],
    ],
    ['inserting the user', () => [{ lock: lockTable('users'), stuckIn: /INSERT INTO users/, what: 'INSERT INTO users' }]],
    ['inserting the credential', () => [{ lock: lockTable('credentials'), stuckIn: /INSERT INTO credentials/, what: 'INSERT INTO credentials' }]],
    ['marking the invite used', () => [{ lock: lockTable('invites'), stuckIn: /UPDATE invites/, what: 'UPDATE invites' }]],
    ['writing the audit rows', () => [{ lock: lockTable('audit_events'), stuckIn: /INSERT INTO audit_events/, what: 'INSERT INTO audit_events' }]],
  ];
  points.forEach(([point, steps], i) => {
    test(`killed while ${point}: neither credential nor used invite`, { timeout: 60_000 }, async () => {
      const username = `enrol${i}`;
      const { state, token, inviteId } = await enrolAndKill(username, steps);
      neither(state);
      pending.push({ username, token, inviteId });
    });
  });

  test('killed after the commit, while starting the session: credential stored and invite used, by that credential', { timeout: 60_000 }, async () => {
    const { state, key } = await enrolAndKill('enrolled', ({ sid }) => [
      { lock: lockTable('audit_events'), stuckIn: /INSERT INTO audit_events/, what: 'INSERT INTO audit_events' },
      // The enrolment commits; regenerating the session then deletes the browser's old row.
      { lock: lockRow('session', 'sid', sid), stuckIn: /DELETE FROM .*session/, what: 'the old session row' },
    ]);
    assert.equal(state.used, true);
    assert.equal(state.credentials.length, 1);
    assert.equal(String(state.usedBy), state.credentials[0], 'the invite is used by the stored credential');
    assert.deepEqual(state.audits, ['invite_redeemed', 'credential_registered']);
    // The statement that starts the session was already sent: PostgreSQL may run it after the
    // kill (it had the statement), so at most that one session, which its browser never got.
    assert.ok(state.sessions <= 1, `${state.sessions} sessions`);
    finished.push({ username: 'enrolled', key });
  });

  test('after the kills, every unused invite still enrols, and the stored key signs in', { timeout: 60_000 }, async () => {
    const kg = await startChild(database.url, gogs);
    try {
      for (const { username, token, inviteId } of pending) {
        const res = await enroll(new TestClient(kg.url), new SoftwareAuthenticator(), token);
        assert.equal(res.status, 200, `${username}: ${res.text}`);
        const state = await enrolmentState(username, inviteId);
        assert.equal(state.used, true);
        assert.equal(state.credentials.length, 1);
      }
      for (const { username, key } of finished) {
        const res = await signIn(new TestClient(kg.url), key);
        assert.equal(res.status, 200, `${username}: ${res.text}`);
      }
      // No half-written rows anywhere: every user has a credential, every used invite names one.
      assert.deepEqual(await q(`SELECT username FROM users u WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id)`), []);
      assert.deepEqual(await q(`SELECT id FROM invites WHERE (used_at IS NULL) <> (used_by_credential IS NULL)`), []);
    } finally {
      await kg.app.kill();
    }
  });
});

describe('kill -9 mid-sign-in: the counter, the session and the audit row are written together or not at all', () => {
  let key: SoftwareAuthenticator;
  let credentialId: string;

  before(async () => {
    const kg = await startChild(database.url, gogs);
    const { token } = await createInvite(admin, kg.config, { username: 'sam', createdBy: 'test' });
    key = new SoftwareAuthenticator();
    assert.equal((await enroll(new TestClient(kg.url), key, token)).status, 200);
    credentialId = key.credentials[0].id;
    // One sign-in first, so that last use and the counter are set and a change is visible.
    assert.equal((await signIn(new TestClient(kg.url), key)).status, 200);
    await kg.app.kill();
  });
  async function signInAndKill(point: string, steps: (ids: { sid: () => string }) => Step[]) {
    const kg = await startChild(database.url, gogs);
    const before = await credentialUse(credentialId);
    const [{ n: sessionsBefore }] = await q(`SELECT count(*)::int AS n FROM session WHERE sess -> 'auth' ->> 'username' = 'sam'`);
    const [{ n: auditsBefore }] = await q(
      `SELECT count(*)::int AS n FROM audit_events WHERE event = 'sign_in' AND outcome = 'success' AND subject_username = 'sam'`,
    );
    const client = new TestClient(kg.url);
    const options = await client.post('/-/api/login/options', {});
    assert.equal(options.status, 200);
    const response = await key.authenticate(options.json, client.origin);
    const signedCounter = key.credentials[0].signCount;
    const kill = await killDuring(kg, () => client.post('/-/api/login/verify', { response }), steps({ sid: () => sidOf(client, kg) }));
    assert.equal(kill.answered, false);
    const afterKill = await credentialUse(credentialId);
    const [{ n: sessionsAfter }] = await q(`SELECT count(*)::int AS n FROM session WHERE sess -> 'auth' ->> 'username' = 'sam'`);
    const [{ n: auditsAfter }] = await q(
      `SELECT count(*)::int AS n FROM audit_events WHERE event = 'sign_in' AND outcome = 'success' AND subject_username = 'sam'`,
    );
    const written = afterKill.sign_count !== before.sign_count;
    // Never half: either nothing changed, or the new counter and last use are there together.
    if (written) {
      assert.equal(afterKill.sign_count, signedCounter, 'the counter the key signed');
      assert.ok(afterKill.used && afterKill.ip && afterKill.ua, 'last use written with the counter');
    } else {
      assert.deepEqual(afterKill, before, 'nothing written');
    }
    assert.ok(sessionsAfter - sessionsBefore <= (written ? 1 : 0), 'no session without the counter written');
    assert.ok(sessionsAfter - sessionsBefore <= auditsAfter - auditsBefore, 'no session without its sign_in audit row');
    figures.push({
      ceremony: 'sign-in',
      point,
      killedIn: kill.stuckIn.replace(/\s+/g, ' ').slice(0, 60),
      counterBefore: before.sign_count,
      counterAfter: afterKill.sign_count,
      counterWritten: written,
      sessionsAdded: sessionsAfter - sessionsBefore,
      successAuditsAdded: auditsAfter - auditsBefore,
    });
    return { written, sessionsAdded: sessionsAfter - sessionsBefore, auditsAdded: auditsAfter - auditsBefore };
  }

  test("killed while taking the challenge (the session's load): nothing written", { timeout: 60_000 }, async () => {
    const r = await signInAndKill('taking the challenge', ({ sid }) => [
      { lock: lockRow('session', 'sid', sid), stuckIn: /FROM session .*FOR UPDATE/s, what: 'the ceremony row' },
    ]);
    assert.equal(r.sessionsAdded, 0);
    assert.equal(r.auditsAdded, 0);
  });

  test(
    "killed while the sign-in's statement waits for the key's row: the counter, the session and the audit row are written together or not at all",
    { timeout: 60_000 },
    async () => {
      const r = await signInAndKill("the sign-in's statement, at the key's row", () => [
        {
          lock: lockRow('credentials', 'credential_id', () => Buffer.from(credentialId, 'base64url')),
          stuckIn: /UPDATE credentials/,
          what: 'UPDATE credentials',
        },
      ]);
      // The statement Keygate was killed in still runs to its end once the lock is gone (PostgreSQL
      // only notices the lost client when it answers): all of the sign-in, or none of it.
      assert.equal(r.sessionsAdded, r.written ? 1 : 0, 'a session exactly when the counter was written');
      assert.equal(r.auditsAdded, r.sessionsAdded, 'the session and its audit row together, or neither');
    },
  );

  test(
    "killed while the sign-in's statement waits for the audit table: the counter, the session and the audit row are written together or not at all",
    { timeout: 60_000 },
    async () => {
      const r = await signInAndKill('auditing the sign-in', () => [
        { lock: lockTable('audit_events'), stuckIn: /INSERT INTO audit_events/, what: 'INSERT INTO audit_events' },
      ]);
      assert.equal(r.sessionsAdded, r.written ? 1 : 0, 'a session exactly when the counter was written');
      assert.equal(r.auditsAdded, r.sessionsAdded, 'the session and its audit row together, or neither');
    },
  );

  test('after the kills, the key still signs in: the stored counter never got ahead of the key', { timeout: 60_000 }, async () => {
    const kg = await startChild(database.url, gogs);
    try {
      const res = await signIn(new TestClient(kg.url), key);
      assert.equal(res.status, 200, res.text);
      assert.equal((await credentialUse(credentialId)).sign_count, key.credentials[0].signCount);
    } finally {
      await kg.app.kill();
    }
  });
});

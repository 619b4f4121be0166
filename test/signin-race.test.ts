/**
 * Security review finding 3: revoking a key or disabling a person is atomic with sign-in. Once the
 * admin's action returns, no session of that key or person exists, and a ceremony already in
 * flight cannot create one.
 *
 * The race window is held open with a lock: the test locks the audit table, which the sign-in's
 * final statement (session and success audit row in one) and the admin action's transaction
 * (state change, sessions ended, audit row) both write. The sign-in has passed every check and is
 * waiting to write its session; the admin action has already changed the key or the person and
 * ended their sessions, and waits to write its audit row. Then the lock goes. Before the fix the
 * sign-in wrote its session after the admin had ended "all" sessions, and it lived on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI_ACTOR } from '../server/audit/actor.js';
import { endDevice } from '../server/devices/actions.js';
import { disableUser } from '../server/users/actions.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { holdLock } from './support/db.js';
import { reachesGogs } from './support/admin.js';
import { signedInPerson } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { sleep } from './support/net.js';
import { sessionKey } from '../server/session/key.js';

let kg: TestKeygate;

before(async () => {
  kg = await startKeygate();
});
after(() => kg.close());

/** The sign-in's last statement (session and audit row), and a plain audit row (the admin action's last write). */
const SIGN_IN_SESSION = /^\s*WITH allowed AS/;
const AUDIT_ROW = /^\s*INSERT INTO audit_events/;

/** Waits until one of Keygate's connections waits for a lock in a statement matching `pattern`. */
async function blockedIn(pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { rows } = await kg.db.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keygate' AND wait_event_type = 'Lock'`,
    );
    if (rows.some((r) => pattern.test(r.query))) return;
    if (Date.now() > deadline) throw new Error(`never blocked in ${what}; waiting: ${JSON.stringify(rows.map((r) => r.query.slice(0, 80)))}`);
    await sleep(20);
  }
}

async function sessionsOf(column: 'credentialId' | 'userId', value: string): Promise<number> {
  const { rows } = await kg.db.query<{ n: string }>(`SELECT count(*) AS n FROM session WHERE sess -> 'auth' ->> '${column}' = $1`, [value]);
  return Number(rows[0].n);
}

/** A second browser of `key`'s owner, with a sign-in ceremony started: the verify request is ready to send. */
async function signInInFlight(key: SoftwareAuthenticator) {
  const browser = new TestClient(kg.url);
  const options = await browser.post('/-/api/login/options', {});
  assert.equal(options.status, 200);
  const response = await key.authenticate(options.json, browser.origin);
  return { browser, verify: () => browser.post('/-/api/login/verify', { response }) };
}

describe('revocation and disabling are atomic with a sign-in in flight', () => {
  test('a key revoked while a sign-in with it is between its checks and its session: the admin gets it, the sign-in is refused, no session exists', async () => {
    const alice = await signedInPerson(kg, 'race-alice');
    const { browser, verify } = await signInInFlight(alice.key);
    const lock = await holdLock(kg.database.url, 'LOCK TABLE audit_events IN SHARE MODE');
    let verified: Awaited<ReturnType<typeof verify>> | undefined;
    const verifying = verify().then((r) => (verified = r));
    let revoking: Promise<unknown> | undefined;
    try {
      // The signature, the key and the person all checked out; the session is about to be written.
      await blockedIn(SIGN_IN_SESSION, 'the sign-in');
      revoking = endDevice(kg.db, alice.credentialId, CLI_ACTOR, { event: 'credential_revoked', reason: 'lost' });
      // The key is revoked and its sessions ended; only the revocation's audit row is left to write.
      await blockedIn(AUDIT_ROW, 'the revocation');
    } finally {
      await lock.release();
    }
    await Promise.all([verifying, revoking]);
    assert.equal(verified!.status, 403, verified!.text);
    assert.equal(verified!.json.error.code, 'access_ended');
    assert.match(verified!.json.error.message, /revoked, or this account disabled, while you were signing in/);
    assert.equal(await sessionsOf('credentialId', alice.credentialId), 0, 'no session of the revoked key');
    assert.equal(await reachesGogs(browser, 'race-alice'), false, 'the racing browser reaches Gogs as nobody');
    assert.equal(await reachesGogs(alice.client, 'race-alice'), false, 'the first browser was signed out by the revocation');
    const { rows } = await kg.db.query(
      `SELECT outcome, reason FROM audit_events WHERE event = 'sign_in' AND subject_username = 'race-alice' ORDER BY id DESC LIMIT 1`,
    );
    assert.deepEqual(rows[0], { outcome: 'failure', reason: 'access_ended' }, 'the refused sign-in is audited with its reason');
  });

  test('a person disabled while their sign-in is between its checks and its session: no session exists once the disable returns', async () => {
    const bob = await signedInPerson(kg, 'race-bob');
    const { browser, verify } = await signInInFlight(bob.key);
    const userId = String((await kg.db.query(`SELECT id FROM users WHERE username = 'race-bob'`)).rows[0].id);
    const lock = await holdLock(kg.database.url, 'LOCK TABLE audit_events IN SHARE MODE');
    let verified: Awaited<ReturnType<typeof verify>> | undefined;
    const verifying = verify().then((r) => (verified = r));
    let disabling: Promise<unknown> | undefined;
    try {
      await blockedIn(SIGN_IN_SESSION, 'the sign-in');
      disabling = disableUser(kg.db, 'race-bob', CLI_ACTOR);
      await blockedIn(AUDIT_ROW, 'the disable');
    } finally {
      await lock.release();
    }
    await Promise.all([verifying, disabling]);
    assert.equal(verified!.status, 403, verified!.text);
    assert.equal(verified!.json.error.code, 'access_ended');
    assert.equal(await sessionsOf('userId', userId), 0, 'no session of the disabled person');
    assert.equal(await reachesGogs(browser, 'race-bob'), false);
    assert.equal(await reachesGogs(bob.client, 'race-bob'), false);
  });
});

describe('one challenge, one sign-in', () => {
  /** The key of the session row a browser's signed cookie names. */
  const sessionRowOf = (browser: TestClient) => {
    const raw = decodeURIComponent(browser.cookies.get(kg.config.sessionCookieName) ?? '');
    return sessionKey(raw.slice(2, raw.lastIndexOf('.')));
  };

  /** Waits until `n` of Keygate's connections wait for a lock. */
  async function keygateWaiting(n: number): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await kg.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keygate' AND wait_event_type = 'Lock'`,
      );
      if (Number(rows[0].n) >= n) return;
      if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of Keygate's connections waiting, not ${n}`);
      await sleep(20);
    }
  }

  // A key without a counter (synced passkeys often have none) is the hard case: the counter check
  // cannot tell two uses of one assertion apart, so only the challenge's single use stops a replay.
  // Both requests are held at the ceremony's session row, then let go together.
  for (const [first, second] of [
    ['/-/api/login/verify', '/-/api/login/verify'],
    ['/-/api/login/verify?again=1', '/-/API/login/verify'],
  ]) {
    test(`the same assertion of a key without a counter, sent twice at once (${first}, ${second}), signs in once: the other attempt finds its challenge gone`, async () => {
      const person = await signedInPerson(kg, `once-${first.length}-${second.length}`, { key: new SoftwareAuthenticator({ counterStep: 0 }) });
      const browser = new TestClient(kg.url);
      const options = await browser.post('/-/api/login/options', {});
      assert.equal(options.status, 200);
      const response = await person.key.authenticate(options.json, browser.origin);
      const before = await sessionsOf('credentialId', person.credentialId);
      const lock = await holdLock(kg.database.url, 'SELECT 1 FROM session WHERE sid = $1 FOR UPDATE', [sessionRowOf(browser)]);
      const sending = Promise.all([first, second].map((path) => browser.post(path, { response })));
      try {
        await keygateWaiting(2);
      } finally {
        await lock.release();
      }
      const results = await sending;
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400], results.map((r) => r.text).join('\n'));
      const refused = results.find((r) => r.status === 400)!;
      assert.match(refused.text, /no_ceremony|no longer valid/);
      assert.equal(await sessionsOf('credentialId', person.credentialId), before + 1, 'exactly one new session');
    });
  }
});

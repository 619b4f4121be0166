/**
 * A ceremony whose body cannot be read (over 64 KiB, or not JSON) fails cleanly — 413 or 400
 * with a JSON error — and is audited with its ceremony's event, although no route ever ran.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enrolledUser, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('unreadable ceremony bodies', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  const lastAudit = async () => (await kg.db.query('SELECT event, outcome, reason, request_id FROM audit_events ORDER BY id DESC LIMIT 1')).rows[0];

  for (const [path, event] of [
    ['/-/api/login/verify', 'sign_in'],
    ['/-/api/enroll/verify', 'invite_redeemed'],
    ['/-/api/step-up/verify', 'step_up_failed'],
    ['/-/api/account/devices/verify', 'credential_registered'],
    // Express routes paths whatever their case; so must everything that tells an API request from a page.
    ['/-/API/Login/Verify', 'sign_in'],
    ['/-/Api/enroll/verify/', 'invite_redeemed'],
  ] as const) {
    test(`${path}: a body over 64 KiB is 413 and audited as ${event} body_too_large; malformed JSON is 400 and audited as malformed_json`, async () => {
      const browser = new TestClient(kg.url);
      const big = await browser.request(path, {
        method: 'POST',
        body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(big.status, 413);
      assert.equal(big.json.error.code, 'body_too_large');
      assert.deepEqual({ ...(await lastAudit()), request_id: undefined }, { event, outcome: 'failure', reason: 'body_too_large', request_id: undefined });

      const bad = await browser.request(path, { method: 'POST', body: '{"response": ', headers: { 'content-type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'malformed_json');
      const row = await lastAudit();
      assert.deepEqual([row.event, row.outcome, row.reason], [event, 'failure', 'malformed_json']);
      assert.ok(row.request_id, 'the row carries the request id');
    });
  }

  test('a sign-in whose body cannot be read still uses up its ceremony: the answer sent after it is refused, and the browser starts again', async () => {
    const key = new SoftwareAuthenticator();
    await enrolledUser(kg, new TestClient(kg.url), key, 'unread');
    const browser = new TestClient(kg.url);
    const options = await browser.post('/-/api/login/options', {});
    assert.equal(options.status, 200, options.text);
    const response = await key.authenticate(options.json, kg.origin);
    const bad = await browser.request('/-/api/login/verify', { method: 'POST', body: '{"response": ', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const late = await browser.post('/-/api/login/verify', { response });
    assert.equal(late.status, 400, late.text);
    assert.equal(late.json.error.code, 'no_ceremony');
    assert.equal((await browser.get('/')).status, 303, 'not signed in');
    const again = await signIn(browser, key);
    assert.equal(again.status, 200, again.text);
  });

  test('an unreadable body elsewhere under /-/api is refused without an audit row', async () => {
    const before = (await kg.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n;
    const res = await new TestClient(kg.url).request('/-/api/login/options', {
      method: 'POST',
      body: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    assert.equal((await kg.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n, before);
  });
});

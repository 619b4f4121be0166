/**
 * Several instances (issue 6): two Keygate instances on one database, as behind a load balancer
 * with no sticky sessions. A ceremony started on one completes on the other, a revocation through
 * one ends the session on the other, and rate limits are counted once for both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enrolledUser, invite } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { forgotten, secondInstance, sidOf } from './support/instances.js';

/** The same browser, its next request routed to another instance. */
function moveTo(from: TestClient, kg: TestKeygate): TestClient {
  const copy = new TestClient(kg.url, from.origin);
  for (const [k, v] of from.cookies) copy.cookies.set(k, v);
  return copy;
}

async function reachesGogsAs(browser: TestClient, name: string): Promise<boolean> {
  const res = await browser.get('/some/page');
  if (res.status === 200) {
    assert.match(res.text, new RegExp(`Signed in as ${name}\\b`));
    return true;
  }
  assert.equal(res.status, 303, res.text);
  return false;
}

describe('several instances on one database', () => {
  let a: TestKeygate;
  let b: TestKeygate;
  before(async () => {
    a = await startKeygate();
    b = await secondInstance(a);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a ceremony started on one instance completes on the other: enrolment A→B, sign-in B→A', async () => {
    const key = new SoftwareAuthenticator();
    const token = await invite(a, 'roamer');
    const onA = new TestClient(a.url);
    const options = await onA.post('/-/api/enroll/options', { token });
    assert.equal(options.status, 200, options.text);
    const response = await key.register(options.json, a.origin);
    const onB = moveTo(onA, b);
    const enrolled = await onB.post('/-/api/enroll/verify', { token, response });
    assert.equal(enrolled.status, 200, enrolled.text);
    assert.ok(await reachesGogsAs(onB, 'roamer'));

    const fresh = new TestClient(b.url, a.origin);
    const loginOptions = await fresh.post('/-/api/login/options', {});
    assert.equal(loginOptions.status, 200, loginOptions.text);
    const assertion = await key.authenticate(loginOptions.json, a.origin);
    const backOnA = moveTo(fresh, a);
    const signedIn = await backOnA.post('/-/api/login/verify', { response: assertion });
    assert.equal(signedIn.status, 200, signedIn.text);
    assert.ok(await reachesGogsAs(backOnA, 'roamer'));
    assert.ok(await reachesGogsAs(moveTo(backOnA, b), 'roamer'), 'and the session works on B too');
  });

  test('a revocation through instance A ends the session instance B is serving', async () => {
    const boss = new TestClient(a.url);
    await enrolledUser(a, boss, new SoftwareAuthenticator(), 'chief', { admin: true });
    const key = new SoftwareAuthenticator();
    const laptop = new TestClient(b.url, a.origin);
    await enrolledUser(b, laptop, key, 'kim');
    assert.ok(await reachesGogsAs(laptop, 'kim'));
    assert.ok(b.gateway.sessionCache.get(sidOf(laptop, b)) !== undefined, 'B has the session cached');

    const revoked = await boss.post(`/-/api/admin/credentials/${key.credentials[0].id}/revoke`, {});
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.json.sessionsEnded, 1);
    await forgotten(b, sidOf(laptop, b));
    assert.equal(await reachesGogsAs(laptop, 'kim'), false, 'B refuses the revoked session');
  });
});

describe('rate limits shared by two instances', () => {
  let c: TestKeygate;
  let d: TestKeygate;
  before(async () => {
    c = await startKeygate({ env: { RATE_LIMIT_IP_PER_MINUTE: '5' } });
    d = await secondInstance(c, { RATE_LIMIT_IP_PER_MINUTE: '5' });
  });
  after(async () => {
    await d?.close();
    await c?.close();
  });

  test('five ceremony requests spread over both instances spend the limit: the next is refused on either', async () => {
    const onC = new TestClient(c.url);
    const onD = new TestClient(d.url, c.origin);
    for (const client of [onC, onD, onC, onD, onC]) {
      const res = await client.post('/-/api/login/options', {});
      assert.equal(res.status, 200, res.text);
    }
    for (const client of [onD, onC]) {
      const res = await client.post('/-/api/login/options', {});
      assert.equal(res.status, 429, res.text);
      assert.ok(res.headers.get('retry-after'), 'Retry-After is set');
    }
  });
});

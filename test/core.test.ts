/**
 * The core journey: invite → enrol → reach Gogs as yourself → sign out → sign back in with no
 * username and no password (passkey), or username first (security key).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll, invite, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('core journey', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg.close());

  test('a passkey enrolled from an invite reaches Gogs as its user, and signs back in with no username', async () => {
    const browser = new TestClient(kg.url);
    const passkey = new SoftwareAuthenticator({ residentKey: true, attachment: 'platform', userVerification: true });
    const token = await invite(kg, 'alice');

    const enrolled = await enroll(browser, passkey, token, { nickname: 'Laptop' });
    assert.equal(enrolled.status, 200, enrolled.text);
    assert.deepEqual(enrolled.json, { ok: true, redirect: '/-/welcome' });

    kg.gogs.clear();
    const home = await browser.get('/');
    assert.equal(home.status, 200);
    assert.match(home.text, /Signed in as alice/);
    assert.deepEqual(kg.gogs.last()?.authHeaderValues, ['alice']);

    const out = await browser.request('/-/logout', { method: 'POST' });
    assert.equal(out.status, 303);
    assert.equal(out.location, '/-/login?signed_out');
    const anonymous = await browser.get('/');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.location, '/-/login?return_to=%2F');

    const back = await signIn(browser, passkey, { returnTo: '/alice/repo' });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.json.redirect, '/alice/repo');
    const page = await browser.get('/alice/repo');
    assert.match(page.text, /Signed in as alice/);
  });

  test('a security key without a resident credential signs in username first', async () => {
    const browser = new TestClient(kg.url);
    const key = new SoftwareAuthenticator({ residentKey: false, attachment: 'cross-platform' });
    const enrolled = await enroll(browser, key, await invite(kg, 'bob'));
    assert.equal(enrolled.status, 200, enrolled.text);

    const fresh = new TestClient(kg.url);
    // Without a username there is no discoverable credential to use: the key cannot answer.
    const options = await fresh.post('/-/api/login/options', {});
    await assert.rejects(key.authenticate(options.json, fresh.origin), /no credential/);

    const res = await signIn(fresh, key, { username: 'BOB' });
    assert.equal(res.status, 200, res.text);
    const page = await fresh.get('/');
    assert.match(page.text, /Signed in as bob/);
  });

  test('enrolment options name the configured relying party: RP_NAME and the RP ID from PUBLIC_URL', async () => {
    const named = await startKeygate({ env: { RP_NAME: 'Acme Git' } });
    try {
      const browser = new TestClient(named.url);
      const options = await browser.post('/-/api/enroll/options', { token: await invite(named, 'carol') });
      assert.equal(options.status, 200, options.text);
      assert.deepEqual(options.json.rp, { name: 'Acme Git', id: 'localhost' });
      assert.equal(options.json.user.name, 'carol');
    } finally {
      await named.close();
    }
  });
});

/**
 * Security review finding 5: the first-run admin link bootstraps the first administrator only. As
 * soon as an enabled admin exists, however they became one, the link is withdrawn: its page, its
 * options and its redemption all say so (410), and nothing is written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { firstRunAdminInvite } from '../server/admin/first-run.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { rowCounts } from './support/db.js';
import { enroll, enrolledUser } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

let kg: TestKeygate;
before(async () => {
  kg = await startKeygate();
});
after(() => kg.close());

test('the first-run admin link stops working once another admin exists: 410 on its page, its options and its redemption, nothing written', async () => {
  const firstRun = await firstRunAdminInvite(kg.db, kg.config);
  assert.ok(firstRun, 'no admin yet: a first-run link');
  const token = firstRun.url.split('/').pop()!;
  const visitor = new TestClient(kg.url);
  // The attacker has the link (an old log line) and starts the ceremony while it is still valid.
  const options = await visitor.post('/-/api/enroll/options', { token });
  assert.equal(options.status, 200);

  // Meanwhile an administrator is made another way (the CLI's invite --admin) and enrols.
  await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), 'boss', { admin: true });

  const page = await new TestClient(kg.url).get(`/-/enroll/${token}`);
  assert.equal(page.status, 410);
  assert.match(page.text, /This first-run link no longer works/);
  assert.match(page.text, /An administrator already exists/);
  const again = await new TestClient(kg.url).post('/-/api/enroll/options', { token });
  assert.equal(again.status, 410);
  assert.equal(again.json.error.code, 'invite_superseded');

  const before = await rowCounts(kg.db);
  const key = new SoftwareAuthenticator();
  const redeemed = await visitor.post('/-/api/enroll/verify', { token, response: await key.register(options.json, kg.origin) });
  assert.equal(redeemed.status, 410, redeemed.text);
  assert.equal(redeemed.json.error.code, 'invite_superseded');
  const afterwards = await rowCounts(kg.db);
  assert.deepEqual(afterwards, before, 'no user, credential, used invite or session written');
  const { rows } = await kg.db.query(`SELECT username, is_admin FROM users ORDER BY id`);
  assert.deepEqual(rows, [{ username: 'boss', is_admin: true }]);
});

test('with no admin, the first-run link enrols as before', async () => {
  const fresh = await startKeygate();
  try {
    const firstRun = await firstRunAdminInvite(fresh.db, fresh.config);
    const res = await enroll(new TestClient(fresh.url), new SoftwareAuthenticator(), firstRun!.url.split('/').pop()!);
    assert.equal(res.status, 200, res.text);
  } finally {
    await fresh.close();
  }
});

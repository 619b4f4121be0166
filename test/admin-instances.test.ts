/**
 * Two Keygate instances on one database, as behind a load balancer: an admin's revocation through
 * instance A ends the session that instance B is serving, as soon as B hears PostgreSQL's NOTIFY.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { person, reachesGogs, secondDevice } from './support/admin.js';
import { forgotten, secondInstance, sidOf } from './support/instances.js';
import { sameBrowserOn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('admin actions across instances', () => {
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

  test("a revocation through instance A ends the session instance B is serving; the person's other device stays", async () => {
    const boss = await person(a, 'boss', { admin: true });
    const laptop = await person(a, 'hana');
    const phone = await secondDevice(a, 'hana');
    const laptopOnB = sameBrowserOn(laptop.client, b);
    const phoneOnB = sameBrowserOn(phone.client, b);
    assert.ok(await reachesGogs(laptopOnB, 'hana'), 'B serves the laptop (and caches its session)');
    assert.ok(await reachesGogs(phoneOnB, 'hana'));
    const sid = sidOf(laptop.client, a);
    assert.ok(b.gateway.sessionCache.get(sid), 'cached on B');

    const res = await boss.client.post(`/-/api/admin/credentials/${laptop.credentialId}/revoke`, {});
    assert.equal(res.status, 200, res.text);
    await forgotten(b, sid);
    assert.equal(await reachesGogs(laptopOnB, 'hana'), false, "B refuses the laptop's next request");
    assert.ok(await reachesGogs(phoneOnB, 'hana'), 'the phone is still served by B');

    // Disabling through A ends the phone's session on B too.
    const phoneSid = sidOf(phone.client, a);
    assert.equal((await boss.client.post('/-/api/admin/users/hana/disable', {})).status, 200);
    await forgotten(b, phoneSid);
    assert.equal(await reachesGogs(phoneOnB, 'hana'), false);
  });
});

/**
 * An administrator's day against the real Gogs 0.14.3, through Keygate: a revoked key's browser
 * is sent to sign-in at its next Gogs page, and sync-admins reads who is a site administrator in
 * the real Gogs (its /admin page, asked as each person through the identity header, which Gogs
 * trusts from GOGS_SOURCE_ADDRESS only). test/support/real-gogs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI_ACTOR } from '../server/audit/actor.js';
import { endDevice } from '../server/devices/actions.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { syncAdminsFromGogs } from '../server/gogs/users.js';
import { findUserByUsername } from '../server/users/users.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll } from './support/flows.js';
import { startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';

describe('an administrator and the real Gogs', () => {
  let env: KeygateOnRealGogs;
  before(async () => {
    env = await startKeygateOnRealGogs({ GOGS_SYNC_ADMINS: 'true' });
  });
  after(() => env?.close());

  async function signedIn(name: string, opts: { admin?: boolean } = {}): Promise<{ client: TestClient; credentialId: string }> {
    const invite = await issueInvite(env.kg.db, env.kg.config, { username: name, email: `${name}@example.test`, grantsAdmin: opts.admin }, CLI_ACTOR);
    const client = new TestClient(env.kg.url);
    const key = new SoftwareAuthenticator();
    const res = await enroll(client, key, invite.token);
    assert.equal(res.status, 200, res.text);
    return { client, credentialId: key.credentials[0].id };
  }

  test("a revoked key's browser is sent to sign-in at its next Gogs page; the person's other browser stays in Gogs", async () => {
    const laptop = await signedIn('erin');
    const phoneInvite = await issueInvite(env.kg.db, env.kg.config, { username: 'erin' }, CLI_ACTOR);
    const phone = new TestClient(env.kg.url);
    assert.equal((await enroll(phone, new SoftwareAuthenticator(), phoneInvite.token)).status, 200);
    for (const c of [laptop.client, phone]) assert.match((await c.get('/erin')).text, /Signed in as <strong>erin<\/strong>/);

    await endDevice(env.kg.db, laptop.credentialId, CLI_ACTOR, { event: 'credential_revoked' });
    await env.kg.settle();
    const next = await laptop.client.get('/erin');
    assert.equal(next.status, 303);
    assert.match(next.location ?? '', /^\/-\/login\?return_to=%2Ferin$/);
    assert.match((await phone.get('/erin')).text, /Signed in as <strong>erin<\/strong>/);
  });

  test("sync-admins makes Keygate's admin flags those of the real Gogs' site administrators, read as each person from Keygate's own address", async () => {
    await env.gogs.createUser('dora', { admin: true, email: 'dora@example.test' });
    await signedIn('dora');
    await signedIn('frank', { admin: true });
    assert.equal((await findUserByUsername(env.kg.db, 'dora'))?.isAdmin, false);
    const result = await syncAdminsFromGogs(env.kg.db, env.kg.config, CLI_ACTOR);
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(
      result.changed.sort((a, b) => a.username.localeCompare(b.username)),
      [
        { username: 'dora', isAdmin: true },
        { username: 'frank', isAdmin: false },
      ],
    );
    assert.equal((await findUserByUsername(env.kg.db, 'dora'))?.isAdmin, true);
    assert.equal((await findUserByUsername(env.kg.db, 'frank'))?.isAdmin, false);
  });
});

describe('a person Gogs does not know (no GOGS_ADMIN_TOKEN, no Gogs account)', () => {
  let env: KeygateOnRealGogs;
  before(async () => {
    env = await startKeygateOnRealGogs({ GOGS_ADMIN_TOKEN: '' });
  });
  after(() => env?.close());

  test('gets a page saying Gogs has no account of that name, not a loop between the two sign-in pages; a warning, one audit row per session', async () => {
    const invite = await issueInvite(env.kg.db, env.kg.config, { username: 'ghost' }, CLI_ACTOR);
    assert.equal(invite.gogsAccount, 'not_checked');
    const client = new TestClient(env.kg.url);
    assert.equal((await enroll(client, new SoftwareAuthenticator(), invite.token)).status, 200);
    for (const path of ['/', '/explore/repos']) {
      const res = await client.get(path);
      assert.equal(res.status, 403, `${path}: ${res.status} ${res.location ?? ''}`);
      assert.equal(res.location, null, 'no redirect to follow');
      assert.match(res.text, /No Gogs account for you yet/);
      assert.match(res.text, /Gogs has no account of that name[\s\S]*create the Gogs account ghost/);
      assert.match(res.text, /href="\/-\/account"/);
    }
    const chinese = await client.get('/', { 'accept-language': 'zh-CN' });
    assert.match(chinese.text, /你还没有 Gogs 账户/);
    const rows = await env.kg.db.query(`SELECT actor, subject_username, outcome FROM audit_events WHERE event = 'gogs_account_missing'`);
    assert.deepEqual(rows.rows, [{ actor: 'user:ghost', subject_username: 'ghost', outcome: 'failure' }]);

    // Once the account exists in Gogs, the same session reaches Gogs as that person.
    await env.gogs.createUser('ghost');
    assert.match((await client.get('/')).text, /Signed in as <strong>ghost<\/strong>/);
  });
});

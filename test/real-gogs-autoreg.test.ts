/**
 * Gogs' reverse-proxy auto-registration, as the real Gogs 0.14.3 does it (test/support/real-gogs),
 * and what Keygate does about it: Gogs creates the account the first time Keygate names someone,
 * activated, with a made-up email and an empty password; that password opens git and the API
 * straight to Gogs, and Keygate refuses it (README, "Gogs accounts").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI_ACTOR } from '../server/audit/actor.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll } from './support/flows.js';
import { startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe("the real Gogs' auto-registration behind Keygate", () => {
  let env: KeygateOnRealGogs;
  before(async () => {
    // No admin token for Keygate (it would create the account itself); Gogs auto-registers.
    env = await startKeygateOnRealGogs({ GOGS_ADMIN_TOKEN: '' }, [['auth', 'ENABLE_REVERSE_PROXY_AUTO_REGISTRATION', 'true']]);
  });
  after(() => env?.close());

  test('Gogs creates the account at the first page, with a made-up email and an empty password that opens git straight to Gogs; through Keygate that password is refused', async () => {
    const { kg, gogs } = env;
    const invite = await issueInvite(kg.db, kg.config, { username: 'newbie' }, CLI_ACTOR);
    const client = new TestClient(kg.url);
    assert.equal((await enroll(client, new SoftwareAuthenticator(), invite.token)).status, 200);
    const lookup = () => fetch(`${gogs.url}/api/v1/users/newbie`, { headers: { authorization: `token ${gogs.adminToken}` } });
    assert.equal((await lookup()).status, 404, 'no Gogs account before the first page');

    assert.match((await client.get('/')).text, /Signed in as <strong>newbie<\/strong>/);
    const account = (await (await lookup()).json()) as { email: string };
    assert.match(account.email, /^[0-9a-f-]{36}@localhost$/, 'a made-up email');

    // A private repository of theirs, so that git must authenticate.
    const repo = await fetch(`${gogs.url}/api/v1/admin/users/newbie/repos`, {
      method: 'POST',
      headers: { authorization: `token ${gogs.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'secret', private: true, auto_init: true, readme: 'Default' }),
    });
    assert.equal(repo.status, 201);
    const refs = '/newbie/secret.git/info/refs?service=git-upload-pack';
    // The trap, straight to Gogs: the empty password works.
    assert.equal((await fetch(`${gogs.url}${refs}`, { headers: { authorization: basic('newbie', '') } })).status, 200);
    // Through Keygate it never reaches Gogs.
    const refused = await fetch(`${kg.url}${refs}`, { headers: { authorization: basic('newbie', '') } });
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /access token/);
  });
});

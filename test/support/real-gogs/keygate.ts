/**
 * Keygate in front of the real Gogs, as deployed: Gogs trusts the identity header only from the
 * address Keygate connects from (TRUSTED_PROXY_IPS = GOGS_SOURCE_ADDRESS/32, 127.0.0.3 here, so a
 * test speaking to Gogs from 127.0.0.1 is "anyone else"), and Keygate holds the admin token
 * deploy/gogs/init.sh made (GOGS_ADMIN_TOKEN: invites create the Gogs account).
 */
import assert from 'node:assert/strict';
import { CLI_ACTOR } from '../../../server/audit/actor.js';
import { issueInvite } from '../../../server/enrollment/invites.js';
import { SoftwareAuthenticator } from '../authenticator.js';
import { TestClient } from '../client.js';
import { enroll } from '../flows.js';
import { startKeygateFor, type TestKeygate } from '../keygate.js';
import { freePort } from '../net.js';
import { startRealGogs, type RealGogs } from './start.js';

/** The address Keygate connects to Gogs from; the only one Gogs trusts the header from. */
export const KEYGATE_SOURCE_ADDRESS = '127.0.0.3';

export interface KeygateOnRealGogs {
  kg: Omit<TestKeygate, 'gogs'>;
  gogs: RealGogs;
  close(): Promise<void>;
}

export async function startKeygateOnRealGogs(
  env: Record<string, string> = {},
  /** Lines of Gogs' app.ini set otherwise (startRealGogs' settings). */
  gogsSettings: Array<[string, string, string]> = [],
  /** Lines added to Gogs' app.ini (startRealGogs' added). */
  gogsAdded: Array<[string, string, string]> = [],
): Promise<KeygateOnRealGogs> {
  const port = await freePort();
  const gogs = await startRealGogs({
    publicUrl: `http://localhost:${port}`,
    trustedProxyIps: `${KEYGATE_SOURCE_ADDRESS}/32`,
    settings: gogsSettings,
    added: gogsAdded,
  });
  try {
    const kg = await startKeygateFor(gogs.url, {
      port,
      env: { GOGS_ADMIN_TOKEN: gogs.adminToken, GOGS_SOURCE_ADDRESS: KEYGATE_SOURCE_ADDRESS, FIRST_ADMIN_USERNAME: gogs.adminName, ...env },
    });
    return {
      kg,
      gogs,
      async close() {
        await kg.close();
        await gogs.stop();
      },
    };
  } catch (error) {
    await gogs.stop();
    throw error;
  }
}

/** A person invited from the command line (Keygate makes their Gogs account) and enrolled with a software key: signed in. */
export async function signedInPerson(env: KeygateOnRealGogs, name: string): Promise<TestClient> {
  const invite = await issueInvite(env.kg.db, env.kg.config, { username: name, email: `${name}@example.test` }, CLI_ACTOR);
  const client = new TestClient(env.kg.url);
  const res = await enroll(client, new SoftwareAuthenticator(), invite.token);
  assert.equal(res.status, 200, res.text);
  return client;
}

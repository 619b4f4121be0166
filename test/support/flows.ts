/** The ceremonies as a browser runs them, driven by the software authenticator. */
import assert from 'node:assert/strict';
import type { Tamper, SoftwareAuthenticator } from './authenticator.js';
import type { ClientResponse, TestClient } from './client.js';
import type { TestKeygate } from './keygate.js';
import { createInvite } from '../../server/enrollment/invites.js';

/** Creates an invite as the CLI would; returns the token. */
export async function invite(kg: TestKeygate, username: string, opts: { admin?: boolean; ttlMs?: number } = {}): Promise<string> {
  const { token } = await createInvite(kg.db, kg.config, { username, grantsAdmin: opts.admin, ttlMs: opts.ttlMs, createdBy: 'test' });
  return token;
}

/** Runs enrolment with this authenticator; returns the verify response. */
export async function enroll(
  client: TestClient,
  authenticator: SoftwareAuthenticator,
  token: string,
  opts: { tamper?: Tamper; nickname?: string; origin?: string } = {},
): Promise<ClientResponse> {
  const options = await client.post('/-/api/enroll/options', { token });
  assert.equal(options.status, 200, `enroll options: ${options.text}`);
  const response = await authenticator.register(options.json, opts.origin ?? client.origin, opts.tamper);
  return client.post('/-/api/enroll/verify', { token, response, nickname: opts.nickname });
}

/** Sign-in with a discoverable credential (no username) or username first. */
export async function signIn(
  client: TestClient,
  authenticator: SoftwareAuthenticator,
  opts: { username?: string; tamper?: Tamper; returnTo?: string; origin?: string } = {},
): Promise<ClientResponse> {
  const options = await client.post('/-/api/login/options', opts.username ? { username: opts.username } : {});
  assert.equal(options.status, 200, `login options: ${options.text}`);
  const response = await authenticator.authenticate(options.json, opts.origin ?? client.origin, opts.tamper);
  return client.post('/-/api/login/verify', { response, returnTo: opts.returnTo });
}

/** Invite + enrol in one go; returns the signed-in client. */
export async function enrolledUser(kg: TestKeygate, client: TestClient, authenticator: SoftwareAuthenticator, username: string, opts: { admin?: boolean } = {}) {
  const token = await invite(kg, username, opts);
  const res = await enroll(client, authenticator, token);
  assert.equal(res.status, 200, `enroll verify: ${res.text}`);
  return res;
}

/** Test helpers for the admin area: people with keys, the step-up ceremony, sessions, audit rows. */
import assert from 'node:assert/strict';
import { SoftwareAuthenticator } from './authenticator.js';
import { auditRowsWhere, type AuditRow } from './audit.js';
import type { ClientResponse, TestClient } from './client.js';
import { HeaderClient, signedInPerson, signIn, type SignedInPerson } from './flows.js';
import { startKeygate, type TestKeygate } from './keygate.js';

export { sleep } from './net.js';

/** A browser tab with a recognisable User-Agent, so audit rows can be checked for it. */
export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

export type Person = SignedInPerson;

export function browserOn(kg: TestKeygate): TestClient {
  return new HeaderClient(kg.url, kg.origin, { 'user-agent': BROWSER_UA });
}

/** Invites and enrols someone (signed in afterwards on a fresh browser); their key is "<name> key". */
export function person(kg: TestKeygate, name: string, opts: { admin?: boolean; aaguid?: string; email?: string } = {}): Promise<Person> {
  return signedInPerson(kg, name, {
    admin: opts.admin,
    email: opts.email,
    client: browserOn(kg),
    key: new SoftwareAuthenticator({ aaguid: opts.aaguid }),
    nickname: `${name} key`,
  });
}

/** A second device for an existing person: a recovery invite redeemed on another browser. */
export function secondDevice(kg: TestKeygate, name: string, nickname = `${name} second key`): Promise<Person> {
  return signedInPerson(kg, name, { client: browserOn(kg), nickname });
}

/** The admin tests' setup (in `before`): a Keygate of their own with "boss", a signed-in admin. */
export async function keygateWithAdmin(): Promise<{ kg: TestKeygate; boss: Person }> {
  const kg = await startKeygate();
  try {
    return { kg, boss: await person(kg, 'boss', { admin: true }) };
  } catch (err) {
    await kg.close();
    throw err;
  }
}

/** The step-up ceremony as the page runs it: options, the key, verify. */
export async function stepUp(client: TestClient, key: SoftwareAuthenticator): Promise<void> {
  const options = await client.post('/-/api/step-up/options', {});
  assert.equal(options.status, 200, `step-up options: ${options.text}`);
  const response = await key.authenticate(options.json, client.origin);
  const verified = await client.post('/-/api/step-up/verify', { response });
  assert.equal(verified.status, 200, `step-up verify: ${verified.text}`);
}

/** Signs in again with a key, on a fresh browser. */
export async function signInAgain(kg: TestKeygate, key: SoftwareAuthenticator): Promise<{ client: TestClient; res: ClientResponse }> {
  const client = browserOn(kg);
  return { client, res: await signIn(client, key) };
}

/** Whether this browser reaches Gogs as `name` (true) or is sent to sign in (false). */
export async function reachesGogs(client: TestClient, name: string): Promise<boolean> {
  const res = await client.get('/some/repo');
  if (res.status === 200) {
    assert.match(res.text, new RegExp(`Signed in as ${name}\\b`));
    return true;
  }
  assert.equal(res.status, 303, res.text);
  assert.equal(res.location, '/-/login?return_to=%2Fsome%2Frepo');
  return false;
}

export { sidOf } from './instances.js';

/** Audit rows for one event, oldest first, optionally only about one person. */
export function auditRows(kg: TestKeygate, event: string, subject?: string): Promise<AuditRow[]> {
  return auditRowsWhere(kg, 'event = $1 AND ($2::text IS NULL OR subject_username = $2)', [event, subject ?? null]);
}

/** The database row id of a credential, as audit rows name it. */
export async function credentialRowId(kg: TestKeygate, credentialId: string): Promise<string> {
  const { rows } = await kg.db.query<{ id: string }>('SELECT id::text FROM credentials WHERE credential_id = $1', [Buffer.from(credentialId, 'base64url')]);
  assert.ok(rows[0], `credential ${credentialId} is stored`);
  return rows[0].id;
}

/** Asserts an audit row was written for an admin's request through a browser: who, and from where. */
export function assertAdminActor(row: AuditRow | undefined, admin: string): void {
  assert.ok(row, 'an audit row');
  assert.equal(row.actor, `user:${admin}`);
  assert.match(row.ip ?? '', /127\.0\.0\.1|::1/);
  assert.equal(row.user_agent, BROWSER_UA);
  assert.match(row.request_id ?? '', /^[0-9a-f-]{36}$/);
}

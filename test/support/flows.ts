/** The ceremonies as a browser runs them, driven by the software authenticator. */
import assert from 'node:assert/strict';
import { SoftwareAuthenticator, type Tamper } from './authenticator.js';
import { TestClient, type ClientResponse } from './client.js';
import type { TestKeygate } from './keygate.js';
import { createInvite } from '../../server/enrollment/invites.js';
import { rowCounts } from './db.js';

/** Creates an invite as the CLI would; returns the token. */
export async function invite(kg: TestKeygate, username: string, opts: { admin?: boolean; ttlMs?: number; email?: string } = {}): Promise<string> {
  const { token } = await createInvite(kg.db, kg.config, { username, grantsAdmin: opts.admin, ttlMs: opts.ttlMs, email: opts.email, createdBy: 'test' });
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

/** Invite + enrol in one go; returns the verify response (the client is signed in afterwards). */
export async function enrolledUser(
  kg: TestKeygate,
  client: TestClient,
  authenticator: SoftwareAuthenticator,
  username: string,
  opts: { admin?: boolean; nickname?: string; email?: string } = {},
) {
  const token = await invite(kg, username, { admin: opts.admin, email: opts.email });
  const res = await enroll(client, authenticator, token, { nickname: opts.nickname });
  assert.equal(res.status, 200, `enroll verify: ${res.text}`);
  return res;
}

/** Enrols `username` with a new key in a new browser: that browser's Cookie header, signed in. */
export async function signedInCookie(kg: TestKeygate, username: string): Promise<string> {
  const browser = new TestClient(kg.url);
  await enrolledUser(kg, browser, new SoftwareAuthenticator(), username);
  return browser.cookieHeader()!;
}

/** Someone just enrolled: their browser (signed in with `key`), the key, and its base64url credential id. */
export interface SignedInPerson {
  name: string;
  client: TestClient;
  key: SoftwareAuthenticator;
  credentialId: string;
}

/** Invites `name` and enrols a key on a browser (a fresh TestClient and key unless given); signed in afterwards. */
export async function signedInPerson(
  kg: TestKeygate,
  name: string,
  opts: { admin?: boolean; nickname?: string; client?: TestClient; key?: SoftwareAuthenticator; email?: string } = {},
): Promise<SignedInPerson> {
  const client = opts.client ?? new TestClient(kg.url);
  const key = opts.key ?? new SoftwareAuthenticator();
  await enrolledUser(kg, client, key, name, { admin: opts.admin, nickname: opts.nickname, email: opts.email });
  return { name, client, key, credentialId: key.credentials[0].id };
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by the negative tests: a refusal says why, writes nothing, and is audited.

/** The newest audit row. */
export async function lastAudit(kg: TestKeygate): Promise<{ event: string; outcome: string; reason: string | null }> {
  const { rows } = await kg.db.query('SELECT event, outcome, reason FROM audit_events ORDER BY id DESC LIMIT 1');
  return rows[0];
}

/** What a refused ceremony must leave as it was: row counts and every credential's use columns. */
export interface WriteSnapshot {
  counts: Record<string, number>;
  credentials: unknown[];
}

export async function snapshot(kg: TestKeygate): Promise<WriteSnapshot> {
  const counts = await rowCounts(kg.db);
  const { rows } = await kg.db.query(
    `SELECT id, sign_count, backed_up, last_used_at, last_used_ip, last_used_user_agent, revoked_at FROM credentials ORDER BY id`,
  );
  return { counts, credentials: rows };
}

export interface ExpectedRefusal {
  status: number;
  code: string;
  /** The person-facing message, exactly or by pattern. */
  message?: string | RegExp;
  /** The audit row the refusal must have written (outcome 'failure'). */
  audit?: { event: string; reason: string };
}

/** A JSON error with this status, code and message; nothing written since `before`; audited. */
export async function assertRefused(kg: TestKeygate, res: ClientResponse, expected: ExpectedRefusal, before: WriteSnapshot): Promise<void> {
  assert.equal(res.status, expected.status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, res.text);
  assert.equal(res.json?.error?.code, expected.code, res.text);
  const message = res.json.error.message;
  assert.equal(typeof message, 'string');
  if (expected.message instanceof RegExp) assert.match(message, expected.message);
  else if (expected.message !== undefined) assert.equal(message, expected.message);
  assert.doesNotMatch(res.text, /\bat .+:\d+:\d+|node_modules|Error:/, 'no stack trace or internals in the answer');
  assert.deepEqual(await snapshot(kg), before, 'a refused ceremony must write nothing');
  if (expected.audit) {
    assert.deepEqual(await lastAudit(kg), { event: expected.audit.event, outcome: 'failure', reason: expected.audit.reason });
  }
}

/** A TestClient that adds fixed headers to every request (a browser's User-Agent, a front proxy's X-Forwarded-Proto). */
export class HeaderClient extends TestClient {
  constructor(
    baseUrl: string,
    origin: string,
    readonly extraHeaders: Record<string, string>,
  ) {
    super(baseUrl, origin);
  }

  override request(path: string, init: Parameters<TestClient['request']>[1] = {}): Promise<ClientResponse> {
    return super.request(path, { ...init, headers: { ...this.extraHeaders, ...init.headers } });
  }
}

/** The same browser's cookies, pointed at another instance (a load balancer's view). */
export function sameBrowserOn(from: TestClient, kg: TestKeygate): TestClient {
  const copy = new TestClient(kg.url, from.origin);
  for (const [k, v] of from.cookies) copy.cookies.set(k, v);
  return copy;
}

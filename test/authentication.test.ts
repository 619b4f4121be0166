/**
 * Sign-in (WebAuthn §7.2) and the challenges behind every ceremony: each relying-party check of the
 * checklist, broken one at a time and verified by the real @simplewebauthn/server. A refusal must
 * say why, write nothing (no session, no counter, no last use) and be audited.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { SoftwareAuthenticator, type Alg, type AuthenticatorOptions, type Tamper } from './support/authenticator.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { countStatements } from './support/db.js';
import { assertRefused, enrolledUser, HeaderClient, invite, lastAudit, signIn, snapshot, type ExpectedRefusal } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { sessionKey } from '../server/session/key.js';

const NOT_VERIFIED = "Your key's response could not be verified. Please try again.";
const NOT_REGISTERED = 'This key is not enrolled here.';

/** A software authenticator holding one credential for `rpId` that no server has ever seen. */
async function unregisteredKey(origin: string, alg: Alg = 'ES256'): Promise<SoftwareAuthenticator> {
  const key = new SoftwareAuthenticator({ alg });
  const options: PublicKeyCredentialCreationOptionsJSON = {
    rp: { id: new URL(origin).hostname, name: 'elsewhere' },
    user: { id: randomBytes(32).toString('base64url'), name: 'nobody', displayName: 'nobody' },
    challenge: randomBytes(32).toString('base64url'),
    pubKeyCredParams: [
      { alg: -8, type: 'public-key' },
      { alg: -7, type: 'public-key' },
      { alg: -257, type: 'public-key' },
    ],
  };
  await key.register(options, origin);
  return key;
}

/** POST with headers fetch() will not send as given (Host), straight over node:http. */
function rawPost(url: string, path: string, body: unknown, headers: Record<string, string>): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      new URL(path, url),
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const setCookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            text,
            json,
            location: res.headers.location ?? null,
            setCookies,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('authentication', () => {
  let kg: TestKeygate;
  let n = 0;
  const nextName = () => `auth${++n}`;

  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg.close());

  /** An enrolled user with one key. */
  async function user(opts: AuthenticatorOptions = {}) {
    const key = new SoftwareAuthenticator(opts);
    const username = nextName();
    await enrolledUser(kg, new TestClient(kg.url), key, username);
    return { username, key, credentialId: key.credentials[0].id };
  }

  const loginOptions = async (browser: TestClient, username?: string) => {
    const res = await browser.post('/-/api/login/options', username ? { username } : {});
    assert.equal(res.status, 200, res.text);
    return res.json;
  };

  test('a sign-in runs three database statements: options counts the address and keeps the ceremony in one; verify loads the session taking its ceremony and reading the key, then writes the sign-in whole', async () => {
    const { key } = await user();
    const browser = new TestClient(kg.url);
    let options: ClientResponse | undefined;
    let verify: ClientResponse | undefined;
    const forOptions = await countStatements(kg.db, async () => {
      options = await browser.post('/-/api/login/options', {});
    });
    const response = await key.authenticate(options!.json, kg.origin);
    const forVerify = await countStatements(kg.db, async () => {
      verify = await browser.post('/-/api/login/verify', { response });
    });
    assert.equal(verify!.status, 200, verify!.text);
    assert.equal((await browser.get('/')).status, 200, 'signed in');
    assert.deepEqual({ forOptions, forVerify }, { forOptions: 1, forVerify: 2 });
  });

  test("a verify whose session load fails gets a plain error, and its session is loaded once: the error path's load does not run it again", async () => {
    const { key } = await user();
    const browser = new TestClient(kg.url);
    const options = await browser.post('/-/api/login/options', {});
    assert.equal(options.status, 200);
    const response = await key.authenticate(options.json, kg.origin);
    // A row whose ceremony cannot be taken out (a JSON scalar, not an object): the load's statement fails.
    const cookie = decodeURIComponent(browser.cookies.get(kg.config.sessionCookieName) ?? '');
    const { rowCount } = await kg.db.query(`UPDATE session SET sess = '"unreadable"'::jsonb WHERE sid = $1`, [
      sessionKey(cookie.slice(2, cookie.lastIndexOf('.'))),
    ]);
    assert.equal(rowCount, 1, "the browser's session row");
    let verify: ClientResponse | undefined;
    const loads = await countStatements(
      kg.db,
      async () => {
        verify = await browser.post('/-/api/login/verify', { response });
      },
      (sql) => sql.includes('taken AS (UPDATE session'),
    );
    assert.equal(verify!.status, 500, verify!.text);
    assert.equal(verify!.json.error.code, 'internal');
    assert.match(verify!.json.error.message, /Something went wrong on our side/);
    assert.doesNotMatch(verify!.text, /at .*\.(js|ts):\d+|jsonb|scalar/, 'no stack trace or SQL error reaches the browser');
    assert.equal(loads, 1);
  });

  /** Signs in with a tampered assertion and checks the refusal end to end; returns the answer. */
  async function refusedSignIn(
    key: SoftwareAuthenticator,
    tamper: Tamper,
    expected: Omit<ExpectedRefusal, 'audit'> & { reason: string },
    opts: { username?: string; origin?: string } = {},
  ): Promise<ClientResponse> {
    const browser = new TestClient(kg.url);
    const options = await loginOptions(browser, opts.username);
    const response = await key.authenticate(options, opts.origin ?? kg.origin, tamper);
    const beforeCounts = await snapshot(kg);
    const res = await browser.post('/-/api/login/verify', { response });
    await assertRefused(kg, res, { ...expected, audit: { event: 'sign_in', reason: expected.reason } }, beforeCounts);
    const home = await browser.get('/');
    assert.equal(home.status, 303, 'the browser is not signed in');
    return res;
  }

  const credentialRow = async (credentialId: string) =>
    (
      await kg.db.query(
        `SELECT sign_count::int, last_used_at, host(last_used_ip) AS ip, last_used_user_agent AS ua, revoked_at FROM credentials WHERE credential_id = $1`,
        [Buffer.from(credentialId, 'base64url')],
      )
    ).rows[0];

  describe('options', () => {
    test('discoverable options carry the configured RP ID, require user verification, and a fresh challenge each time', async () => {
      const browser = new TestClient(kg.url);
      const first = await loginOptions(browser);
      const second = await loginOptions(browser);
      assert.equal(first.rpId, 'localhost');
      assert.equal(first.userVerification, 'required');
      assert.deepEqual(first.allowCredentials ?? [], []);
      assert.ok(Buffer.from(first.challenge, 'base64url').length >= 16);
      assert.notEqual(first.challenge, second.challenge);
    });

    test('a forged Host or X-Forwarded-Host does not change the RP ID, and a response made for that origin is refused', async () => {
      const { key } = await user();
      const forged = { host: 'evil.test', 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https', origin: kg.origin };
      const enrolOptions = await rawPost(kg.url, '/-/api/enroll/options', { token: await invite(kg, nextName()) }, forged);
      assert.equal(enrolOptions.status, 200, enrolOptions.text);
      assert.equal(enrolOptions.json.rp.id, 'localhost');

      const options = await rawPost(kg.url, '/-/api/login/options', {}, forged);
      assert.equal(options.status, 200, options.text);
      assert.equal(options.json.rpId, 'localhost');
      // The same browser session (its cookie), answering as if the page were on the forged origin.
      const browser = new TestClient(kg.url);
      const [pair] = options.setCookies[0].split(';');
      browser.cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
      const response = await key.authenticate(options.json, 'https://evil.test');
      const beforeCounts = await snapshot(kg);
      const res = await browser.post('/-/api/login/verify', { response });
      await assertRefused(kg, res, { status: 400, code: 'bad_origin', message: NOT_VERIFIED, audit: { event: 'sign_in', reason: 'bad_origin' } }, beforeCounts);
    });

    test('a request whose Origin header names another site starts no ceremony', async () => {
      const browser = new TestClient(kg.url, 'http://evil.test');
      const res = await browser.post('/-/api/login/options', {});
      assert.equal(res.status, 403);
      assert.equal(res.json.error.code, 'cross_origin');
      assert.equal(res.json.error.message, 'This request came from another site, so Keygate refused it.');
      assert.deepEqual(res.setCookies, []);
    });

    test('a page this Keygate served under another origin than PUBLIC_URL (a PORT changed without PUBLIC_URL) is told the origin Keygate expects', async () => {
      // The same server reached as http://127.0.0.1:<port>: the browser's Origin names the host it sent the request to.
      const elsewhere = kg.url.replace('localhost', '127.0.0.1');
      const res = await new TestClient(elsewhere, elsewhere).post('/-/api/login/options', {});
      assert.equal(res.status, 403);
      assert.equal(res.json.error.code, 'cross_origin');
      assert.equal(
        res.json.error.message,
        `This page was opened at ${elsewhere}, but Keygate is set up for ${kg.origin} (its PUBLIC_URL), and WebAuthn only works there. Open ${kg.origin} instead; if people reach Keygate at ${elsewhere}, its operator must set PUBLIC_URL to that.`,
      );
    });
  });

  describe('the credential and its owner', () => {
    test("discoverable sign-in answering with another user's handle is refused", async () => {
      const alice = await user();
      const bob = await user();
      const bobsHandle = bob.key.credentials[0].userHandle;
      await refusedSignIn(
        alice.key,
        { userHandle: bobsHandle },
        { status: 400, code: 'user_handle_mismatch', message: NOT_VERIFIED, reason: 'user_handle_mismatch' },
      );
    });

    test('discoverable sign-in without a user handle is refused', async () => {
      const { key } = await user();
      await refusedSignIn(key, { userHandle: null }, { status: 400, code: 'user_handle_mismatch', message: NOT_VERIFIED, reason: 'user_handle_mismatch' });
    });

    test('username first: a key of another user answering (not one of allowCredentials) is refused', async () => {
      const alice = await user();
      const bob = await user();
      // Bob's key signs honestly with its own credential, for Alice's username-first options.
      await refusedSignIn(
        bob.key,
        { credentialId: bob.credentialId },
        { status: 400, code: 'unknown_credential', message: NOT_REGISTERED, reason: 'not_allowed_credential' },
        { username: alice.username },
      );
    });

    test('an unknown username gets options of the same shape as a known one, stable across calls', async () => {
      const known = await user({ residentKey: false });
      const disabled = await user();
      await kg.db.query('UPDATE users SET disabled_at = now() WHERE username = $1', [disabled.username]);
      const shape = (o: any) => ({
        keys: Object.keys(o).sort(),
        rpId: o.rpId,
        userVerification: o.userVerification,
        timeout: o.timeout,
        allow: o.allowCredentials.map((c: any) => ({ keys: Object.keys(c).sort(), type: c.type, transports: c.transports })),
      });
      const browser = new TestClient(kg.url);
      const knownOptions = await loginOptions(browser, known.username);
      for (const name of ['nosuchuser', 'NoSuchUser', disabled.username, 'not a valid name!']) {
        const first = await loginOptions(browser, name);
        const again = await loginOptions(browser, name);
        assert.deepEqual(shape(first), shape(knownOptions), name);
        assert.deepEqual(first.allowCredentials, again.allowCredentials, `${name}: the same answer every time`);
        const idBytes = Buffer.from(first.allowCredentials[0].id, 'base64url').length;
        assert.ok(idBytes >= 16 && idBytes <= 64, `${name}: a plausible credential id (${idBytes} bytes)`);
      }
      assert.deepEqual((await loginOptions(browser, 'nosuchuser')).allowCredentials, (await loginOptions(browser, 'NOSUCHUSER')).allowCredentials);
      assert.notDeepEqual((await loginOptions(browser, 'nosuchuser')).allowCredentials, (await loginOptions(browser, 'nosuchuser2')).allowCredentials);
    });

    test('a forged answer to username-first options does not tell an existing username from an unknown one', async () => {
      /** The answers to the same forgery for an existing username and for an unknown one. */
      async function answers(victim: string, attacker: SoftwareAuthenticator, tamper: Tamper) {
        const seen = [];
        for (const username of [victim, 'nosuchuser']) {
          const browser = new TestClient(kg.url);
          const options = await loginOptions(browser, username);
          // The attacker claims the credential id it was offered; it cannot sign for it.
          const response = await attacker.authenticate(options, kg.origin, { ...tamper, credentialId: options.allowCredentials[0].id });
          const res = await browser.post('/-/api/login/verify', { response });
          seen.push({ status: res.status, body: res.json });
        }
        return seen;
      }
      const attackers = { ES256: await unregisteredKey(kg.origin, 'ES256'), EdDSA: await unregisteredKey(kg.origin, 'EdDSA') };
      for (const victimAlg of ['ES256', 'EdDSA', 'RS256'] as const) {
        const victim = await user({ alg: victimAlg });
        for (const [attackerAlg, attacker] of Object.entries(attackers)) {
          const [existing, unknown] = await answers(victim.username, attacker, {});
          assert.deepEqual(existing, unknown, `a ${victimAlg} key forged with ${attackerAlg}`);
        }
      }
      const victim = await user();
      for (const tamper of [{ origin: 'http://evil.test' }, { signCount: 0 }, { uv: false }, { userHandle: null }, { type: 'webauthn.create' }] as Tamper[]) {
        const [existing, unknown] = await answers(victim.username, attackers.ES256, tamper);
        assert.deepEqual(existing, unknown, `forged with ${JSON.stringify(tamper)}`);
      }
    });

    test('an unknown and a revoked credential get the same answer; the revocation is audited as revoked_credential', async () => {
      let unknown: ClientResponse | undefined;
      for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
        const stranger = await unregisteredKey(kg.origin, alg);
        unknown = await refusedSignIn(stranger, {}, { status: 400, code: 'unknown_credential', message: NOT_REGISTERED, reason: 'unknown_credential' });
      }
      const { key, credentialId } = await user();
      const enrolled = await credentialRow(credentialId);
      await kg.db.query('UPDATE credentials SET revoked_at = now() WHERE credential_id = $1', [Buffer.from(credentialId, 'base64url')]);
      const revoked = await refusedSignIn(key, {}, { status: 400, code: 'unknown_credential', message: NOT_REGISTERED, reason: 'revoked_credential' });
      assert.deepEqual(revoked.json, unknown!.json);
      assert.deepEqual((await credentialRow(credentialId)).last_used_at, enrolled.last_used_at, 'the refused attempt is not a use');
    });

    test('a disabled user is refused and audited as user_disabled', async () => {
      const { username, key, credentialId } = await user();
      await kg.db.query('UPDATE users SET disabled_at = now() WHERE username = $1', [username]);
      await refusedSignIn(
        key,
        {},
        { status: 403, code: 'user_disabled', message: 'This account is disabled. Ask your administrator.', reason: 'user_disabled' },
      );
      assert.equal((await credentialRow(credentialId)).sign_count, 0);
    });
  });

  describe('the sign counter and last use', () => {
    test('success writes the counter, last-used time, address and browser; enrolment writes only its own use (it signed the person in), no counter', async () => {
      const { key, credentialId } = await user();
      const enrolled = await credentialRow(credentialId);
      const { rows } = await kg.db.query('SELECT created_at FROM credentials WHERE credential_id = $1', [Buffer.from(credentialId, 'base64url')]);
      assert.deepEqual(
        { ...enrolled, ip: enrolled.ip?.replace(/^::ffff:/, '') },
        { sign_count: 0, last_used_at: rows[0].created_at, ip: '127.0.0.1', ua: 'node', revoked_at: null },
      );
      const browser = new HeaderClient(kg.url, kg.url, { 'user-agent': 'KeygateTest/1.0 (counter)' });
      const startedAt = Date.now();
      const res = await signIn(browser, key);
      assert.equal(res.status, 200, res.text);
      const used = await credentialRow(credentialId);
      assert.equal(used.sign_count, 1);
      assert.ok(used.last_used_at.getTime() >= startedAt - 1000);
      assert.match(used.ip, /127\.0\.0\.1|::1/);
      assert.equal(used.ua, 'KeygateTest/1.0 (counter)');
      assert.deepEqual(await lastAudit(kg), { event: 'sign_in', outcome: 'success', reason: null });
    });

    test('a counter that went backwards is refused, audited as counter_regression, and the stored counter is unchanged', async () => {
      const { key, credentialId } = await user();
      assert.equal((await signIn(new TestClient(kg.url), key)).status, 200);
      key.setSignCount(credentialId, 0); // the clone's counter: its next assertion says 1 again
      await refusedSignIn(key, {}, { status: 400, code: 'counter_regression', message: /counter went backwards/, reason: 'counter_regression' });
      assert.equal((await credentialRow(credentialId)).sign_count, 1);
    });

    test('an unsigned response with a low counter is refused as a bad signature, not recorded as a clone', async () => {
      const { key, credentialId } = await user();
      assert.equal((await signIn(new TestClient(kg.url), key)).status, 200);
      await refusedSignIn(
        key,
        { signCount: 0, badSignature: true },
        { status: 400, code: 'unknown_credential', message: NOT_REGISTERED, reason: 'bad_signature' },
      );
      assert.equal((await credentialRow(credentialId)).sign_count, 1);
    });

    test('an authenticator without a counter (always 0) keeps signing in', async () => {
      const { key, credentialId } = await user({ counterStep: 0 });
      for (let i = 0; i < 2; i++) assert.equal((await signIn(new TestClient(kg.url), key)).status, 200);
      const row = await credentialRow(credentialId);
      assert.equal(row.sign_count, 0);
      assert.notEqual(row.last_used_at, null);
    });

    test("a synced passkey's backup state is stored as the authenticator reports it at each sign-in (BS 0 → 1 → 0), with backup eligibility unchanged", async () => {
      // Backup eligible (BE) from the start, not yet backed up (BS 0) when enrolled.
      const { key, credentialId } = await user({ backupEligible: true, backedUp: false, attachment: 'platform' });
      const backup = async () =>
        (
          await kg.db.query(`SELECT sign_count::int, device_type, backed_up FROM credentials WHERE credential_id = $1`, [
            Buffer.from(credentialId, 'base64url'),
          ])
        ).rows[0];
      assert.deepEqual(await backup(), { sign_count: 0, device_type: 'multiDevice', backed_up: false }, 'as enrolled: BE 1, BS 0');

      // BS may change between ceremonies (WebAuthn §6.1.3), BE may not. The per-assertion bs flag
      // only sets the bit: the assertion is still signed by the credential's key, as a real one is.
      const steps: Array<[bs: boolean, counter: number]> = [
        [true, 1],
        [false, 2],
      ];
      for (const [bs, counter] of steps) {
        const res = await signIn(new TestClient(kg.url), key, { tamper: { bs } });
        assert.equal(res.status, 200, `sign-in reporting BS ${Number(bs)}: ${res.text}`);
        assert.deepEqual(await lastAudit(kg), { event: 'sign_in', outcome: 'success', reason: null });
        assert.deepEqual(await backup(), { sign_count: counter, device_type: 'multiDevice', backed_up: bs }, `after the sign-in reporting BS ${Number(bs)}`);
      }
    });
  });

  describe('refused assertions', () => {
    let key: SoftwareAuthenticator;
    before(async () => {
      key = (await user()).key;
    });

    test('without user verification (UV) is refused', async () => {
      await refusedSignIn(key, { uv: false }, { status: 400, code: 'user_not_verified', message: /did not verify you/, reason: 'user_not_verified' });
    });

    test('without user presence (UP) is refused', async () => {
      await refusedSignIn(key, { up: false }, { status: 400, code: 'user_not_present', message: NOT_VERIFIED, reason: 'user_not_present' });
    });

    test('from another origin (scheme, port, look-alike host) is refused', async () => {
      const u = new URL(kg.origin);
      for (const origin of [`https://${u.host}`, `http://${u.hostname}:${Number(u.port) + 1}`, `http://${u.host}.evil.test`]) {
        await refusedSignIn(key, { origin }, { status: 400, code: 'bad_origin', message: NOT_VERIFIED, reason: 'bad_origin' });
      }
    });

    test('made in a cross-origin frame (crossOrigin: true, with or without topOrigin) is refused: Keygate is never framed', async () => {
      for (const tamper of [{ crossOrigin: true }, { crossOrigin: true, topOrigin: 'https://evil.example' }, { topOrigin: kg.origin }]) {
        await refusedSignIn(key, tamper, { status: 400, code: 'bad_origin', message: /inside a frame of another site/, reason: 'bad_origin' });
      }
    });

    test('of type webauthn.create is refused', async () => {
      await refusedSignIn(key, { type: 'webauthn.create' }, { status: 400, code: 'bad_type', message: NOT_VERIFIED, reason: 'bad_type' });
    });

    test('with the rpIdHash of another RP ID is refused', async () => {
      await refusedSignIn(key, { rpId: 'evil.test' }, { status: 400, code: 'bad_rp_id', message: NOT_VERIFIED, reason: 'bad_rp_id' });
    });

    test('with a bad signature is refused, with the same answer as an unknown key', async () => {
      await refusedSignIn(key, { badSignature: true }, { status: 400, code: 'unknown_credential', message: NOT_REGISTERED, reason: 'bad_signature' });
    });

    test('backed up (BS) without backup eligible (BE) is refused', async () => {
      await refusedSignIn(key, { be: false, bs: true }, { status: 400, code: 'bad_backup_flags', message: NOT_VERIFIED, reason: 'bad_backup_flags' });
    });

    test('text the client chose in clientDataJSON cannot choose the audit reason', async () => {
      await refusedSignIn(key, { origin: 'http://counter value.evil.test' }, { status: 400, code: 'bad_origin', message: NOT_VERIFIED, reason: 'bad_origin' });
      await refusedSignIn(key, { challenge: 'origin' }, { status: 400, code: 'challenge_mismatch', message: NOT_VERIFIED, reason: 'challenge_mismatch' });
      await refusedSignIn(key, { type: 'RP ID origin' }, { status: 400, code: 'bad_type', message: NOT_VERIFIED, reason: 'bad_type' });
    });
  });

  describe('malformed requests', () => {
    let key: SoftwareAuthenticator;
    before(async () => {
      key = (await user()).key;
    });

    /** Starts a ceremony, sends `body` as the verify request, and expects a JSON 4xx. */
    async function malformed(body: (response: any) => { json?: unknown; body?: string }, status: number, code: string) {
      const browser = new TestClient(kg.url);
      const options = await loginOptions(browser);
      const response = await key.authenticate(options, kg.origin);
      const beforeCounts = await snapshot(kg);
      const res = await browser.request('/-/api/login/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, ...body(response) });
      await assertRefused(kg, res, { status, code }, beforeCounts);
    }

    test('a body that is not JSON is a 400 JSON error, not a 500', async () => {
      await malformed(() => ({ body: '{"response": ' }), 400, 'malformed_json');
    });

    test('credential ids and fields that are not base64url are a 400 JSON error', async () => {
      await malformed((r) => ({ json: { response: { ...r, id: 'not base64url!', rawId: 'not base64url!' } } }), 400, 'malformed_response');
      await malformed((r) => ({ json: { response: { ...r, id: `${r.id}==`, rawId: `${r.id}==` } } }), 400, 'malformed_response');
      await malformed((r) => ({ json: { response: { ...r, response: { ...r.response, signature: '%%%' } } } }), 400, 'malformed_response');
      await malformed(() => ({ json: { response: 'nothing' } }), 400, 'malformed_response');
      await malformed(() => ({ json: [] }), 400, 'malformed_response');
    });

    test('clientDataJSON or authenticatorData that does not decode is a 400 JSON error', async () => {
      await malformed((r) => ({ json: { response: { ...r, response: { ...r.response, clientDataJSON: 'AAAA' } } } }), 400, 'malformed_response');
      const browser = new TestClient(kg.url);
      const options = await loginOptions(browser);
      const r = await key.authenticate(options, kg.origin);
      const res = await browser.post('/-/api/login/verify', { response: { ...r, response: { ...r.response, authenticatorData: 'AAAA' } } });
      assert.equal(res.status, 400, res.text);
      assert.equal(typeof res.json.error.code, 'string');
    });

    test('a body over 64 KiB is refused with 413', async () => {
      const browser = new TestClient(kg.url);
      await loginOptions(browser);
      const res = await browser.post('/-/api/login/verify', { response: { id: 'A'.repeat(70 * 1024) } });
      assert.equal(res.status, 413);
      assert.equal(res.json.error.code, 'body_too_large');
    });
  });

  describe('challenges', () => {
    test('a login challenge is consumed by a failed attempt: a corrected response with it fails with no_ceremony', async () => {
      const { key } = await user();
      const browser = new TestClient(kg.url);
      const options = await loginOptions(browser);
      const failed = await browser.post('/-/api/login/verify', { response: await key.authenticate(options, kg.origin, { uv: false }) });
      assert.equal(failed.status, 400);
      const beforeCounts = await snapshot(kg);
      const retry = await browser.post('/-/api/login/verify', { response: await key.authenticate(options, kg.origin) });
      await assertRefused(
        kg,
        retry,
        { status: 400, code: 'no_ceremony', message: /no longer valid/, audit: { event: 'sign_in', reason: 'no_ceremony' } },
        beforeCounts,
      );
    });

    test('a login challenge is consumed by a failed attempt in any spelling of the verify path (query string, capitals): the retry fails with no_ceremony', async () => {
      // The usual path takes the challenge with the session's load; another spelling reaches the same
      // handler without that, and must take it itself.
      const { key } = await user();
      for (const [first, retry] of [
        ['/-/api/login/verify?again=1', '/-/api/login/verify'],
        ['/-/API/Login/Verify', '/-/api/login/verify'],
        ['/-/api/login/verify', '/-/api/login/verify?again=1'],
      ]) {
        const browser = new TestClient(kg.url);
        const options = await loginOptions(browser);
        const failed = await browser.post(first, { response: await key.authenticate(options, kg.origin, { uv: false }) });
        assert.equal(failed.status, 400, `${first}: ${failed.text}`);
        assert.deepEqual(await lastAudit(kg), { event: 'sign_in', outcome: 'failure', reason: 'user_not_verified' }, first);
        const beforeCounts = await snapshot(kg);
        const again = await browser.post(retry, { response: await key.authenticate(options, kg.origin) });
        await assertRefused(kg, again, { status: 400, code: 'no_ceremony', audit: { event: 'sign_in', reason: 'no_ceremony' } }, beforeCounts);
      }
    });

    test('an enrolment challenge is consumed by a failed attempt, and the invite can start again', async () => {
      const token = await invite(kg, nextName());
      const browser = new TestClient(kg.url);
      const key = new SoftwareAuthenticator();
      const options = (await browser.post('/-/api/enroll/options', { token })).json;
      const failed = await browser.post('/-/api/enroll/verify', { token, response: await key.register(options, kg.origin, { uv: false }) });
      assert.equal(failed.status, 403, failed.text);
      assert.equal(failed.json.error.code, 'user_not_verified');
      const beforeCounts = await snapshot(kg);
      const retry = await browser.post('/-/api/enroll/verify', { token, response: await key.register(options, kg.origin) });
      await assertRefused(kg, retry, { status: 400, code: 'no_ceremony', audit: { event: 'invite_redeemed', reason: 'no_ceremony' } }, beforeCounts);
      const fresh = (await browser.post('/-/api/enroll/options', { token })).json;
      const ok = await browser.post('/-/api/enroll/verify', { token, response: await key.register(fresh, kg.origin) });
      assert.equal(ok.status, 200, ok.text);
    });

    test('a challenge is tagged with its ceremony: login and enrolment challenges are not interchangeable', async () => {
      const { key } = await user();
      const token = await invite(kg, nextName());
      const browser = new TestClient(kg.url);
      const enrolOptions = (await browser.post('/-/api/enroll/options', { token })).json;
      const login = await loginOptions(browser); // the session now holds a login ceremony
      const newKey = new SoftwareAuthenticator();
      let beforeCounts = await snapshot(kg);
      const enrolWithLoginChallenge = await browser.post('/-/api/enroll/verify', {
        token,
        response: await newKey.register(enrolOptions, kg.origin, { challenge: login.challenge }),
      });
      await assertRefused(
        kg,
        enrolWithLoginChallenge,
        { status: 400, code: 'wrong_ceremony', audit: { event: 'invite_redeemed', reason: 'wrong_ceremony' } },
        beforeCounts,
      );

      const enrolAgain = (await browser.post('/-/api/enroll/options', { token })).json; // now an enrolment ceremony
      beforeCounts = await snapshot(kg);
      const loginWithEnrolChallenge = await browser.post('/-/api/login/verify', {
        response: await key.authenticate(login, kg.origin, { challenge: enrolAgain.challenge }),
      });
      await assertRefused(
        kg,
        loginWithEnrolChallenge,
        { status: 400, code: 'wrong_ceremony', audit: { event: 'sign_in', reason: 'wrong_ceremony' } },
        beforeCounts,
      );
    });

    test('the same assertion submitted twice at once signs in exactly once', async () => {
      const { key, credentialId } = await user();
      const browser = new TestClient(kg.url);
      const options = await loginOptions(browser);
      const response = await key.authenticate(options, kg.origin);
      const beforeCounts = await snapshot(kg);
      const results = await Promise.all([0, 1].map(() => browser.post('/-/api/login/verify', { response })));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400], results.map((r) => r.text).join('\n'));
      assert.equal(results.find((r) => r.status === 400)!.json.error.code, 'no_ceremony');
      assert.equal((await snapshot(kg)).counts.sessions, beforeCounts.counts.sessions + 1);
      assert.equal((await credentialRow(credentialId)).sign_count, 1);
    });

    test('challenges expire with the ceremony timeout', async () => {
      const short = await startKeygate({ env: { CEREMONY_TIMEOUT: '1s' } });
      try {
        const key = new SoftwareAuthenticator();
        await enrolledUser(short, new TestClient(short.url), key, 'slowpoke');
        const signInBrowser = new TestClient(short.url);
        const login = (await signInBrowser.post('/-/api/login/options', {})).json;
        assert.equal(login.timeout, 1000);
        const token = await invite(short, 'latecomer');
        const enrolBrowser = new TestClient(short.url);
        const enrol = (await enrolBrowser.post('/-/api/enroll/options', { token })).json;
        const assertion = await key.authenticate(login, short.origin);
        const registration = await new SoftwareAuthenticator().register(enrol, short.origin);
        await new Promise((r) => setTimeout(r, 1200));

        let beforeCounts = await snapshot(short);
        const lateLogin = await signInBrowser.post('/-/api/login/verify', { response: assertion });
        await assertRefused(
          short,
          lateLogin,
          { status: 400, code: 'challenge_expired', message: /took too long/, audit: { event: 'sign_in', reason: 'challenge_expired' } },
          beforeCounts,
        );
        beforeCounts = await snapshot(short);
        const lateEnrol = await enrolBrowser.post('/-/api/enroll/verify', { token, response: registration });
        await assertRefused(
          short,
          lateEnrol,
          { status: 400, code: 'challenge_expired', audit: { event: 'invite_redeemed', reason: 'challenge_expired' } },
          beforeCounts,
        );
      } finally {
        await short.close();
      }
    });
  });
});

/**
 * Registration (WebAuthn §7.1) as Keygate runs it at enrolment and at /-/account "add a device":
 * every relying-party check of the checklist, each with a response that breaks exactly that check,
 * verified by the real @simplewebauthn/server. A refusal must say why, write nothing and be audited.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeCBOR, encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { SoftwareAuthenticator, type AuthenticatorOptions, type Tamper } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { assertRefused, enroll, enrolledUser, invite, signIn, snapshot, type ExpectedRefusal } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

/** A Uint8Array with its own buffer (tiny-cbor reads from offset 0 of the underlying buffer). */
const copy = (bytes: Uint8Array) => new Uint8Array(bytes);

const NOT_VERIFIED = "Your key's response could not be verified. Please try again.";

/**
 * Rewrites the attested credential data of a 'none' attestation, which nothing signs, as a
 * malicious client can: another credential id (and, unless `claimedId` says otherwise, the same
 * id in id/rawId), or another COSE algorithm for the same key.
 */
function forgeAttestedCredential(
  response: RegistrationResponseJSON,
  change: { credentialId?: Buffer; alg?: number; claimedId?: string },
): RegistrationResponseJSON {
  const attestation = decodeCBOR(copy(Buffer.from(response.response.attestationObject, 'base64url'))) as Map<string, CBORType>;
  assert.equal(attestation.get('fmt'), 'none');
  const authData = Buffer.from(attestation.get('authData') as Uint8Array);
  // rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) ‖ L (2) ‖ credentialId (L) ‖ COSE key
  const idLength = authData.readUInt16BE(53);
  const credentialId = change.credentialId ?? authData.subarray(55, 55 + idLength);
  let coseKey = authData.subarray(55 + idLength);
  if (change.alg !== undefined) {
    const key = decodeCBOR(copy(coseKey)) as Map<number, CBORType>;
    key.set(3, change.alg);
    coseKey = Buffer.from(encodeCBOR(key));
  }
  const length = Buffer.alloc(2);
  length.writeUInt16BE(credentialId.length);
  const forged = Buffer.concat([authData.subarray(0, 53), length, credentialId, coseKey]);
  attestation.set('authData', new Uint8Array(forged));
  const id = change.claimedId ?? credentialId.toString('base64url');
  return {
    ...response,
    id,
    rawId: id,
    response: {
      ...response.response,
      attestationObject: Buffer.from(encodeCBOR(attestation)).toString('base64url'),
      authenticatorData: forged.toString('base64url'),
      publicKeyAlgorithm: change.alg ?? response.response.publicKeyAlgorithm,
    },
  };
}

describe('registration', () => {
  let kg: TestKeygate;
  let n = 0;
  const nextName = () => `reg${++n}`;

  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg.close());

  /** Invite a new user and fetch enrolment options in a fresh browser. */
  async function begin(username = nextName(), authOptions: AuthenticatorOptions = {}) {
    const token = await invite(kg, username);
    const browser = new TestClient(kg.url);
    const key = new SoftwareAuthenticator(authOptions);
    const options = await browser.post('/-/api/enroll/options', { token });
    assert.equal(options.status, 200, options.text);
    return { username, token, browser, key, options: options.json };
  }

  const verify = (browser: TestClient, token: string, response: unknown) => browser.post('/-/api/enroll/verify', { token, response });

  /** Enrols with a tampered response and checks the refusal end to end. */
  async function refusedEnrolment(tamper: Tamper, expected: Omit<ExpectedRefusal, 'audit'> & { reason?: string }, authOptions: AuthenticatorOptions = {}) {
    const { token, browser, key, options } = await begin(undefined, authOptions);
    const response = await key.register(options, kg.origin, tamper);
    const beforeCounts = await snapshot(kg);
    const res = await verify(browser, token, response);
    await assertRefused(kg, res, { ...expected, audit: { event: 'invite_redeemed', reason: expected.reason ?? expected.code } }, beforeCounts);
  }

  const credentialRow = async (credentialId: string) =>
    (await kg.db.query('SELECT * FROM credentials WHERE credential_id = $1', [Buffer.from(credentialId, 'base64url')])).rows[0];

  describe('options', () => {
    test('offer exactly EdDSA, ES256 and RS256, no attestation, required user verification, and the configured RP', async () => {
      const { options } = await begin();
      assert.deepEqual(options.pubKeyCredParams, [
        { alg: -8, type: 'public-key' },
        { alg: -7, type: 'public-key' },
        { alg: -257, type: 'public-key' },
      ]);
      assert.equal(options.attestation, 'none');
      assert.equal(options.authenticatorSelection.userVerification, 'required');
      assert.equal(options.rp.id, 'localhost');
      assert.equal(options.timeout, kg.config.ceremonyTimeoutMs);
      assert.deepEqual(options.excludeCredentials, []);
      assert.ok(Buffer.from(options.challenge, 'base64url').length >= 16, 'challenge of at least 16 bytes');
    });

    test('every offered algorithm (EdDSA, ES256, RS256) enrols', async () => {
      for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
        const { token, browser, key, options } = await begin(undefined, { alg });
        const res = await verify(browser, token, await key.register(options, kg.origin));
        assert.equal(res.status, 200, `${alg}: ${res.text}`);
        assert.equal(key.credentials[0].alg, alg);
      }
    });

    test('the stored credential keeps public key, counter, transports, backup flags, AAGUID and attestation format', async () => {
      const aaguid = 'adce0002-35bc-c60a-648b-0b25f1f05503';
      const { token, browser, key, options } = await begin(undefined, {
        aaguid,
        backupEligible: true,
        backedUp: true,
        attachment: 'platform',
        transports: ['internal', 'hybrid'],
      });
      const response = await key.register(options, kg.origin);
      const res = await verify(browser, token, response);
      assert.equal(res.status, 200, res.text);
      const row = await credentialRow(key.credentials[0].id);
      assert.equal(row.aaguid, aaguid);
      assert.equal(row.device_type, 'multiDevice');
      assert.equal(row.backed_up, true);
      assert.deepEqual(row.transports, ['internal', 'hybrid']);
      assert.equal(row.attestation_format, 'none');
      assert.equal(Number(row.sign_count), 0);
      assert.equal(row.nickname, 'Passkey');
      assert.ok(row.public_key.length > 0);
      assert.deepEqual(row.last_used_at, row.created_at, 'enrolment signed the person in with it: its first use');
    });
  });

  describe('refused responses', () => {
    test('clientDataJSON of type webauthn.get is refused', async () => {
      await refusedEnrolment({ type: 'webauthn.get' }, { status: 400, code: 'bad_type', message: NOT_VERIFIED });
    });

    test('a challenge this server never issued is refused', async () => {
      await refusedEnrolment({ challenge: Buffer.alloc(32, 7).toString('base64url') }, { status: 400, code: 'challenge_mismatch', message: NOT_VERIFIED });
    });

    test('a challenge issued to another browser session is refused, and the other session keeps its own', async () => {
      const a = await begin();
      const b = await begin();
      const answerToA = await a.key.register(a.options, kg.origin);
      let beforeCounts = await snapshot(kg);
      // B has its own challenge: A's does not match it.
      const res = await verify(b.browser, a.token, answerToA);
      await assertRefused(
        kg,
        res,
        { status: 400, code: 'challenge_mismatch', message: NOT_VERIFIED, audit: { event: 'invite_redeemed', reason: 'challenge_mismatch' } },
        beforeCounts,
      );
      // A browser with no ceremony at all has nothing to match.
      beforeCounts = await snapshot(kg);
      const stranger = await verify(new TestClient(kg.url), a.token, answerToA);
      await assertRefused(kg, stranger, { status: 400, code: 'no_ceremony', audit: { event: 'invite_redeemed', reason: 'no_ceremony' } }, beforeCounts);
      // A's own ceremony was never touched by the others.
      const mine = await verify(a.browser, a.token, answerToA);
      assert.equal(mine.status, 200, mine.text);
    });

    const wrongOrigins: Array<[string, (u: URL) => string]> = [
      ['another scheme', (u) => `https://${u.host}`],
      ['another port', (u) => `http://${u.hostname}:${Number(u.port) + 1}`],
      ['a subdomain', (u) => `http://login.${u.host}`],
      ['a look-alike host', (u) => `http://${u.host}.evil.test`],
      ['no port', (u) => `http://${u.hostname}`],
    ];
    for (const [label, make] of wrongOrigins) {
      test(`an origin with ${label} is refused`, async () => {
        await refusedEnrolment({ origin: make(new URL(kg.origin)) }, { status: 400, code: 'bad_origin', message: NOT_VERIFIED });
      });
    }

    test('a response made in a cross-origin frame (crossOrigin: true, with or without topOrigin) is refused: Keygate is never framed', async () => {
      for (const tamper of [{ crossOrigin: true }, { crossOrigin: true, topOrigin: 'https://evil.example' }]) {
        await refusedEnrolment(tamper, { status: 400, code: 'bad_origin', message: /inside a frame of another site/ });
      }
    });

    test('an rpIdHash of another RP ID is refused', async () => {
      await refusedEnrolment({ rpId: 'evil.test' }, { status: 400, code: 'bad_rp_id', message: NOT_VERIFIED });
    });

    test('a response without user presence (UP) is refused', async () => {
      await refusedEnrolment({ up: false }, { status: 400, code: 'user_not_present', message: NOT_VERIFIED });
    });

    test('a response without user verification (UV) is refused, since Keygate requires it by default', async () => {
      await refusedEnrolment(
        { uv: false },
        { status: 403, code: 'user_not_verified', message: /only authenticators that verify you with a PIN, fingerprint or face/ },
      );
    });

    test('backed up (BS) without backup eligible (BE) is refused', async () => {
      await refusedEnrolment({ be: false, bs: true }, { status: 400, code: 'bad_backup_flags', message: NOT_VERIFIED });
    });

    test('a credential whose algorithm was not offered (RS1, -65535) is refused', async () => {
      const { token, browser, key, options } = await begin(undefined, { alg: 'RS256' });
      const response = forgeAttestedCredential(await key.register(options, kg.origin), { alg: -65535 });
      const beforeCounts = await snapshot(kg);
      const res = await verify(browser, token, response);
      await assertRefused(
        kg,
        res,
        {
          status: 400,
          code: 'algorithm_not_allowed',
          message: "This key's signature algorithm is not accepted here.",
          audit: { event: 'invite_redeemed', reason: 'algorithm_not_allowed' },
        },
        beforeCounts,
      );
    });

    test('a 1024-byte credential id is refused, and 1023 bytes is accepted', async () => {
      await refusedEnrolment({ credentialIdLength: 1024 }, { status: 400, code: 'credential_id_too_long', message: 'This key returned an invalid key id.' });
      const { token, browser, key, options } = await begin();
      const res = await verify(browser, token, await key.register(options, kg.origin, { credentialIdLength: 1023 }));
      assert.equal(res.status, 200, res.text);
      assert.equal((await credentialRow(key.credentials[0].id)).credential_id.length, 1023);
    });

    test('a 1024-byte credential id inside authenticator data is refused even when rawId is short', async () => {
      const { token, browser, key, options } = await begin();
      const honest = await key.register(options, kg.origin);
      const response = forgeAttestedCredential(honest, { credentialId: Buffer.alloc(1024, 1), claimedId: honest.id });
      const beforeCounts = await snapshot(kg);
      const res = await verify(browser, token, response);
      await assertRefused(
        kg,
        res,
        { status: 400, code: 'credential_id_too_long', audit: { event: 'invite_redeemed', reason: 'credential_id_too_long' } },
        beforeCounts,
      );
    });
  });

  describe('a credential id is registered once', () => {
    test("add-device options exclude the user's keys, and the same credential again is refused with already_registered", async () => {
      const browser = new TestClient(kg.url);
      const first = new SoftwareAuthenticator();
      await enrolledUser(kg, browser, first, nextName());
      const options = await browser.post('/-/api/account/devices/options', {});
      assert.equal(options.status, 200, options.text);
      assert.deepEqual(
        options.json.excludeCredentials.map((c: { id: string }) => c.id),
        [first.credentials[0].id],
      );
      // An honest authenticator holding that key refuses to make another (InvalidStateError)...
      await assert.rejects(first.register(options.json, kg.origin), /InvalidStateError/);
      // ...and a client that ignores excludeCredentials is refused by the server.
      const second = new SoftwareAuthenticator();
      const response = forgeAttestedCredential(await second.register(options.json, kg.origin), {
        credentialId: Buffer.from(first.credentials[0].id, 'base64url'),
      });
      const beforeCounts = await snapshot(kg);
      const res = await browser.post('/-/api/account/devices/verify', { response });
      await assertRefused(
        kg,
        res,
        {
          status: 409,
          code: 'already_registered',
          message: /already enrolled here/,
          audit: { event: 'credential_registered', reason: 'already_registered' },
        },
        beforeCounts,
      );
    });

    test('another user registering an existing credential id is refused, and no account or invite use is left behind', async () => {
      const victim = new SoftwareAuthenticator();
      await enrolledUser(kg, new TestClient(kg.url), victim, nextName());
      const { token, browser, key, options } = await begin();
      const response = forgeAttestedCredential(await key.register(options, kg.origin), {
        credentialId: Buffer.from(victim.credentials[0].id, 'base64url'),
      });
      const beforeCounts = await snapshot(kg);
      const res = await verify(browser, token, response);
      await assertRefused(
        kg,
        res,
        {
          status: 409,
          code: 'already_registered',
          message: /already enrolled here/,
          audit: { event: 'invite_redeemed', reason: 'already_registered' },
        },
        beforeCounts,
      );
    });

    test('one invite redeemed at once by two browsers stores exactly one credential', async () => {
      const username = nextName();
      const token = await invite(kg, username);
      const browsers = [new TestClient(kg.url), new TestClient(kg.url)];
      const keys = [new SoftwareAuthenticator(), new SoftwareAuthenticator()];
      const responses: RegistrationResponseJSON[] = [];
      for (const i of [0, 1]) {
        const options = await browsers[i].post('/-/api/enroll/options', { token });
        responses.push(await keys[i].register(options.json, kg.origin));
      }
      const beforeCounts = await snapshot(kg);
      const results = await Promise.all([0, 1].map((i) => verify(browsers[i], token, responses[i])));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 410], results.map((r) => r.text).join('\n'));
      assert.equal(results.find((r) => r.status === 410)!.json.error.code, 'invite_used');
      const afterCounts = (await snapshot(kg)).counts;
      assert.deepEqual(afterCounts, {
        ...beforeCounts.counts,
        users: beforeCounts.counts.users + 1,
        credentials: beforeCounts.counts.credentials + 1,
        invites_used: beforeCounts.counts.invites_used + 1,
        sessions: beforeCounts.counts.sessions + 1,
      });
    });

    test('one ceremony submitted twice at once by the same browser stores exactly one credential', async () => {
      const { token, browser, key, options } = await begin();
      const response = await key.register(options, kg.origin);
      const beforeCounts = await snapshot(kg);
      const results = await Promise.all([verify(browser, token, response), verify(browser, token, response)]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);
      assert.equal(results.find((r) => r.status === 400)!.json.error.code, 'no_ceremony');
      assert.equal((await snapshot(kg)).counts.credentials, beforeCounts.counts.credentials + 1);
    });
  });

  describe('invites', () => {
    const noStackTrace = (text: string) => assert.doesNotMatch(text, /\bat .+:\d+:\d+|node_modules|Error:/);

    async function expectInvitePage(token: string, status: number, title: RegExp) {
      const page = await new TestClient(kg.url).get(`/-/enroll/${token}`);
      assert.equal(page.status, status);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.text, title);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      noStackTrace(page.text);
    }

    async function expectInviteApiError(token: string, status: number, code: string) {
      const res = await new TestClient(kg.url).post('/-/api/enroll/options', { token });
      assert.equal(res.status, status, res.text);
      assert.equal(res.json?.error?.code, code);
      noStackTrace(res.text);
    }

    test('an expired invite gets a clear page (410) and a JSON error, also when it expires mid-ceremony', async () => {
      const shortLived = await invite(kg, nextName());
      await kg.db.query(`UPDATE invites SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE token_hash = $1`, [
        createHash('sha256').update(shortLived).digest(),
      ]);
      await expectInvitePage(shortLived, 410, /This invite link has expired/);
      await expectInviteApiError(shortLived, 410, 'invite_expired');

      const { token, browser, key, options } = await begin();
      const response = await key.register(options, kg.origin);
      await kg.db.query(`UPDATE invites SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE token_hash = $1`, [
        createHash('sha256').update(token).digest(),
      ]);
      const beforeCounts = await snapshot(kg);
      const res = await verify(browser, token, response);
      await assertRefused(
        kg,
        res,
        { status: 410, code: 'invite_expired', message: /has expired/, audit: { event: 'invite_redeemed', reason: 'invite_expired' } },
        beforeCounts,
      );
    });

    test('a used invite gets a clear page (410) and a JSON error', async () => {
      const token = await invite(kg, nextName());
      const res = await enroll(new TestClient(kg.url), new SoftwareAuthenticator(), token);
      assert.equal(res.status, 200, res.text);
      await expectInvitePage(token, 410, /already been used/);
      await expectInviteApiError(token, 410, 'invite_used');
    });

    test('an unknown or malformed token gets a clear page (404) and a JSON error, never a stack trace', async () => {
      const unknown = Buffer.alloc(32, 9).toString('base64url');
      await expectInvitePage(unknown, 404, /This invite link is not valid/);
      await expectInviteApiError(unknown, 404, 'invite_unknown');
      await expectInvitePage('not-a-token', 404, /not valid/);
      await expectInviteApiError('x'.repeat(129), 400, 'invalid_request');
    });

    test('the invites table keeps only a SHA-256 of the token', async () => {
      const token = await invite(kg, nextName());
      const { rows } = await kg.db.query(`SELECT row_to_json(i)::text AS row, token_hash FROM invites i WHERE token_hash = $1`, [
        createHash('sha256').update(token).digest(),
      ]);
      assert.equal(rows.length, 1);
      const { rows: all } = await kg.db.query(`SELECT row_to_json(i)::text AS row FROM invites i`);
      const raw = Buffer.from(token, 'base64url').toString('hex');
      for (const { row } of all) {
        assert.ok(!row.includes(token) && !row.includes(raw), 'the token itself is not stored');
      }
    });

    test('a recovery invite for an existing user adds a credential and keeps the others', async () => {
      const username = nextName();
      const oldKey = new SoftwareAuthenticator();
      await enrolledUser(kg, new TestClient(kg.url), oldKey, username);
      const token = await invite(kg, username);
      const browser = new TestClient(kg.url);
      const options = await browser.post('/-/api/enroll/options', { token });
      assert.deepEqual(
        options.json.excludeCredentials.map((c: { id: string }) => c.id),
        [oldKey.credentials[0].id],
      );
      assert.equal(options.json.user.id, oldKey.credentials[0].userHandle, 'the same account');
      const newKey = new SoftwareAuthenticator();
      const res = await verify(browser, token, await newKey.register(options.json, kg.origin));
      assert.equal(res.status, 200, res.text);

      const { rows } = await kg.db.query(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE c.revoked_at IS NULL)::int AS active FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = $1`,
        [username],
      );
      assert.deepEqual(rows[0], { n: 2, active: 2 });
      for (const key of [oldKey, newKey]) {
        const signedIn = await signIn(new TestClient(kg.url), key);
        assert.equal(signedIn.status, 200, signedIn.text);
      }
    });

    test('an admin invite grants is_admin, an ordinary one does not', async () => {
      const admin = nextName();
      const plain = nextName();
      await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), admin, { admin: true });
      await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), plain);
      const { rows } = await kg.db.query('SELECT username, is_admin FROM users WHERE username = ANY($1) ORDER BY username', [[admin, plain]]);
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.username, r.is_admin])), { [admin]: true, [plain]: false });
    });

    test('the user handle is at least 16 random bytes, not the username, and differs between users', async () => {
      const handles: string[] = [];
      for (const username of [nextName(), nextName()]) {
        const key = new SoftwareAuthenticator();
        await enrolledUser(kg, new TestClient(kg.url), key, username);
        const handle = Buffer.from(key.credentials[0].userHandle, 'base64url');
        assert.ok(handle.length >= 16, `handle of ${handle.length} bytes`);
        assert.ok(!handle.includes(Buffer.from(username)), 'the handle does not carry the username');
        const { rows } = await kg.db.query('SELECT user_handle FROM users WHERE username = $1', [username]);
        assert.ok(rows[0].user_handle.equals(handle), 'the handle the authenticator keeps is the stored one');
        handles.push(handle.toString('hex'));
      }
      assert.notEqual(handles[0], handles[1]);
    });

    test('usernames are unique case-insensitively', async () => {
      // An invite for another spelling of an existing name is a recovery invite for that account.
      const name = `Carol${++n}`;
      await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), name);
      const token = await invite(kg, name.toUpperCase());
      const { rows } = await kg.db.query(
        `SELECT i.username, i.user_id = u.id AS same FROM invites i JOIN users u ON lower(u.username) = lower(i.username) WHERE i.token_hash = $1`,
        [createHash('sha256').update(token).digest()],
      );
      assert.deepEqual(rows[0], { username: name, same: true });

      // Two invites for one new name in different case, both started before either is used: one account.
      const lower = `dave${++n}`;
      const first = await begin(lower);
      const second = await begin(lower.toUpperCase());
      const ok = await verify(first.browser, first.token, await first.key.register(first.options, kg.origin));
      assert.equal(ok.status, 200, ok.text);
      const response = await second.key.register(second.options, kg.origin);
      const beforeCounts = await snapshot(kg);
      const res = await verify(second.browser, second.token, response);
      await assertRefused(
        kg,
        res,
        { status: 409, code: 'enrolment_conflict', audit: { event: 'invite_redeemed', reason: 'enrolment_conflict' } },
        beforeCounts,
      );
      const { rows: users } = await kg.db.query('SELECT username FROM users WHERE lower(username) = lower($1)', [lower]);
      assert.deepEqual(users, [{ username: lower }]);
      await assert.rejects(
        kg.db.query(`INSERT INTO users (username, user_handle) VALUES ($1, $2)`, [lower.toUpperCase(), Buffer.alloc(32, 3)]),
        /users_username_ci/,
      );
    });
  });
});

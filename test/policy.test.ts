/**
 * The authenticator policy (server/policy/): each setting, both ways, at registration and at sign-in,
 * through the real ceremonies and the real @simplewebauthn/server verification. Attestation trust and
 * the FIDO metadata are in policy-attestation.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SoftwareAuthenticator, type AuthenticatorOptions } from './support/authenticator.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { assertRefused, enroll, invite, lastAudit, sameBrowserOn, signIn, snapshot } from './support/flows.js';
import { useSharedKeygates, type TestKeygate } from './support/keygate.js';
import { MODELS, addDevice } from './support/account.js';
import { stepUp } from './support/admin.js';

/** A Keygate with this policy, all on one database (so a policy can change under enrolled keys). */
const keygate = useSharedKeygates();

let people = 0;
const nextName = (base: string) => `${base}${++people}`;

interface Attempt {
  kg: TestKeygate;
  token: string;
  browser: TestClient;
  key: SoftwareAuthenticator;
  options: any;
}

/** Invite and enrolment options with a key of this kind; the response is not sent yet. */
async function begin(kg: TestKeygate, key: AuthenticatorOptions = {}, opts: { admin?: boolean; username?: string } = {}): Promise<Attempt> {
  const token = await invite(kg, opts.username ?? nextName('p'), { admin: opts.admin });
  const browser = new TestClient(kg.url);
  const res = await browser.post('/-/api/enroll/options', { token });
  assert.equal(res.status, 200, res.text);
  return { kg, token, browser, key: new SoftwareAuthenticator(key), options: res.json };
}

/** Enrols with a key of this kind and expects success; returns the key and its browser. */
async function enrols(kg: TestKeygate, key: AuthenticatorOptions = {}, opts: { admin?: boolean; username?: string } = {}) {
  const a = await begin(kg, key, opts);
  const res = await a.browser.post('/-/api/enroll/verify', { token: a.token, response: await a.key.register(a.options, kg.origin) });
  assert.equal(res.status, 200, res.text);
  return a;
}

/** Enrols with a key of this kind and expects the policy to refuse it: 403, the reason, the words, nothing written, audited. */
async function refusedEnrolment(
  kg: TestKeygate,
  key: AuthenticatorOptions,
  reason: string,
  message: RegExp,
  opts: { admin?: boolean; edit?: (r: any) => void } = {},
) {
  const a = await begin(kg, key, opts);
  const response: any = await a.key.register(a.options, kg.origin);
  opts.edit?.(response);
  const before = await snapshot(kg);
  const res = await a.browser.post('/-/api/enroll/verify', { token: a.token, response });
  await assertRefused(kg, res, { status: 403, code: reason, message, audit: { event: 'invite_redeemed', reason } }, before);
  // The invite is still there to use with an allowed authenticator.
  const again = await a.browser.post('/-/api/enroll/options', { token: a.token });
  assert.equal(again.status, 200, 'the invite survives a refused key');
}

/** A sign-in refused by the policy: 403, the reason, words that say to enrol an allowed key with a recovery link, counter unchanged, audited. */
async function refusedSignIn(kg: TestKeygate, key: SoftwareAuthenticator, reason: string, message: RegExp) {
  const browser = new TestClient(kg.url);
  const before = await snapshot(kg);
  const res: ClientResponse = await signIn(browser, key);
  await assertRefused(kg, res, { status: 403, code: reason, message, audit: { event: 'sign_in', reason } }, before);
  assert.match(res.json.error.message, /no longer accepted here.*Ask your administrator for a recovery link to enrol an allowed key\./);
  assert.equal((await browser.get('/some/repo')).status, 303, 'still signed out');
}

async function signsIn(kg: TestKeygate, key: SoftwareAuthenticator) {
  const res = await signIn(new TestClient(kg.url), key);
  assert.equal(res.status, 200, res.text);
}

const SECURITY_KEY: AuthenticatorOptions = { attachment: 'cross-platform', aaguid: MODELS.yubikey.aaguid };
const PLATFORM: AuthenticatorOptions = { attachment: 'platform', aaguid: MODELS.windowsHello.aaguid };
const SYNCED: AuthenticatorOptions = { attachment: 'platform', aaguid: MODELS.applePasswords.aaguid, backupEligible: true, backedUp: true };

describe('authenticator policy', () => {
  describe('AUTHENTICATOR_ATTACHMENT', () => {
    test('cross-platform: the options ask for a security key; a security key enrols, a platform authenticator is refused with the reason', async () => {
      const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
      const a = await enrols(kg, SECURITY_KEY);
      assert.equal(a.options.authenticatorSelection.authenticatorAttachment, 'cross-platform');
      await refusedEnrolment(kg, PLATFORM, 'policy_attachment', /accepts only security keys \(such as a YubiKey\)/);
    });

    test('platform: a platform authenticator enrols, a security key is refused with the reason', async () => {
      const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'platform' });
      const a = await enrols(kg, PLATFORM);
      assert.equal(a.options.authenticatorSelection.authenticatorAttachment, 'platform');
      await refusedEnrolment(kg, SECURITY_KEY, 'policy_attachment', /accepts only the authenticator built into your device/);
    });

    test('a browser that does not say how the authenticator is attached is refused under an attachment policy', async () => {
      const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
      await refusedEnrolment(kg, SECURITY_KEY, 'policy_attachment', /only security keys/, { edit: (r) => delete r.authenticatorAttachment });
    });

    test('any (the default): both kinds enrol', async () => {
      const kg = await keygate();
      const a = await enrols(kg, SECURITY_KEY);
      assert.equal(a.options.authenticatorSelection.authenticatorAttachment, undefined);
      await enrols(kg, PLATFORM);
    });

    test('tightened later: a platform authenticator enrolled before is refused at sign-in; a security key still signs in', async () => {
      const open = await keygate();
      const platform = (await enrols(open, PLATFORM)).key;
      const roaming = (await enrols(open, SECURITY_KEY)).key;
      const strict = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
      await refusedSignIn(strict, platform, 'policy_attachment', /accepts only security keys/);
      await signsIn(strict, roaming);
    });
  });

  describe('USER_VERIFICATION', () => {
    test('required (the default): a key that did not verify the person is refused at enrolment and at sign-in', async () => {
      const kg = await keygate();
      const a = await enrols(kg);
      assert.equal(a.options.authenticatorSelection.userVerification, 'required');
      const before = await snapshot(kg);
      const withoutUv = await begin(kg, { userVerification: false });
      const res = await withoutUv.browser.post('/-/api/enroll/verify', {
        token: withoutUv.token,
        response: await withoutUv.key.register(withoutUv.options, kg.origin),
      });
      await assertRefused(
        kg,
        res,
        {
          status: 403,
          code: 'user_not_verified',
          message: /accepts only authenticators that verify you with a PIN, fingerprint or face/,
          audit: { event: 'invite_redeemed', reason: 'user_not_verified' },
        },
        before,
      );
      const signInRes = await signIn(new TestClient(kg.url), a.key, { tamper: { uv: false } });
      assert.equal(signInRes.status, 400);
      assert.equal(signInRes.json.error.code, 'user_not_verified');
    });

    test('discouraged: the options say so, and a key without user verification enrols and signs in', async () => {
      const kg = await keygate({ USER_VERIFICATION: 'discouraged' });
      const a = await enrols(kg, { userVerification: false });
      assert.equal(a.options.authenticatorSelection.userVerification, 'discouraged');
      await signsIn(kg, a.key);
    });
  });

  describe('RESIDENT_KEY', () => {
    test('required: the options require a discoverable credential and ask for credProps; a passkey enrols, a key that stored none is refused', async () => {
      const kg = await keygate({ RESIDENT_KEY: 'required' });
      const a = await enrols(kg, { residentKey: true });
      assert.equal(a.options.authenticatorSelection.residentKey, 'required');
      assert.equal(a.options.extensions?.credProps, true);
      const row = (await kg.db.query('SELECT discoverable FROM credentials WHERE credential_id = $1', [Buffer.from(a.key.credentials[0].id, 'base64url')]))
        .rows[0];
      assert.equal(row.discoverable, true);
      await refusedEnrolment(kg, { residentKey: true }, 'policy_resident_key', /only passkeys stored on the authenticator itself/, {
        edit: (r) => (r.clientExtensionResults = { credProps: { rk: false } }),
      });
      await refusedEnrolment(kg, { residentKey: true }, 'policy_resident_key', /only passkeys stored on the authenticator itself/, {
        edit: (r) => (r.clientExtensionResults = {}),
      });
    });

    test('discouraged: a key without a resident credential enrols and signs in username first', async () => {
      const kg = await keygate({ RESIDENT_KEY: 'discouraged' });
      const name = nextName('nork');
      const a = await enrols(kg, { residentKey: false }, { username: name });
      assert.equal(a.options.authenticatorSelection.residentKey, 'discouraged');
      const res = await signIn(new TestClient(kg.url), a.key, { username: name });
      assert.equal(res.status, 200, res.text);
    });

    test('tightened later: a key that stored no discoverable credential is refused at sign-in', async () => {
      const open = await keygate({ RESIDENT_KEY: 'discouraged' });
      const name = nextName('nork');
      const { key } = await enrols(open, { residentKey: false }, { username: name });
      const strict = await keygate({ RESIDENT_KEY: 'required' });
      const before = await snapshot(strict);
      const res = await signIn(new TestClient(strict.url), key, { username: name });
      await assertRefused(
        strict,
        res,
        { status: 403, code: 'policy_resident_key', message: /no longer accepted here/, audit: { event: 'sign_in', reason: 'policy_resident_key' } },
        before,
      );
    });
  });

  describe('SYNCED_PASSKEYS', () => {
    test('refuse: a synced (backup-eligible) passkey is refused, a device-bound key enrols', async () => {
      const kg = await keygate({ SYNCED_PASSKEYS: 'refuse' });
      await refusedEnrolment(kg, SYNCED, 'policy_synced_passkey', /does not accept synced passkeys \(passkeys copied to a cloud account\)/);
      await enrols(kg, PLATFORM);
    });

    test('refuse-for-admins: a synced passkey enrols for a person, and is refused for an administrator', async () => {
      const kg = await keygate({ SYNCED_PASSKEYS: 'refuse-for-admins' });
      await enrols(kg, SYNCED);
      await refusedEnrolment(kg, SYNCED, 'policy_synced_passkey', /does not accept synced passkeys for administrators/, { admin: true });
      await enrols(kg, SECURITY_KEY, { admin: true });
    });

    test('allow (the default): a synced passkey enrols', async () => {
      await enrols(await keygate(), SYNCED);
    });

    test('tightened later: an administrator with a synced passkey is refused at sign-in; a person with one still signs in', async () => {
      const open = await keygate();
      const adminKey = (await enrols(open, SYNCED, { admin: true })).key;
      const userKey = (await enrols(open, SYNCED)).key;
      const strict = await keygate({ SYNCED_PASSKEYS: 'refuse-for-admins' });
      await refusedSignIn(strict, adminKey, 'policy_synced_passkey', /synced passkeys for administrators/);
      await signsIn(strict, userKey);
    });
  });

  describe('AAGUID_ALLOW and AAGUID_DENY', () => {
    test('deny: the denied model is refused by name, another model enrols', async () => {
      const kg = await keygate({ AAGUID_DENY: MODELS.yubikey.aaguid.toUpperCase() });
      await refusedEnrolment(kg, SECURITY_KEY, 'policy_aaguid_denied', new RegExp(`does not accept this authenticator model \\(${MODELS.yubikey.name}`));
      await enrols(kg, PLATFORM);
    });

    test('allow: only listed models enrol; another is refused by name', async () => {
      const kg = await keygate({ AAGUID_ALLOW: `${MODELS.yubikey.aaguid}, ${MODELS.windowsHello.aaguid}` });
      await enrols(kg, SECURITY_KEY);
      await enrols(kg, PLATFORM);
      await refusedEnrolment(
        kg,
        SYNCED,
        'policy_aaguid_not_allowed',
        new RegExp(`only approved authenticator models, and ${MODELS.applePasswords.name} is not one of them`),
      );
    });

    test('denied later: a key of that model is refused at sign-in and told to enrol an allowed one; other models sign in', async () => {
      const open = await keygate();
      const yubikey = (await enrols(open, SECURITY_KEY)).key;
      const hello = (await enrols(open, PLATFORM)).key;
      const strict = await keygate({ AAGUID_DENY: MODELS.yubikey.aaguid });
      await refusedSignIn(strict, yubikey, 'policy_aaguid_denied', /does not accept this authenticator model/);
      await signsIn(strict, hello);
    });

    test('denied later: the account page of someone still signed in with that key warns them, and only about that key', async () => {
      const open = await keygate();
      const person = await enrols(open, SECURITY_KEY);
      const strict = await keygate({ AAGUID_DENY: MODELS.yubikey.aaguid });
      const browser = sameBrowserOn(person.browser, strict);
      const page = await browser.get('/-/account');
      assert.equal(page.status, 200, page.text);
      assert.match(
        page.text,
        /This key will not sign you in again here\.<\/strong> This organisation does not accept this authenticator model \(YubiKey 5 Series\)\. Ask your administrator/,
      );
      const fine = await enrols(open, PLATFORM);
      assert.doesNotMatch((await sameBrowserOn(fine.browser, strict).get('/-/account')).text, /will not sign you in again/);
    });
  });

  describe('ALGORITHMS', () => {
    test('ES256 only: the options offer only ES256; an ES256 key enrols, an EdDSA key is refused', async () => {
      const kg = await keygate({ ALGORITHMS: 'ES256' });
      const a = await enrols(kg, { alg: 'ES256' });
      assert.deepEqual(a.options.pubKeyCredParams, [{ alg: -7, type: 'public-key' }]);
      const b = await begin(kg);
      const before = await snapshot(kg);
      const res = await b.browser.post('/-/api/enroll/verify', { token: b.token, response: await b.key.register(b.options, kg.origin, { alg: 'EdDSA' }) });
      await assertRefused(
        kg,
        res,
        { status: 400, code: 'algorithm_not_allowed', audit: { event: 'invite_redeemed', reason: 'algorithm_not_allowed' } },
        before,
      );
    });

    test('narrowed later: an RS256 key is refused at sign-in, an ES256 key signs in', async () => {
      const open = await keygate();
      const rsa = (await enrols(open, { alg: 'RS256' })).key;
      const ec = (await enrols(open, { alg: 'ES256' })).key;
      const strict = await keygate({ ALGORITHMS: 'ES256,EdDSA' });
      await refusedSignIn(strict, rsa, 'policy_algorithm', /only keys that sign with ES256, EdDSA; this one uses RS256/);
      await signsIn(strict, ec);
    });
  });

  describe('ATTESTATION', () => {
    for (const value of ['none', 'indirect', 'direct', 'enterprise']) {
      test(`${value}: the options ask for ${value} attestation and a key enrols`, async () => {
        const kg = await keygate({ ATTESTATION: value });
        const a = await enrols(kg);
        assert.equal(a.options.attestation, value);
      });
    }
  });

  describe('CEREMONY_TIMEOUT', () => {
    test('the options carry it, a key answering in time enrols, and one answering after it is refused as expired', async () => {
      const kg = await keygate({ CEREMONY_TIMEOUT: '2s' });
      const a = await enrols(kg);
      assert.equal(a.options.timeout, 2000);
      const late = await begin(kg);
      const response = await late.key.register(late.options, kg.origin);
      await new Promise((r) => setTimeout(r, 2200));
      const before = await snapshot(kg);
      const res = await late.browser.post('/-/api/enroll/verify', { token: late.token, response });
      await assertRefused(kg, res, { status: 400, code: 'challenge_expired', audit: { event: 'invite_redeemed', reason: 'challenge_expired' } }, before);
    });
  });

  describe('MAX_CREDENTIALS_PER_USER', () => {
    test('a person may add keys up to the limit; past it the options say why and nothing is written; after removing one, another fits', async () => {
      const kg = await keygate({ MAX_CREDENTIALS_PER_USER: '2' });
      const name = nextName('many');
      const first = await enrols(kg, {}, { username: name });
      const browser = first.browser;
      await stepUp(browser, first.key);
      const second = new SoftwareAuthenticator();
      await addDevice(browser, second);
      const before = await snapshot(kg);
      const res = await browser.post('/-/api/account/devices/options', {});
      assert.equal(res.status, 403, res.text);
      assert.equal(res.json.error.code, 'policy_too_many_credentials');
      assert.match(res.json.error.message, /You already have 2 keys, and this organisation allows at most 2\. Remove one/);
      assert.deepEqual(await snapshot(kg), before);
      // A recovery invite does not get round it either.
      const recovery = await invite(kg, name);
      const viaInvite = await new TestClient(kg.url).post('/-/api/enroll/options', { token: recovery });
      assert.equal(viaInvite.status, 403, viaInvite.text);
      assert.equal(viaInvite.json.error.code, 'policy_too_many_credentials');
      // Removing one makes room.
      const removed = await browser.post(`/-/api/account/devices/${second.credentials[0].id}/remove`, {});
      assert.equal(removed.status, 200, removed.text);
      await addDevice(browser, new SoftwareAuthenticator());
    });

    test('two add-key ceremonies finished at once cannot pass the limit together', async () => {
      const kg = await keygate({ MAX_CREDENTIALS_PER_USER: '2' });
      const name = nextName('race');
      const first = await enrols(kg, {}, { username: name });
      // The signed-in browser adds a key while another browser redeems a recovery link: each
      // started while there was room for one more.
      const other = new TestClient(kg.url);
      const recovery = await invite(kg, name);
      await stepUp(first.browser, first.key);
      const optionsA = await first.browser.post('/-/api/account/devices/options', {});
      const optionsB = await other.post('/-/api/enroll/options', { token: recovery });
      assert.equal(optionsA.status, 200, optionsA.text);
      assert.equal(optionsB.status, 200, optionsB.text);
      const [ra, rb] = await Promise.all([
        new SoftwareAuthenticator().register(optionsA.json, kg.origin).then((response) => first.browser.post('/-/api/account/devices/verify', { response })),
        new SoftwareAuthenticator().register(optionsB.json, kg.origin).then((response) => other.post('/-/api/enroll/verify', { token: recovery, response })),
      ]);
      assert.deepEqual([ra.status, rb.status].sort(), [200, 403], `${ra.text}\n${rb.text}`);
      const { rows } = await kg.db.query(
        'SELECT count(*)::int AS n FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = $1 AND c.revoked_at IS NULL',
        [name],
      );
      assert.equal(rows[0].n, 2);
    });
  });

  test('a refusal at enrolment is audited with its reason, and the same invite then enrols an allowed key', async () => {
    const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
    const a = await begin(kg, PLATFORM);
    const refused = await a.browser.post('/-/api/enroll/verify', { token: a.token, response: await a.key.register(a.options, kg.origin) });
    assert.equal(refused.status, 403);
    assert.deepEqual(await lastAudit(kg), { event: 'invite_redeemed', outcome: 'failure', reason: 'policy_attachment' });
    const ok = await enroll(a.browser, new SoftwareAuthenticator(SECURITY_KEY), a.token);
    assert.equal(ok.status, 200, ok.text);
  });
});

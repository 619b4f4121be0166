/**
 * Self-test of the software authenticator against the real @simplewebauthn/server verifiers.
 * If these pass, the authenticator's honest responses are genuine and its tampers are detectable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { AuthenticationResponseJSON, RegistrationResponseJSON, WebAuthnCredential } from '@simplewebauthn/server';
import { SoftwareAuthenticator } from './support/authenticator.js';
import type { Alg, Tamper } from './support/authenticator.js';

const rpID = 'localhost';
const origin = 'http://localhost:8080';

async function registrationOptions(attestationType: 'none' | 'direct' = 'none') {
  return generateRegistrationOptions({
    rpName: 'Keygate test',
    rpID,
    userName: 'alice',
    userID: new TextEncoder().encode('user-alice'),
    attestationType,
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
  });
}

/** Register with the real verifier; returns the stored credential the RP would keep. */
async function register(
  auth: SoftwareAuthenticator,
  tamper?: Tamper,
  attestationType: 'none' | 'direct' = 'none',
): Promise<{ credential: WebAuthnCredential; userID: string; fmt: string }> {
  const options = await registrationOptions(attestationType);
  const response = await auth.register(options, origin, tamper);
  const result = await verifyRegistration(response, options.challenge);
  assert.equal(result.verified, true);
  assert.ok(result.registrationInfo);
  return { credential: result.registrationInfo.credential, userID: options.user.id, fmt: result.registrationInfo.fmt };
}

function verifyRegistration(response: RegistrationResponseJSON, expectedChallenge: string) {
  return verifyRegistrationResponse({
    response, expectedChallenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true,
  });
}

function verifyAuthentication(response: AuthenticationResponseJSON, expectedChallenge: string, credential: WebAuthnCredential) {
  return verifyAuthenticationResponse({
    response, expectedChallenge, expectedOrigin: origin, expectedRPID: rpID, credential, requireUserVerification: true,
  });
}

/** Authenticate with the real verifier, allowing the given credential. */
async function authenticate(auth: SoftwareAuthenticator, credential: WebAuthnCredential, tamper?: Tamper) {
  const options = await generateAuthenticationOptions({ rpID, allowCredentials: [{ id: credential.id }] });
  const response = await auth.authenticate(options, origin, tamper);
  return verifyAuthentication(response, options.challenge, credential);
}

/**
 * The library refuses either by throwing (checked against `reason`, so a refusal for some other,
 * accidental cause does not count) or, for a bad signature, by returning verified: false.
 */
async function assertRefused(attempt: () => Promise<{ verified: boolean }>, reason?: RegExp): Promise<void> {
  let result: { verified: boolean };
  try {
    result = await attempt();
  } catch (err) {
    if (reason) assert.match((err as Error).message, reason);
    return;
  }
  assert.equal(result.verified, false, 'expected the library to refuse the response');
}

for (const alg of ['ES256', 'EdDSA', 'RS256'] as Alg[]) {
  test(`${alg}: registers and authenticates`, async () => {
    const auth = new SoftwareAuthenticator({ alg });
    const { credential, fmt } = await register(auth);
    assert.equal(fmt, 'none');
    assert.equal(auth.credentials[0].alg, alg);
    const result = await authenticate(auth, credential);
    assert.equal(result.verified, true);
    assert.equal(result.authenticationInfo.userVerified, true);
  });

  test(`${alg}: packed self attestation is accepted`, async () => {
    const auth = new SoftwareAuthenticator({ alg });
    const { fmt } = await register(auth, undefined, 'direct');
    assert.equal(fmt, 'packed');
  });
}

test('default alg is the first offered one we support', async () => {
  const auth = new SoftwareAuthenticator();
  const options = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'bob', supportedAlgorithmIDs: [-257, -7] });
  const response = await auth.register(options, origin);
  assert.equal(response.response.publicKeyAlgorithm, -257);
  assert.equal(auth.credentials[0].alg, 'RS256');
});

test('resident credential answers an empty allowCredentials with its user handle', async () => {
  const auth = new SoftwareAuthenticator();
  const { credential, userID } = await register(auth);
  const options = await generateAuthenticationOptions({ rpID });
  const response = await auth.authenticate(options, origin);
  assert.equal(response.id, credential.id);
  assert.equal(response.response.userHandle, userID);
  assert.equal((await verifyAuthentication(response, options.challenge, credential)).verified, true);
});

test('non-resident credential is not discoverable and returns no user handle', async () => {
  const auth = new SoftwareAuthenticator({ residentKey: false });
  const { credential } = await register(auth);
  await assert.rejects(auth.authenticate(await generateAuthenticationOptions({ rpID }), origin), /no credential/);
  const options = await generateAuthenticationOptions({ rpID, allowCredentials: [{ id: credential.id }] });
  const response = await auth.authenticate(options, origin);
  assert.equal(response.response.userHandle, undefined);
});

test('counter increments by counterStep; zero counter stays zero', async () => {
  const auth = new SoftwareAuthenticator();
  const { credential } = await register(auth);
  const first = await authenticate(auth, credential);
  assert.equal(first.authenticationInfo.newCounter, 1);
  const second = await authenticate(auth, { ...credential, counter: 1 });
  assert.equal(second.authenticationInfo.newCounter, 2);
  assert.equal(auth.credentials[0].signCount, 2);

  // A clone whose counter went backwards is refused.
  auth.setSignCount(credential.id, 0);
  await assertRefused(() => authenticate(auth, { ...credential, counter: 2 }), /counter value 1 was lower/);

  const passkey = new SoftwareAuthenticator({ counterStep: 0, backupEligible: true, backedUp: true });
  const reg = await register(passkey);
  const result = await authenticate(passkey, reg.credential);
  assert.equal(result.authenticationInfo.newCounter, 0);
  assert.equal(result.authenticationInfo.credentialDeviceType, 'multiDevice');
});

test('excludeCredentials and unsupported algorithms are refused like a browser would', async () => {
  const auth = new SoftwareAuthenticator();
  const { credential } = await register(auth);
  const again = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'alice', excludeCredentials: [{ id: credential.id }] });
  await assert.rejects(auth.register(again, origin), /InvalidStateError/);

  const rsaOnly = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'alice', supportedAlgorithmIDs: [-257] });
  await assert.rejects(new SoftwareAuthenticator({ alg: 'ES256' }).register(rsaOnly, origin), /NotSupportedError/);
});

test('registration tampers are refused', async () => {
  const cases: Array<[Tamper, RegExp]> = [
    [{ origin: 'http://evil.example' }, /origin/],
    [{ type: 'webauthn.get' }, /type/],
    [{ challenge: 'AAAA' }, /challenge/],
    [{ up: false }, /presence/],
    [{ uv: false }, /User verification/],
    [{ bs: true, be: false }, /Single-device credential/],
    [{ rpId: 'evil.example' }, /RP ID/],
  ];
  for (const [tamper, reason] of cases) {
    const options = await registrationOptions();
    const response = await new SoftwareAuthenticator().register(options, origin, tamper);
    await assertRefused(() => verifyRegistration(response, options.challenge), reason);
  }
});

for (const alg of ['ES256', 'EdDSA', 'RS256'] as Alg[]) {
  test(`${alg}: authentication tampers are refused`, async () => {
    const auth = new SoftwareAuthenticator({ alg });
    const { credential } = await register(auth);
    const cases: Array<[Tamper, RegExp | undefined]> = [
      [{ origin: 'http://evil.example' }, /origin/],
      [{ type: 'webauthn.create' }, /type/],
      [{ uv: false }, /User verification/],
      [{ bs: true, be: false }, /Single-device credential/],
      [{ rpId: 'evil.example' }, /RP ID/],
      [{ badSignature: true }, undefined],
    ];
    for (const [tamper, reason] of cases) {
      await assertRefused(() => authenticate(auth, credential, tamper), reason);
    }
    // The honest path still works afterwards (the counter only moved forwards).
    assert.equal((await authenticate(auth, credential)).verified, true);
  });
}

test('credential id tampers shape the response as asked', async () => {
  const auth = new SoftwareAuthenticator();
  const options = await registrationOptions();
  const response = await auth.register(options, origin, { credentialIdLength: 1024 });
  assert.equal(Buffer.from(response.rawId, 'base64url').length, 1024);

  const claimed = Buffer.alloc(16, 7).toString('base64url');
  const get = await auth.authenticate(await generateAuthenticationOptions({ rpID }), origin, { credentialId: claimed, userHandle: null });
  assert.equal(get.id, claimed);
  assert.equal(get.rawId, claimed);
  assert.equal(get.response.userHandle, undefined);
});

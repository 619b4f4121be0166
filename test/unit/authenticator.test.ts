/**
 * Self-test of the software authenticator against the real @simplewebauthn/server verifiers.
 * If these pass, the authenticator's honest responses are genuine and its tampers are detectable.
 */
import { before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCBOR } from '@levischuck/tiny-cbor';
import type { CBORType } from '@levischuck/tiny-cbor';
import {
  MetadataService,
  SettingsService,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { AuthenticationResponseJSON, RegistrationResponseJSON, WebAuthnCredential } from '@simplewebauthn/server';
import { verifyMDSBlob } from '@simplewebauthn/server/helpers';
import { SoftwareAuthenticator } from '../support/authenticator.js';
import type { Alg, Tamper } from '../support/authenticator.js';
import { createAttestationCa, createFakeRoot } from '../support/pki.js';
import type { AttestationCa } from '../support/pki.js';
import {
  GARBAGE_MDS_BLOBS,
  alterMdsBlobPayload,
  createMdsBlob,
  createMdsBlobFromOtherRoot,
  createMdsSigner,
  isoDate,
  resetMetadataService,
  useMdsRoot,
} from '../support/mds.js';
import type { MdsEntryOptions, MdsSigner } from '../support/mds.js';

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
    response,
    expectedChallenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    requireUserVerification: true,
  });
}

function verifyAuthentication(response: AuthenticationResponseJSON, expectedChallenge: string, credential: WebAuthnCredential) {
  return verifyAuthenticationResponse({
    response,
    expectedChallenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    credential,
    requireUserVerification: true,
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

// ---------------------------------------------------------------------------------------------
// Full attestation (packed with x5c), the FIDO Metadata Service, and credProps.
// The verifiers are the real ones; MetadataService and SettingsService are process-wide
// singletons, so every test that changes them restores them in t.after().

const AAGUID = '4b8f5a1c-2d3e-4f60-8a9b-0c1d2e3f4a5b';
let vendor: AttestationCa;
let mdsSigner: MdsSigner;

before(async () => {
  vendor = await createAttestationCa();
  mdsSigner = await createMdsSigner();
});

/** The decoded attStmt of a registration response. */
function attStmtOf(response: RegistrationResponseJSON): { fmt: string; attStmt: Map<string, unknown> } {
  const bytes = new Uint8Array(Buffer.from(response.response.attestationObject, 'base64url'));
  const object = decodeCBOR(bytes) as Map<string, CBORType>;
  return { fmt: object.get('fmt') as string, attStmt: object.get('attStmt') as Map<string, unknown> };
}

/** Register with attestation requested; returns the raw verifier promise (it may reject). */
async function registerAttested(auth: SoftwareAuthenticator, attestationType: 'direct' | 'enterprise' | 'none' = 'direct', tamper?: Tamper) {
  const options = await registrationOptions(attestationType as 'direct');
  const response = await auth.register(options, origin, tamper);
  return { response, result: verifyRegistration(response, options.challenge) };
}

/** Verify a fresh BLOB with our MDS root and load its statements into MetadataService. */
async function useMetadata(t: TestContext, entries: MdsEntryOptions[], verificationMode: 'permissive' | 'strict' = 'permissive') {
  const restoreRoot = useMdsRoot(mdsSigner);
  t.after(() => {
    restoreRoot();
    resetMetadataService();
  });
  const verified = await verifyMDSBlob(await createMdsBlob({ signer: mdsSigner, entries }));
  await MetadataService.initialize({ mdsServers: [], statements: verified.statements, verificationMode });
  return verified;
}

for (const alg of ['ES256', 'EdDSA', 'RS256'] as Alg[]) {
  test(`${alg}: packed full attestation with an x5c chain is accepted (fmt packed)`, async () => {
    const auth = new SoftwareAuthenticator({ alg, aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
    const { response, result } = await registerAttested(auth);
    const { registrationInfo, verified } = await result;
    assert.equal(verified, true);
    assert.equal(registrationInfo?.fmt, 'packed');
    assert.equal(registrationInfo?.aaguid, AAGUID);
    const { fmt, attStmt } = attStmtOf(response);
    assert.equal(fmt, 'packed');
    assert.equal(attStmt.get('alg'), -7);
    const x5c = attStmt.get('x5c') as Uint8Array[];
    assert.equal(x5c.length, 2);
    assert.deepEqual(Buffer.from(x5c[1]), Buffer.from(vendor.intermediate.der));
  });
}

test('full attestation answers direct, enterprise and indirect; none stays none; without a key, indirect stays none', async () => {
  const auth = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  for (const attestationType of ['direct', 'enterprise', 'indirect'] as const) {
    const options = await generateRegistrationOptions({ rpName: 'x', rpID, userName: 'a', attestationType: attestationType as 'direct' });
    options.attestation = attestationType;
    const response = await auth.register(options, origin);
    assert.ok(attStmtOf(response).attStmt.has('x5c'), attestationType);
    assert.equal((await verifyRegistration(response, options.challenge)).verified, true);
  }
  assert.equal(attStmtOf(await auth.register(await registrationOptions('none'), origin)).fmt, 'none');

  const plain = new SoftwareAuthenticator();
  const indirect = await registrationOptions('none');
  indirect.attestation = 'indirect';
  assert.equal(attStmtOf(await plain.register(indirect, origin)).fmt, 'none');
  const self = attStmtOf(await plain.register(await registrationOptions('direct'), origin));
  assert.equal(self.fmt, 'packed');
  assert.equal(self.attStmt.has('x5c'), false);
});

test('full attestation: bad signature, AAGUID mismatch, expired or malformed certificate are refused', async () => {
  const ok = { alg: 'ES256' as const, aaguid: AAGUID };
  const cases: Array<[string, SoftwareAuthenticator, Tamper | undefined, RegExp | undefined]> = [
    ['bad sig', new SoftwareAuthenticator({ ...ok, attestation: await vendor.attestation(AAGUID) }), { badAttestationSignature: true }, undefined],
    [
      'AAGUID mismatch',
      new SoftwareAuthenticator({ ...ok, attestation: await vendor.attestation('00000000-0000-0000-0000-000000000001') }),
      undefined,
      /id-fido-gen-ce-aaguid/,
    ],
    ['expired leaf', new SoftwareAuthenticator({ ...ok, attestation: await vendor.attestation(AAGUID, { validity: 'expired' }) }), undefined, /not good after/],
    [
      'wrong OU',
      new SoftwareAuthenticator({ ...ok, attestation: await vendor.attestation(AAGUID, { organizationalUnit: 'Marketing' }) }),
      undefined,
      /OU was not "Authenticator Attestation"/,
    ],
  ];
  for (const [name, auth, tamper, reason] of cases) {
    const { result } = await registerAttested(auth, 'direct', tamper);
    await assertRefused(() => result, reason).catch((err) => {
      throw new Error(`${name}: ${(err as Error).message}`);
    });
  }
});

test('MDS: the x5c chain is validated against the statement attestationRootCertificates and accepted', async (t) => {
  await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [vendor.root], algs: ['ES256'] }]);
  const auth = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  const { verified, registrationInfo } = await (await registerAttested(auth)).result;
  assert.equal(verified, true);
  assert.equal(registrationInfo?.fmt, 'packed');
  // The statement is what the library found for the AAGUID.
  assert.equal((await MetadataService.getStatement(AAGUID))?.attestationRootCertificates[0], vendor.root.base64);
});

test('MDS: a chain from another vendor root than the statement lists is refused', async (t) => {
  const other = await createAttestationCa({ organization: 'Other Vendor' });
  await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [other.root] }]);
  const auth = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  await assertRefused(async () => (await registerAttested(auth)).result, /could not be chained to any specified trust anchor/);
});

test('MDS: a credential algorithm the statement does not list is refused', async (t) => {
  await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [vendor.root], algs: ['ES256'] }]);
  const auth = new SoftwareAuthenticator({ alg: 'RS256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  await assertRefused(async () => (await registerAttested(auth)).result, /did not match any of the following metadata algorithms/);
});

test('fake self-signed root in x5c is refused (past @simplewebauthn/server certificate path advisory)', async (t) => {
  // The attacker's root has the genuine root's exact subject but its own key; x5c = [leaf, fake root].
  const fake = await createFakeRoot(vendor);
  assert.equal(fake.root.certificate.subject, vendor.root.certificate.subject);
  const evil = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await fake.attestation(AAGUID) });
  assert.equal(attStmtOf((await registerAttested(evil)).response).attStmt.get('x5c') instanceof Array, true);

  // 1. Trust anchor from the MDS statement.
  await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [vendor.root] }]);
  await assertRefused(async () => (await registerAttested(evil)).result, /could not be chained to any specified trust anchor/);

  // 2. Trust anchor from SettingsService (no statement for the AAGUID, permissive mode).
  resetMetadataService();
  await MetadataService.initialize({ mdsServers: [], statements: [], verificationMode: 'permissive' });
  const previous = SettingsService.getRootCertificates({ identifier: 'packed' });
  t.after(() => SettingsService.setRootCertificates({ identifier: 'packed', certificates: previous }));
  SettingsService.setRootCertificates({ identifier: 'packed', certificates: [vendor.root.pem] });
  await assertRefused(async () => (await registerAttested(evil)).result, /could not be chained to any specified trust anchor/);
  // …while the genuine chain passes the same check.
  const genuine = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  assert.equal((await (await registerAttested(genuine)).result).verified, true);
});

test('library behaviour: with no trust anchor at all, any x5c chain (even the fake root) verifies', async () => {
  // MetadataService never initialised (DISABLED: getStatement() is undefined) and no 'packed' roots
  // in SettingsService: validateCertificatePath() has no anchor and skips path validation. So
  // `verified: true` says nothing about who issued the attestation certificate: the policy must
  // supply roots (statement or SettingsService) or check the chain itself.
  resetMetadataService();
  assert.deepEqual(SettingsService.getRootCertificates({ identifier: 'packed' }), []);
  const fake = await createFakeRoot(vendor);
  const evil = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await fake.attestation(AAGUID) });
  const { verified, registrationInfo } = await (await registerAttested(evil)).result;
  assert.equal(verified, true);
  assert.equal(registrationInfo?.fmt, 'packed');
});

test('library behaviour: MetadataService strict mode refuses an AAGUID without a statement, permissive falls back', async (t) => {
  const unknown = '11111111-2222-4333-8444-555555555555';
  const auth = new SoftwareAuthenticator({ alg: 'ES256', aaguid: unknown, attestation: await vendor.attestation(unknown) });
  await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [vendor.root] }], 'strict');
  await assertRefused(async () => (await registerAttested(auth)).result, /No metadata statement found for aaguid/);
  // 'none' attestation never consults MetadataService, even in strict mode.
  assert.equal((await (await registerAttested(auth, 'none')).result).verified, true);
  // Permissive: no statement → SettingsService 'packed' roots (none here) → accepted unchecked.
  await MetadataService.initialize({ mdsServers: [], statements: [], verificationMode: 'permissive' });
  assert.equal((await (await registerAttested(auth)).result).verified, true);
});

test('library behaviour: status reports are dropped when statements are loaded with initialize({ statements })', async (t) => {
  // verifyMDSBlob returns every entry's statusReports in `payload`, but `statements` holds only the
  // metadata statements, and initialize({ statements }) records them with statusReports: [].
  // So a compromised model is NOT refused by the library this way: the policy must read
  // payload.entries[].statusReports itself.
  const verified = await useMetadata(t, [{ aaguid: AAGUID, attestationRoots: [vendor.root], status: 'ATTESTATION_KEY_COMPROMISE' }]);
  assert.equal(verified.payload.entries[0].statusReports[0].status, 'ATTESTATION_KEY_COMPROMISE');
  const auth = new SoftwareAuthenticator({ alg: 'ES256', aaguid: AAGUID, attestation: await vendor.attestation(AAGUID) });
  assert.equal((await (await registerAttested(auth)).result).verified, true);
});

test('MDS BLOB: verifyMDSBlob accepts the good BLOB with the test MDS root and returns entries and nextUpdate', async (t) => {
  const entries: MdsEntryOptions[] = [
    { aaguid: AAGUID, attestationRoots: [vendor.root], algs: ['ES256', 'EdDSA', 'RS256'] },
    { aaguid: '00000000-0000-4000-8000-00000000000a', attestationRoots: [vendor.root], status: 'REVOKED' },
    { aaguid: '00000000-0000-4000-8000-00000000000b', attestationRoots: [vendor.root], status: 'USER_VERIFICATION_BYPASS', attachment: 'internal' },
  ];
  const blob = await createMdsBlob({ signer: mdsSigner, entries, no: 42, nextUpdate: isoDate(30) });
  const [header] = blob.split('.');
  const parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; typ: string; x5c: string[] };
  assert.deepEqual(parsedHeader, { alg: 'ES256', typ: 'JWT', x5c: [mdsSigner.signing.base64, mdsSigner.intermediate.base64] });

  // With the library's default MDS roots (the FIDO Alliance's), our BLOB is refused.
  await assert.rejects(verifyMDSBlob(blob), /BLOB certificate path could not be validated/);

  const restore = useMdsRoot(mdsSigner.rootPem);
  t.after(restore);
  const { statements, payload, parsedNextUpdate } = await verifyMDSBlob(blob);
  assert.equal(payload.no, 42);
  assert.equal(payload.entries.length, 3);
  assert.deepEqual(
    payload.entries.map((e) => e.statusReports[0].status),
    ['FIDO_CERTIFIED_L1', 'REVOKED', 'USER_VERIFICATION_BYPASS'],
  );
  assert.equal(statements.length, 3);
  assert.equal(statements[0].aaguid, AAGUID);
  assert.deepEqual(statements[0].authenticationAlgorithms, ['secp256r1_ecdsa_sha256_raw', 'ed25519_eddsa_sha512_raw', 'rsassa_pkcsv15_sha256_raw']);
  assert.deepEqual(statements[2].attachmentHint, ['internal']);
  assert.ok(parsedNextUpdate > new Date());
});

test('MDS BLOB: bad signature, a chain to another root, an expired signer and garbage are refused; a stale BLOB is detectable', async (t) => {
  const entries: MdsEntryOptions[] = [{ aaguid: AAGUID, attestationRoots: [vendor.root], status: 'REVOKED' }];
  const restore = useMdsRoot(mdsSigner);
  t.after(restore);
  const good = await createMdsBlob({ signer: mdsSigner, entries });

  await assert.rejects(verifyMDSBlob(alterMdsBlobPayload(good)), /BLOB signature could not be verified/);
  const { blob: rogue } = await createMdsBlobFromOtherRoot({ entries, like: mdsSigner });
  await assert.rejects(verifyMDSBlob(rogue), /BLOB certificate path could not be validated/);
  // A rogue signer appending the genuine root to its x5c does not help.
  const rogueSigner = (await createMdsBlobFromOtherRoot({ entries, like: mdsSigner })).signer;
  const rogueWithRoot = await createMdsBlob({ signer: rogueSigner, entries, x5c: [...rogueSigner.x5c, mdsSigner.root.base64] });
  await assert.rejects(verifyMDSBlob(rogueWithRoot), /BLOB certificate path could not be validated/);

  const expiredSigner = await createMdsSigner({ signingValidity: 'expired' });
  const restoreExpired = useMdsRoot(expiredSigner);
  await assert.rejects(verifyMDSBlob(await createMdsBlob({ signer: expiredSigner, entries })), /BLOB certificate path could not be validated/);
  restoreExpired();

  for (const [name, blob] of GARBAGE_MDS_BLOBS) {
    await assert.rejects(async () => verifyMDSBlob(blob), Error, name);
  }

  // verifyMDSBlob does not refuse a BLOB whose nextUpdate has passed: it reports the date.
  const stale = await verifyMDSBlob(await createMdsBlob({ signer: mdsSigner, entries, nextUpdate: isoDate(-1) }));
  assert.ok(stale.parsedNextUpdate < new Date());
  assert.equal(stale.payload.nextUpdate, isoDate(-1));
});

test('credProps: rk is reported when asked; residentKey required on a non-resident key is NotAllowedError', async () => {
  // generateRegistrationOptions always asks for credProps.
  const options = await registrationOptions();
  assert.equal(options.extensions?.credProps, true);
  const resident = await new SoftwareAuthenticator().register(options, origin);
  assert.deepEqual(resident.clientExtensionResults, { credProps: { rk: true } });
  assert.equal((await verifyRegistration(resident, options.challenge)).verified, true);

  const nonResident = await new SoftwareAuthenticator({ residentKey: false }).register(await registrationOptions(), origin);
  assert.deepEqual(nonResident.clientExtensionResults, { credProps: { rk: false } });

  const notAsked = await registrationOptions();
  delete notAsked.extensions;
  assert.deepEqual((await new SoftwareAuthenticator().register(notAsked, origin)).clientExtensionResults, {});

  const required = await generateRegistrationOptions({
    rpName: 'x',
    rpID,
    userName: 'alice',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  await assert.rejects(new SoftwareAuthenticator({ residentKey: false }).register(required, origin), /NotAllowedError/);
  const ok = await new SoftwareAuthenticator().register(required, origin);
  assert.deepEqual(ok.clientExtensionResults, { credProps: { rk: true } });

  // Discouraged: the authenticator keeps its own behaviour (a passkey provider makes it discoverable anyway).
  const discouraged = await generateRegistrationOptions({
    rpName: 'x',
    rpID,
    userName: 'alice',
    authenticatorSelection: { residentKey: 'discouraged' },
  });
  assert.deepEqual((await new SoftwareAuthenticator().register(discouraged, origin)).clientExtensionResults, { credProps: { rk: true } });
});

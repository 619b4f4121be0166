/**
 * Verifies a registration response (WebAuthn §7.1) and turns it into a credential to store.
 * The library checks type, challenge, origin, rpIdHash, flags, algorithm and attestation; Keygate
 * adds the credential id length and passes the algorithm list explicitly.
 */
import { verifyRegistrationResponse } from '@simplewebauthn/server';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeAttestationObject } from '@simplewebauthn/server/helpers';
import type { Config } from '../config.js';
import type { AuthenticatorFacts, AuthenticatorPolicy, Holder } from '../policy/policy.js';
import type { Ceremony } from './ceremony.js';
import { coseAlgorithm, MAX_CREDENTIAL_ID_BYTES, type NewCredential } from './credentials.js';
import { CeremonyFailure, classifyLibraryError } from './failures.js';
import { refuseCrossOriginFrame } from './same-frame.js';
import { isUsablePublicKey, isWellFormedAttestation } from './well-formed.js';

export interface VerifiedRegistration {
  credential: Omit<NewCredential, 'userId' | 'nickname'>;
  userVerified: boolean;
  facts: AuthenticatorFacts;
}

/**
 * Verifies the response, then works out the facts the authenticator policy judges. The policy
 * itself is applied by {@link enforceRegistrationPolicy}, once the caller knows whose key it is.
 */
export async function verifyRegistration(
  config: Config,
  policy: AuthenticatorPolicy,
  ceremony: Ceremony,
  response: RegistrationResponseJSON,
): Promise<VerifiedRegistration> {
  // §5.8.3: ids over 1023 bytes are invalid; refuse before doing any work on them.
  if (Buffer.from(response.rawId, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw new CeremonyFailure('credential_id_too_long');
  refuseCrossOriginFrame(response.response.clientDataJSON);
  // The library's CBOR decoder accepts truncated byte strings (well-formed.ts): check lengths first.
  if (!isWellFormedAttestation(Buffer.from(response.response.attestationObject, 'base64url'))) throw new CeremonyFailure('malformed_response');
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: config.origin,
      expectedRPID: config.rpId,
      expectedType: 'webauthn.create',
      requireUserPresence: true,
      requireUserVerification: policy.settings.userVerification === 'required',
      supportedAlgorithmIDs: policy.algorithmIds,
    });
  } catch (err) {
    const reason = classifyLibraryError(err);
    // USER_VERIFICATION=required is policy too: say so in its words at enrolment.
    if (reason === 'user_not_verified') throw new CeremonyFailure(reason, err, 403, (t) => t.policy.userVerification);
    throw new CeremonyFailure(reason, err);
  }
  if (!verification.verified) throw new CeremonyFailure('verification_failed');
  const info = verification.registrationInfo;
  const credentialId = Buffer.from(info.credential.id, 'base64url');
  if (credentialId.length > MAX_CREDENTIAL_ID_BYTES) throw new CeremonyFailure('credential_id_too_long');
  // A 'none' attestation signs nothing: never store a key nobody could sign for.
  if (!isUsablePublicKey(info.credential.publicKey)) throw new CeremonyFailure('malformed_response');

  const transports = (response.response.transports ?? []).slice(0, 16);
  const attestation = decodeAttestationObject(Buffer.from(response.response.attestationObject, 'base64url'));
  const x5c = attestation.get('attStmt').get('x5c');
  const rk = (response.clientExtensionResults as { credProps?: { rk?: unknown } }).credProps?.rk;
  const facts: AuthenticatorFacts = {
    aaguid: info.aaguid,
    backupEligible: info.credentialDeviceType === 'multiDevice',
    attachment: response.authenticatorAttachment ?? null,
    discoverable: typeof rk === 'boolean' ? rk : null,
    alg: coseAlgorithm(info.credential.publicKey),
    // Only a full attestation (fmt packed, tpm, android-key, fido-u2f…) with a chain can be trusted.
    attestationTrusted: info.fmt !== 'none' && (await policy.metadata.chainIsTrusted(info.aaguid, x5c)),
  };
  return {
    credential: {
      credentialId,
      publicKey: info.credential.publicKey,
      signCount: info.credential.counter,
      transports,
      aaguid: info.aaguid,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      attestationFormat: info.fmt,
      attachment: facts.attachment,
      discoverable: facts.discoverable,
      attestationTrusted: facts.attestationTrusted,
    },
    userVerified: info.userVerified,
    facts,
  };
}

/**
 * Refuses a registration that breaks the policy (the first rule broken names the reason; every
 * broken rule is in the message), or that would take the person past the per-user limit.
 * `activeCredentials` should be counted under the user's row lock (countActiveCredentials).
 */
export function enforceRegistrationPolicy(policy: AuthenticatorPolicy, facts: AuthenticatorFacts, holder: Holder, activeCredentials: number): void {
  const broken = policy.violations(facts, holder, 'registration');
  const limit = policy.credentialLimit(activeCredentials);
  if (limit) broken.push(limit);
  const [first] = broken;
  if (first) throw new CeremonyFailure(first.reason, undefined, 403, (t) => broken.map((v) => v.said(t)).join(' '));
}

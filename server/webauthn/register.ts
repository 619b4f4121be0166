/**
 * Verifies a registration response (WebAuthn §7.1) and turns it into a credential to store.
 * The library checks type, challenge, origin, rpIdHash, flags, algorithm and attestation; Keygate
 * adds the credential id length and passes the algorithm list explicitly.
 */
import { verifyRegistrationResponse } from '@simplewebauthn/server';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { Ceremony } from './ceremony.js';
import { MAX_CREDENTIAL_ID_BYTES, type NewCredential } from './credentials.js';
import { CeremonyFailure, classifyLibraryError } from './failures.js';
import { SUPPORTED_ALGORITHMS } from './options.js';
import { isUsablePublicKey, isWellFormedAttestation } from './well-formed.js';

export async function verifyRegistration(
  config: Config,
  ceremony: Ceremony,
  response: RegistrationResponseJSON,
): Promise<{ credential: Omit<NewCredential, 'userId' | 'nickname'>; userVerified: boolean }> {
  // §5.8.3: ids over 1023 bytes are invalid; refuse before doing any work on them.
  if (Buffer.from(response.rawId, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw new CeremonyFailure('credential_id_too_long');
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
      requireUserVerification: config.userVerification === 'required',
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (err) {
    throw new CeremonyFailure(classifyLibraryError(err), err);
  }
  if (!verification.verified) throw new CeremonyFailure('verification_failed');
  const info = verification.registrationInfo;
  const credentialId = Buffer.from(info.credential.id, 'base64url');
  if (credentialId.length > MAX_CREDENTIAL_ID_BYTES) throw new CeremonyFailure('credential_id_too_long');
  // A 'none' attestation signs nothing: never store a key nobody could sign for.
  if (!isUsablePublicKey(info.credential.publicKey)) throw new CeremonyFailure('malformed_response');
  return {
    credential: {
      credentialId,
      publicKey: info.credential.publicKey,
      signCount: info.credential.counter,
      transports: (response.response.transports ?? []).slice(0, 16),
      aaguid: info.aaguid,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      attestationFormat: info.fmt,
    },
    userVerified: info.userVerified,
  };
}

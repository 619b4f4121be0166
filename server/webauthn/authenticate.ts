/**
 * Verifies an assertion (WebAuthn §7.2) against a stored credential, then applies Keygate's own
 * checks, in the order the spec and the checklist give: the signature first (so nothing is learnt
 * from an unsigned response), then ownership, revocation, the user's state, the user handle, and
 * the sign counter. Nothing is written until every check has passed.
 */
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import { findUserById, type User } from '../users/users.js';
import type { Ceremony } from './ceremony.js';
import { MAX_CREDENTIAL_ID_BYTES, decodeCredentialId, findCredential, recordCredentialUse, type StoredCredential } from './credentials.js';
import { CeremonyFailure, classifyLibraryError } from './failures.js';

export interface VerifiedSignIn {
  user: User;
  credential: StoredCredential;
}

/** Context for failures, so the caller can audit who and which credential was involved. */
export class SignInFailure extends CeremonyFailure {
  constructor(
    reason: CeremonyFailure['reason'],
    readonly user: User | null,
    readonly credential: StoredCredential | null,
    cause?: unknown,
  ) {
    super(reason, cause, reason === 'user_disabled' ? 403 : 400);
  }
}

export async function verifySignIn(
  db: Db,
  config: Config,
  ceremony: Ceremony,
  response: AuthenticationResponseJSON,
  client: { ip: string | null; userAgent: string | null },
): Promise<VerifiedSignIn> {
  if (Buffer.from(response.rawId, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw new SignInFailure('credential_id_too_long', null, null);
  const rawId = decodeCredentialId(response.rawId);
  if (!rawId) throw new SignInFailure('malformed_response', null, null);
  if (response.id !== response.rawId) throw new SignInFailure('malformed_response', null, null);

  const credential = await findCredential(db, rawId);
  if (!credential) throw new SignInFailure('unknown_credential', null, null);
  // With allowCredentials (username-first), the credential must be one that was offered.
  if (ceremony.allowCredentialIds && !ceremony.allowCredentialIds.includes(credential.credentialId)) {
    throw new SignInFailure('not_allowed_credential', null, credential);
  }
  const user = await findUserById(db, credential.userId);
  if (!user) throw new SignInFailure('unknown_credential', null, credential);

  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: config.origin,
      expectedRPID: config.rpId,
      expectedType: 'webauthn.get',
      requireUserVerification: config.userVerification === 'required',
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(credential.publicKey),
        counter: credential.signCount,
        transports: credential.transports as never,
      },
    });
  } catch (err) {
    throw new SignInFailure(classifyLibraryError(err), user, credential, err);
  }
  if (!verification.verified) throw new SignInFailure('bad_signature', user, credential);

  if (credential.revokedAt) throw new SignInFailure('revoked_credential', user, credential);
  if (user.disabledAt) throw new SignInFailure('user_disabled', user, credential);

  // The library only checks that userHandle is a string. For a discoverable sign-in it is the only
  // link between the assertion and the account, so it must be this credential's owner (§7.2 step 6).
  const handle = response.response.userHandle;
  const discoverable = !ceremony.allowCredentialIds;
  if (handle !== undefined || discoverable) {
    if (!handle || handle !== user.userHandle.toString('base64url')) throw new SignInFailure('user_handle_mismatch', user, credential);
  }

  const written = await recordCredentialUse(db, credential.id, {
    previousCounter: credential.signCount,
    newCounter: verification.authenticationInfo.newCounter,
    backedUp: verification.authenticationInfo.credentialBackedUp,
    ip: client.ip,
    userAgent: client.userAgent,
  });
  if (!written) throw new SignInFailure('concurrent_use', user, credential);
  return { user, credential };
}

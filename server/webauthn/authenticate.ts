/**
 * Verifies an assertion (WebAuthn §7.2) against a stored credential, then applies Keygate's own
 * checks, in the order the spec and the checklist give: the signature first (so nothing is learnt
 * from an unsigned response), then ownership, revocation, the user's state, the user handle, and
 * the sign counter. Nothing is written until every check has passed, and what a failure tells the
 * client does not depend on whether the credential id is registered (see failures.ts).
 */
import { generateKeyPairSync } from 'node:crypto';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import type { Said } from '../errors.js';
import { storedFacts, type AuthenticatorPolicy } from '../policy/policy.js';
import type { User } from '../users/users.js';
import type { Ceremony } from './ceremony.js';
import {
  MAX_CREDENTIAL_ID_BYTES,
  decodeCredentialId,
  findCredentialWithOwner,
  recordCredentialUse,
  type CredentialUse,
  type CredentialWithOwner,
  type StoredCredential,
} from './credentials.js';
import { CeremonyFailure, classifyLibraryError } from './failures.js';
import { refuseCrossOriginFrame } from './same-frame.js';

export interface VerifiedSignIn {
  user: User;
  credential: StoredCredential;
  /** The UV flag: the person proved who they are to the authenticator (PIN, biometrics). */
  userVerified: boolean;
  /**
   * The new counter, backup state and last use. Written here unless the caller asked to write it
   * itself (`deferUse`: sign-in writes it in the statement that writes the session).
   */
  use: CredentialUse;
}

/** Context for failures, so the caller can audit who and which credential was involved. */
export class SignInFailure extends CeremonyFailure {
  constructor(
    reason: CeremonyFailure['reason'],
    readonly user: User | null,
    readonly credential: StoredCredential | null,
    cause?: unknown,
    message?: Said,
  ) {
    super(reason, cause, reason === 'user_disabled' || reason === 'access_ended' || reason.startsWith('policy_') ? 403 : 400, message);
  }
}

/**
 * A COSE Ed25519 public key whose private key was never kept: unknown credentials are checked
 * against it. Ed25519 verification never throws on a malformed signature; it just fails.
 */
const NOBODYS_KEY = (() => {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  // kty OKP (1: 1), alg EdDSA (3: -8), crv Ed25519 (-1: 6), x (-2)
  return new Uint8Array(
    isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 1],
        [3, -8],
        [-1, 6],
        [-2, new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))],
      ]),
    ),
  );
})();

export async function verifySignIn(
  db: Db,
  config: Config,
  policy: AuthenticatorPolicy,
  ceremony: Ceremony,
  response: AuthenticationResponseJSON,
  client: { ip: string | null; userAgent: string | null },
  opts: {
    /** Step-up asks for user verification whatever USER_VERIFICATION says. */
    requireUserVerification?: boolean;
    /**
     * The caller writes `use` itself, in a statement that also re-checks the counter and revocation
     * (session/middleware.ts, replace), and refuses the sign-in if that write finds either changed.
     */
    deferUse?: boolean;
    /**
     * The credential (and owner) already read for this id with the session's load (sign-in's
     * verify: session/middleware.ts, takingCeremony); undefined if it was not, and it is read here.
     */
    readAtLoad?: (credentialId: Buffer) => CredentialWithOwner | null | undefined;
  } = {},
): Promise<VerifiedSignIn> {
  if (Buffer.from(response.rawId, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw new SignInFailure('credential_id_too_long', null, null);
  const rawId = decodeCredentialId(response.rawId);
  if (!rawId) throw new SignInFailure('malformed_response', null, null);
  if (response.id !== response.rawId) throw new SignInFailure('malformed_response', null, null);
  try {
    refuseCrossOriginFrame(response.response.clientDataJSON);
  } catch (err) {
    throw new SignInFailure((err as CeremonyFailure).reason, null, null, err, (err as CeremonyFailure).said);
  }

  // The credential and its owner in one statement: an unknown id (or a missing owner) is null for both.
  const read = opts.readAtLoad?.(rawId);
  const found = read !== undefined ? read : await findCredentialWithOwner(db, rawId);
  const user = found?.user ?? null;
  const credential = found?.credential ?? null;

  // The library's checks run whether or not the credential is known: against the stored key, or
  // against a key nobody holds. A forged response then gets the same answer for a registered
  // credential id as for an unknown one or a username-first decoy (ASVS 6.3.8).
  // The stored counter is not given to the library, which would judge it before the signature:
  // anyone knowing a credential id could then raise a clone alarm. It is judged below instead.
  const check = (publicKey: Uint8Array<ArrayBuffer>) =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: config.origin,
      expectedRPID: config.rpId,
      expectedType: 'webauthn.get',
      requireUserVerification: opts.requireUserVerification ?? policy.settings.userVerification === 'required',
      credential: { id: response.id, publicKey, counter: 0, transports: credential?.transports },
    });
  let verification;
  try {
    verification = await check(credential ? new Uint8Array(credential.publicKey) : NOBODYS_KEY);
  } catch (err) {
    // An EC2 key throws on a signature that is not DER, where other keys just fail to verify. If
    // the same response gets through every check against an Ed25519 key, only the signature was
    // wrong, and that is how it is reported, whatever kind of key the credential has.
    const keyIndependent = credential
      ? await check(NOBODYS_KEY).then(
          () => null,
          (again: unknown) => again,
        )
      : err;
    if (keyIndependent) throw new SignInFailure(classifyLibraryError(keyIndependent), user, credential, keyIndependent);
    verification = { verified: false as const };
  }
  if (!credential) throw new SignInFailure('unknown_credential', null, null);
  if (!verification.verified) throw new SignInFailure('bad_signature', user, credential);

  // With allowCredentials (username-first), the credential must be one that was offered.
  if (ceremony.allowCredentialIds && !ceremony.allowCredentialIds.includes(credential.credentialId)) {
    throw new SignInFailure('not_allowed_credential', user, credential);
  }
  if (credential.revokedAt) throw new SignInFailure('revoked_credential', user, credential);
  if (user!.disabledAt) throw new SignInFailure('user_disabled', user, credential);

  // The library only checks that userHandle is a string. For a discoverable sign-in it is the only
  // link between the assertion and the account, so it must be this credential's owner (§7.2 step 6).
  const handle = response.response.userHandle;
  const discoverable = !ceremony.allowCredentialIds;
  if (handle !== undefined || discoverable) {
    if (!handle || handle !== user!.userHandle.toString('base64url')) throw new SignInFailure('user_handle_mismatch', user, credential);
  }

  // §7.2 step 22: if either counter is non-zero, the new one must be greater; otherwise the key
  // may have been cloned. Only a signed counter counts, so this comes after the signature.
  const newCounter = verification.authenticationInfo.newCounter;
  if ((credential.signCount > 0 || newCounter > 0) && newCounter <= credential.signCount) {
    throw new SignInFailure('counter_regression', user, credential);
  }

  // A key enrolled under an older policy (or whose model was denied, or reported compromised,
  // since) is refused now, after its signature proved it is this person's.
  const broken = policy.violations(storedFacts(credential), { admin: user!.isAdmin }, 'sign-in');
  const [first] = broken;
  if (first) {
    throw new SignInFailure(first.reason, user, credential, undefined, (t) => t.policy.noLongerAccepted(broken.map((v) => v.said(t)).join(' ')));
  }

  const use: CredentialUse = {
    id: credential.id,
    previousCounter: credential.signCount,
    newCounter,
    backedUp: verification.authenticationInfo.credentialBackedUp,
    ip: client.ip,
    userAgent: client.userAgent,
  };
  if (!opts.deferUse && !(await recordCredentialUse(db, use))) throw new SignInFailure('concurrent_use', user, credential);
  return { user: user!, credential, userVerified: verification.authenticationInfo.userVerified, use };
}

/**
 * Registration and authentication options. Origin and RP ID come from configuration only; the
 * algorithms are listed explicitly; user verification is required unless configured otherwise.
 */
import { generateAuthenticationOptions, generateRegistrationOptions } from '@simplewebauthn/server';
import type { AuthenticatorTransport, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { StoredCredential } from './credentials.js';

/** COSE algorithm ids offered and accepted: EdDSA (-8), ES256 (-7), RS256 (-257). */
export const SUPPORTED_ALGORITHMS = [-8, -7, -257];

export function registrationOptions(
  config: Config,
  user: { username: string; userHandle: Buffer },
  existing: StoredCredential[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.username,
    userDisplayName: user.username,
    userID: new Uint8Array(user.userHandle),
    timeout: config.ceremonyTimeoutMs,
    attestationType: 'none',
    // WebAuthn §7.1: the authenticator refuses to create a second credential for this account.
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: config.userVerification },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
}

export function authenticationOptions(
  config: Config,
  allow: Array<{ id: string; transports?: string[] }>,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: config.rpId,
    timeout: config.ceremonyTimeoutMs,
    userVerification: config.userVerification,
    allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] | undefined })),
  });
}

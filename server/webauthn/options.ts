/**
 * Registration and authentication options. Origin and RP ID come from configuration only; what the
 * authenticator is asked for (attestation, attachment, resident key, user verification, the
 * algorithms, the timeout) comes from the authenticator policy (server/policy/).
 */
import { generateAuthenticationOptions, generateRegistrationOptions } from '@simplewebauthn/server';
import type { AuthenticatorTransport, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Config } from '../config.js';
import type { AuthenticatorPolicy } from '../policy/policy.js';
import type { StoredCredential } from './credentials.js';

export async function registrationOptions(
  config: Config,
  policy: AuthenticatorPolicy,
  user: { username: string; userHandle: Buffer },
  existing: StoredCredential[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const p = policy.settings;
  const options = await generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.username,
    userDisplayName: user.username,
    userID: new Uint8Array(user.userHandle),
    timeout: p.ceremonyTimeoutMs,
    attestationType: p.attestation === 'indirect' ? 'none' : p.attestation,
    // WebAuthn §7.1: the authenticator refuses to create a second credential for this account.
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })),
    authenticatorSelection: {
      residentKey: p.residentKey,
      userVerification: p.userVerification,
      ...(p.attachment === 'any' ? {} : { authenticatorAttachment: p.attachment }),
    },
    supportedAlgorithmIDs: policy.algorithmIds,
    // credProps tells whether the authenticator stored a discoverable credential (RESIDENT_KEY).
    extensions: { credProps: true },
  });
  // The library has no 'indirect'; the browser may then anonymise the attestation.
  if (p.attestation === 'indirect') options.attestation = 'indirect';
  return options;
}

export function authenticationOptions(config: Config, allow: Array<{ id: string; transports?: string[] }>): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: config.rpId,
    timeout: config.policy.ceremonyTimeoutMs,
    userVerification: config.policy.userVerification,
    allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransport[] | undefined })),
  });
}

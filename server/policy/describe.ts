/**
 * The effective policy in words (admin page, `npm run cli -- policy`), and the review of stored
 * credentials against it: who would be refused at their next sign-in, and why.
 */
import ms from 'ms';
import type { Queryable } from '../db/pool.js';
import { listActiveCredentials } from '../webauthn/credentials.js';
import { storedFacts, type AuthenticatorPolicy, type Violation } from './policy.js';

export interface PolicyLine {
  /** The environment variable that sets it. */
  variable: string;
  setting: string;
  value: string;
}

export function describePolicy(policy: AuthenticatorPolicy): PolicyLine[] {
  const s = policy.settings;
  const m = policy.metadata.summary;
  const models = (list: readonly string[]) => (list.length ? list.map((a) => `${policy.modelName(a)} (${a})`).join('; ') : 'none');
  const who = { no: 'not required', admins: 'required for administrators', everyone: 'required for everyone' } as const;
  const synced = { allow: 'allowed', 'refuse-for-admins': 'refused for administrators', refuse: 'refused for everyone' } as const;
  const attachment = {
    any: 'security keys and built-in authenticators',
    platform: 'built-in (platform) authenticators only',
    'cross-platform': 'security keys (cross-platform) only',
  } as const;
  let mds = 'not configured';
  if (m.enabled) mds = `${m.source}: serial ${m.serial}, next update ${m.nextUpdate}, ${m.entries} authenticator models`;
  else if (m.source) mds = `DISABLED: ${m.source} was refused (${m.disabledReason})`;
  return [
    { variable: 'ATTESTATION', setting: 'Attestation conveyance', value: s.attestation },
    { variable: 'REQUIRE_TRUSTED_ATTESTATION', setting: 'Trusted attestation chain', value: who[s.trustedAttestation] },
    { variable: 'AAGUID_ALLOW', setting: 'Allowed models', value: s.aaguidAllow.length ? models(s.aaguidAllow) : 'any model' },
    { variable: 'AAGUID_DENY', setting: 'Denied models', value: models(s.aaguidDeny) },
    { variable: 'SYNCED_PASSKEYS', setting: 'Synced passkeys (backup eligible)', value: synced[s.syncedPasskeys] },
    { variable: 'AUTHENTICATOR_ATTACHMENT', setting: 'Authenticator attachment', value: attachment[s.attachment] },
    { variable: 'RESIDENT_KEY', setting: 'Resident (discoverable) key', value: s.residentKey },
    { variable: 'USER_VERIFICATION', setting: 'User verification (PIN, biometrics)', value: s.userVerification },
    { variable: 'ALGORITHMS', setting: 'Signature algorithms', value: s.algorithms.join(', ') },
    { variable: 'CEREMONY_TIMEOUT', setting: 'Ceremony timeout', value: ms(s.ceremonyTimeoutMs, { long: true }) },
    { variable: 'MAX_CREDENTIALS_PER_USER', setting: 'Keys per person', value: `at most ${s.maxCredentialsPerUser}` },
    { variable: 'MDS_BLOB', setting: 'FIDO metadata (MDS3)', value: mds },
  ];
}

export interface CredentialReview {
  username: string;
  isAdmin: boolean;
  credentialId: string;
  nickname: string;
  model: string;
  violations: Violation[];
}

/** Every active credential of an enabled user that the current policy would refuse at sign-in. */
export async function reviewCredentials(db: Queryable, policy: AuthenticatorPolicy): Promise<CredentialReview[]> {
  const out: CredentialReview[] = [];
  for (const c of await listActiveCredentials(db)) {
    const violations = policy.violations(storedFacts(c), { admin: c.isAdmin }, 'sign-in');
    if (violations.length) {
      out.push({ username: c.username, isAdmin: c.isAdmin, credentialId: c.credentialId, nickname: c.nickname, model: policy.modelName(c.aaguid), violations });
    }
  }
  return out;
}

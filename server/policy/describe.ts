/**
 * The effective policy in words (admin page, `npm run cli -- policy`), and the review of stored
 * credentials against it: who would be refused at their next sign-in, and why.
 */
import { strings, type Lang } from '../../web/i18n/index.js';
import { durationText } from '../../web/pages/admin-parts.js';
import type { Queryable } from '../db/pool.js';
import { listActiveCredentials } from '../webauthn/credentials.js';
import { storedFacts, type AuthenticatorPolicy, type Violation } from './policy.js';

export interface PolicyLine {
  /** The environment variable that sets it. */
  variable: string;
  setting: string;
  value: string;
}

/** The effective policy as the admin page (in `lang`) and the CLI (English) show it. */
export function describePolicy(policy: AuthenticatorPolicy, lang?: Lang): PolicyLine[] {
  const s = policy.settings;
  const m = policy.metadata.summary;
  const t = strings(lang);
  const { settings: name, values: v } = t.policy;
  const models = (list: readonly string[]) => (list.length ? list.map((a) => `${policy.modelName(a, t)} (${a})`).join('; ') : v.none);
  let mds = v.mdsNotConfigured;
  if (m.enabled) mds = v.mdsLoaded(m.source ?? '', String(m.serial), String(m.nextUpdate), m.entries);
  else if (m.source) mds = v.mdsDisabled(m.source, m.disabledReason ?? '');
  return [
    { variable: 'ATTESTATION', setting: name.attestation, value: v.conveyance[s.attestation] },
    { variable: 'REQUIRE_TRUSTED_ATTESTATION', setting: name.trustedAttestation, value: v.trust[s.trustedAttestation] },
    { variable: 'AAGUID_ALLOW', setting: name.aaguidAllow, value: s.aaguidAllow.length ? models(s.aaguidAllow) : v.anyModel },
    { variable: 'AAGUID_DENY', setting: name.aaguidDeny, value: models(s.aaguidDeny) },
    { variable: 'SYNCED_PASSKEYS', setting: name.syncedPasskeys, value: v.synced[s.syncedPasskeys] },
    { variable: 'AUTHENTICATOR_ATTACHMENT', setting: name.attachment, value: v.attachment[s.attachment] },
    { variable: 'RESIDENT_KEY', setting: name.residentKey, value: v.requirement[s.residentKey] },
    { variable: 'USER_VERIFICATION', setting: name.userVerification, value: v.requirement[s.userVerification] },
    { variable: 'ALGORITHMS', setting: name.algorithms, value: s.algorithms.join(t.policy.listSeparator) },
    { variable: 'CEREMONY_TIMEOUT', setting: name.ceremonyTimeout, value: durationText(s.ceremonyTimeoutMs, lang) },
    { variable: 'MAX_CREDENTIALS_PER_USER', setting: name.maxCredentials, value: v.atMost(s.maxCredentialsPerUser) },
    { variable: 'MDS_BLOB', setting: name.mds, value: mds },
  ];
}

export interface CredentialReview {
  username: string;
  isAdmin: boolean;
  credentialId: string;
  nickname: string;
  aaguid: string;
  /** In English (the CLI's); the admin page names it again in its language. */
  model: string;
  violations: Violation[];
}

/** Every active credential of an enabled user that the current policy would refuse at sign-in. */
export async function reviewCredentials(db: Queryable, policy: AuthenticatorPolicy): Promise<CredentialReview[]> {
  const out: CredentialReview[] = [];
  for (const c of await listActiveCredentials(db)) {
    const violations = policy.violations(storedFacts(c), { admin: c.isAdmin }, 'sign-in');
    if (violations.length) {
      out.push({
        username: c.username,
        isAdmin: c.isAdmin,
        credentialId: c.credentialId,
        nickname: c.nickname,
        aaguid: c.aaguid,
        model: policy.modelName(c.aaguid),
        violations,
      });
    }
  }
  return out;
}

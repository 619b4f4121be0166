/**
 * The authenticator policy: which authenticators may enrol, and which may keep signing in.
 *
 * One function judges both: `violations(facts, who)` lists every rule an authenticator breaks,
 * each with a stable reason (audited) and a sentence for the person. At registration the facts come
 * from the verified response; at sign-in and on the admin pages from the stored credential, so a
 * policy tightened later refuses (and flags) credentials enrolled under the old one.
 *
 * What each fact is worth: the AAGUID, backup eligibility, user verification and the algorithm are
 * in signed authenticator data; the AAGUID names a real model only when the attestation is trusted
 * (a chain to a FIDO metadata root). Attachment and the credProps "discoverable" answer come from
 * the browser, unsigned: they hold back honest browsers and authenticators, not a forged client.
 */
import type { AlgorithmName, PolicySettings } from '../config.js';
import { ALGORITHM_IDS } from '../config.js';
import { authenticatorName, isKnownModel } from '../devices/models.js';
import { coseAlgorithm, type StoredCredential } from '../webauthn/credentials.js';
import type { AuthenticatorMetadata } from './metadata.js';
import { strings, type Catalogue } from '../../web/i18n/index.js';

export type PolicyReason =
  | 'policy_attachment'
  | 'policy_resident_key'
  | 'policy_synced_passkey'
  | 'policy_aaguid_denied'
  | 'policy_aaguid_not_allowed'
  | 'policy_untrusted_attestation'
  | 'policy_authenticator_compromised'
  | 'policy_algorithm'
  | 'policy_too_many_credentials';

/** What Keygate knows about an authenticator, from a response or a stored credential. */
export interface AuthenticatorFacts {
  aaguid: string;
  /** BE flag: the credential may be synced to other devices (a synced passkey). */
  backupEligible: boolean;
  /** As the browser reported it; null when unknown. */
  attachment: 'platform' | 'cross-platform' | null;
  /** credProps.rk as the browser reported it; null when unknown. */
  discoverable: boolean | null;
  /** COSE algorithm of the credential's public key; null when unknown. */
  alg: number | null;
  /** The attestation chained to a root the FIDO metadata lists for this AAGUID. */
  attestationTrusted: boolean;
}

/** What the authenticator policy judges a stored credential by (see policy/policy.ts). */
export function storedFacts(c: StoredCredential): AuthenticatorFacts {
  return {
    aaguid: c.aaguid,
    backupEligible: c.deviceType === 'multiDevice',
    // Credentials enrolled before the attachment was recorded: the internal transport means platform.
    attachment: c.attachment ?? (c.transports.includes('internal') ? 'platform' : c.transports.length ? 'cross-platform' : null),
    discoverable: c.discoverable,
    alg: coseAlgorithm(c.publicKey),
    attestationTrusted: c.attestationTrusted,
  };
}

export interface Violation {
  reason: PolicyReason;
  /** Says what the organisation accepts, in words a person can act on, in their language. */
  said: (t: Catalogue) => string;
  /** The same in English: for the logs and the CLI. */
  message: string;
}

function violation(reason: PolicyReason, said: (t: Catalogue) => string): Violation {
  return { reason, said, message: said(strings('en')) };
}

/** A list of models or algorithms, as the catalogue separates them. */
const listOf = (items: readonly string[], t: Catalogue) => items.join(t.policy.listSeparator);

/** Who the authenticator belongs to, for the rules that apply only to admins. */
export interface Holder {
  admin: boolean;
}

const ALG_NAMES = new Map<number, AlgorithmName>(Object.entries(ALGORITHM_IDS).map(([name, id]) => [id, name as AlgorithmName]));

export class AuthenticatorPolicy {
  constructor(
    readonly settings: PolicySettings,
    private current: AuthenticatorMetadata,
  ) {}

  /** The FIDO metadata in use (replaced by {@link useMetadata} when a newer BLOB is loaded). */
  get metadata(): AuthenticatorMetadata {
    return this.current;
  }

  useMetadata(metadata: AuthenticatorMetadata): void {
    this.current = metadata;
  }

  /** COSE ids to offer and accept, in the configured order. */
  get algorithmIds(): number[] {
    return this.settings.algorithms.map((a) => ALGORITHM_IDS[a]);
  }

  /**
   * A model name for people: the shipped AAGUID list, then the FIDO metadata, then "Unknown
   * authenticator (<aaguid>)" in the language of `t` (English by default, as the CLI says it).
   */
  modelName(aaguid: string, t: Catalogue = strings('en')): string {
    const known = authenticatorName(aaguid, t);
    if (isKnownModel(known)) return known;
    return this.metadata.description(aaguid) ?? known;
  }

  /**
   * Every rule these facts break for this holder. `stage` is 'registration' or 'sign-in': a fact the
   * browser did not report (attachment, discoverable) fails a rule at registration, where it can be
   * asked for; a stored credential from before Keygate recorded it is judged by what was stored.
   */
  violations(facts: AuthenticatorFacts, holder: Holder, stage: 'registration' | 'sign-in'): Violation[] {
    const s = this.settings;
    const out: Violation[] = [];
    const model = (t: Catalogue) => this.modelName(facts.aaguid, t);
    const forAdmins = (setting: string) => setting.endsWith('admins');

    const compromised = this.metadata.refusedStatus(facts.aaguid);
    if (compromised) {
      const status = (t: Catalogue) => (t.policy.fidoStatus as Record<string, string>)[compromised] ?? compromised.toLowerCase().replace(/_/g, ' ');
      out.push(violation('policy_authenticator_compromised', (t) => t.policy.compromised(model(t), status(t))));
    }
    if (s.aaguidDeny.includes(facts.aaguid.toLowerCase())) {
      out.push(violation('policy_aaguid_denied', (t) => t.policy.modelDenied(model(t))));
    } else if (s.aaguidAllow.length > 0 && !s.aaguidAllow.includes(facts.aaguid.toLowerCase())) {
      out.push(violation('policy_aaguid_not_allowed', (t) => t.policy.modelNotAllowed(model(t))));
    }
    const trustNeeded = s.trustedAttestation === 'everyone' || (s.trustedAttestation === 'admins' && holder.admin);
    if (trustNeeded && !facts.attestationTrusted) {
      const admins = forAdmins(s.trustedAttestation);
      out.push(violation('policy_untrusted_attestation', (t) => (admins ? t.policy.untrustedAttestationAdmins : t.policy.untrustedAttestation)));
    }
    const syncedRefused = s.syncedPasskeys === 'refuse' || (s.syncedPasskeys === 'refuse-for-admins' && holder.admin);
    if (syncedRefused && facts.backupEligible) {
      const admins = forAdmins(s.syncedPasskeys);
      out.push(violation('policy_synced_passkey', (t) => (admins ? t.policy.syncedPasskeyAdmins : t.policy.syncedPasskey)));
    }
    if (s.attachment !== 'any' && facts.attachment !== s.attachment && (facts.attachment !== null || stage === 'registration')) {
      const securityKeys = s.attachment === 'cross-platform';
      out.push(violation('policy_attachment', (t) => (securityKeys ? t.policy.onlySecurityKeys : t.policy.onlyBuiltIn)));
    }
    if (s.residentKey === 'required' && facts.discoverable !== true && (facts.discoverable !== null || stage === 'registration')) {
      out.push(violation('policy_resident_key', (t) => t.policy.residentKey));
    }
    const alg = facts.alg;
    if (alg !== null && !this.algorithmIds.includes(alg)) {
      out.push(violation('policy_algorithm', (t) => t.policy.algorithm(listOf(s.algorithms, t), ALG_NAMES.get(alg) ?? t.policy.coseAlgorithm(alg))));
    }
    return out;
  }

  /** What this holder's authenticator must be, as short sentences for the enrolment and account pages, in the language of `t`. */
  requirements(holder: Holder, t: Catalogue): string[] {
    const s = this.settings;
    const p = t.policy;
    const out: string[] = [];
    if (s.attachment === 'cross-platform') out.push(p.requiresSecurityKey);
    if (s.attachment === 'platform') out.push(p.requiresBuiltIn);
    if (s.userVerification === 'required') out.push(p.requiresUserVerification);
    if (s.residentKey === 'required') out.push(p.requiresPasskey);
    if (s.syncedPasskeys === 'refuse' || (s.syncedPasskeys === 'refuse-for-admins' && holder.admin)) out.push(p.requiresNoSyncedPasskey);
    if (s.trustedAttestation === 'everyone' || (s.trustedAttestation === 'admins' && holder.admin)) out.push(p.requiresAttestation);
    const models = (list: readonly string[]) =>
      listOf(
        list.map((a) => this.modelName(a, t)),
        t,
      );
    if (s.aaguidAllow.length) out.push(p.onlyTheseModels(models(s.aaguidAllow)));
    if (s.aaguidDeny.length) out.push(p.notTheseModels(models(s.aaguidDeny)));
    return out;
  }

  /** The refusal for a person who already has as many active keys as allowed, or null. */
  credentialLimit(activeCredentials: number): Violation | null {
    const max = this.settings.maxCredentialsPerUser;
    if (activeCredentials < max) return null;
    return violation('policy_too_many_credentials', (t) => t.policy.tooManyKeys(activeCredentials, max));
  }
}

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
  /** Says what the organisation accepts, in words a person can act on. */
  message: string;
}

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

  /** A model name for people: the shipped AAGUID list, then the FIDO metadata, then the AAGUID. */
  modelName(aaguid: string): string {
    const known = authenticatorName(aaguid);
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
    const model = this.modelName(facts.aaguid);
    const forAdmins = (setting: string) => (setting.endsWith('admins') ? ' for administrators' : '');

    const compromised = this.metadata.refusedStatus(facts.aaguid);
    if (compromised) {
      out.push({
        reason: 'policy_authenticator_compromised',
        message: `The FIDO Alliance reports this authenticator model (${model}) as ${compromised.toLowerCase().replace(/_/g, ' ')}, so it is not accepted.`,
      });
    }
    if (s.aaguidDeny.includes(facts.aaguid.toLowerCase())) {
      out.push({ reason: 'policy_aaguid_denied', message: `This organisation does not accept this authenticator model (${model}).` });
    } else if (s.aaguidAllow.length > 0 && !s.aaguidAllow.includes(facts.aaguid.toLowerCase())) {
      out.push({
        reason: 'policy_aaguid_not_allowed',
        message: `This organisation accepts only approved authenticator models, and ${model} is not one of them.`,
      });
    }
    const trustNeeded = s.trustedAttestation === 'everyone' || (s.trustedAttestation === 'admins' && holder.admin);
    if (trustNeeded && !facts.attestationTrusted) {
      out.push({
        reason: 'policy_untrusted_attestation',
        message: `This organisation accepts${forAdmins(s.trustedAttestation)} only authenticators whose maker vouches for them (an attestation certified by the FIDO Alliance), and this one did not prove its make and model.`,
      });
    }
    const syncedRefused = s.syncedPasskeys === 'refuse' || (s.syncedPasskeys === 'refuse-for-admins' && holder.admin);
    if (syncedRefused && facts.backupEligible) {
      out.push({
        reason: 'policy_synced_passkey',
        message: `This organisation does not accept synced passkeys${forAdmins(s.syncedPasskeys)} (passkeys copied to a cloud account). Use a security key, or a passkey that stays on this device.`,
      });
    }
    if (s.attachment !== 'any' && facts.attachment !== s.attachment && (facts.attachment !== null || stage === 'registration')) {
      out.push({
        reason: 'policy_attachment',
        message:
          s.attachment === 'cross-platform'
            ? 'This organisation accepts only security keys (such as a YubiKey), not the authenticator built into a computer or phone.'
            : 'This organisation accepts only the authenticator built into your device (Touch ID, Windows Hello or your phone’s screen lock), not a separate security key.',
      });
    }
    if (s.residentKey === 'required' && facts.discoverable !== true && (facts.discoverable !== null || stage === 'registration')) {
      out.push({
        reason: 'policy_resident_key',
        message:
          'This organisation accepts only passkeys stored on the authenticator itself (discoverable credentials), and this authenticator did not store one.',
      });
    }
    if (facts.alg !== null && !this.algorithmIds.includes(facts.alg)) {
      out.push({
        reason: 'policy_algorithm',
        message: `This organisation accepts only keys that sign with ${s.algorithms.join(', ')}; this one uses ${ALG_NAMES.get(facts.alg) ?? `COSE algorithm ${facts.alg}`}.`,
      });
    }
    return out;
  }

  /** What this holder's authenticator must be, as short sentences for the enrolment pages. */
  requirements(holder: Holder): string[] {
    const s = this.settings;
    const out: string[] = [];
    if (s.attachment === 'cross-platform') out.push('Security keys (such as a YubiKey) only, not the authenticator built into a computer or phone.');
    if (s.attachment === 'platform')
      out.push('Only the authenticator built into your device (Touch ID, Windows Hello or your phone’s screen lock), not a separate security key.');
    if (s.userVerification === 'required') out.push('Authenticators that verify you with a PIN, fingerprint or face.');
    if (s.residentKey === 'required') out.push('Passkeys stored on the authenticator itself.');
    if (s.syncedPasskeys === 'refuse' || (s.syncedPasskeys === 'refuse-for-admins' && holder.admin))
      out.push('No synced passkeys (passkeys copied to a cloud account).');
    if (s.trustedAttestation === 'everyone' || (s.trustedAttestation === 'admins' && holder.admin))
      out.push('Only authenticators whose maker vouches for them (certified by the FIDO Alliance); your browser may ask to share its make and model.');
    if (s.aaguidAllow.length) out.push(`Only these models: ${s.aaguidAllow.map((a) => this.modelName(a)).join(', ')}.`);
    if (s.aaguidDeny.length) out.push(`Not these models: ${s.aaguidDeny.map((a) => this.modelName(a)).join(', ')}.`);
    return out;
  }

  /** The refusal for a person who already has as many active keys as allowed, or null. */
  credentialLimit(activeCredentials: number): Violation | null {
    const max = this.settings.maxCredentialsPerUser;
    if (activeCredentials < max) return null;
    return {
      reason: 'policy_too_many_credentials',
      message: `You already have ${activeCredentials} keys, and this organisation allows at most ${max}. Remove one on your account page before adding another.`,
    };
  }
}

/**
 * Why a ceremony failed, as a stable audit reason, and what a person is told. The library reports
 * failures as Error messages; they are sorted here into reasons an admin can filter on.
 */
import { strings, type Catalogue } from '../../web/i18n/index.js';
import { AppError, type Said } from '../errors.js';
import type { PolicyReason } from '../policy/policy.js';

export type FailureReason =
  | 'no_ceremony'
  | 'wrong_ceremony'
  | 'challenge_expired'
  | 'malformed_response'
  | 'unknown_credential'
  | 'not_allowed_credential'
  | 'revoked_credential'
  /** Revoked, or its person disabled, while the ceremony was in flight (after its checks). */
  | 'access_ended'
  | 'user_disabled'
  | 'user_handle_mismatch'
  | 'counter_regression'
  | 'concurrent_use'
  | 'bad_origin'
  | 'bad_rp_id'
  | 'bad_type'
  | 'challenge_mismatch'
  | 'user_not_present'
  | 'user_not_verified'
  | 'bad_backup_flags'
  | 'algorithm_not_allowed'
  | 'credential_id_too_long'
  | 'already_registered'
  | 'bad_signature'
  | 'verification_failed'
  | PolicyReason;

/**
 * The library's messages, matched from their start: they go on to quote what the client sent
 * (origin, challenge, type), so a match anywhere would let a client choose the audit reason, e.g.
 * an origin containing "counter value" recorded as a clone warning.
 */
const LIBRARY_MESSAGES: Array<[RegExp, FailureReason]> = [
  [/^Response counter value /, 'counter_regression'],
  [/^Unexpected (registration|authentication) response origin /, 'bad_origin'],
  [/^(Detected cross-origin|Unexpected cross-origin|Unexpected top origin)/, 'bad_origin'],
  [/^Unexpected RP ID hash/, 'bad_rp_id'],
  [/^Unexpected (registration|authentication) response type/, 'bad_type'],
  [/^(Unexpected (registration|authentication) response challenge |Custom challenge verifier)/, 'challenge_mismatch'],
  [/^User verification (was )?required/, 'user_not_verified'],
  [/^User (presence was required|not present)/, 'user_not_present'],
  [/^Single-device credential indicated that it was backed up/, 'bad_backup_flags'],
  [/^Unexpected public key alg /, 'algorithm_not_allowed'],
];

/** Maps an error thrown by @simplewebauthn/server to an audit reason. */
export function classifyLibraryError(err: unknown): FailureReason {
  const message = err instanceof Error ? err.message : String(err);
  for (const [pattern, reason] of LIBRARY_MESSAGES) if (pattern.test(message)) return reason;
  if (err instanceof SyntaxError || /base64|CBOR|decode|parse|JSON|missing|was not a/i.test(message)) return 'malformed_response';
  return 'verification_failed';
}

/**
 * What the person (and so anyone probing) is told, where it must not differ: a key that is
 * unknown, not offered, revoked, or whose signature does not verify gets one answer. Otherwise a
 * forged response tells a registered credential id (and so an existing username) from a decoy.
 * The audit keeps the precise reason.
 */
const PUBLIC_REASON: Partial<Record<FailureReason, FailureReason>> = {
  not_allowed_credential: 'unknown_credential',
  revoked_credential: 'unknown_credential',
  bad_signature: 'unknown_credential',
};

/** The reasons with a sentence of their own in the catalogue (`ceremony`); the others say `ceremony.other`. */
type SaidReason = Exclude<keyof Catalogue['ceremony'], 'other'>;
const hasOwnSentence = (reason: FailureReason): reason is SaidReason => reason in strings('en').ceremony;

/** A failed ceremony: carries the audit reason; its message is safe to show. */
export class CeremonyFailure extends AppError {
  constructor(
    readonly reason: FailureReason,
    cause?: unknown,
    status = 400,
    /** Says why in words (the authenticator policy's refusals); otherwise the reason's own message. */
    message?: Said,
  ) {
    const shown = PUBLIC_REASON[reason] ?? reason;
    // Also said for a key that is not offered, revoked, or fails its signature (PUBLIC_REASON).
    super(shown, status, message ?? ((t) => (hasOwnSentence(shown) ? t.ceremony[shown] : t.ceremony.other)), cause);
  }
}

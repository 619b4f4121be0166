/**
 * Why a ceremony failed, as a stable audit reason, and what a person is told. The library reports
 * failures as Error messages; they are sorted here into reasons an admin can filter on.
 */
import { AppError } from '../errors.js';

export type FailureReason =
  | 'no_ceremony'
  | 'wrong_ceremony'
  | 'challenge_expired'
  | 'malformed_response'
  | 'unknown_credential'
  | 'not_allowed_credential'
  | 'revoked_credential'
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
  | 'verification_failed';

/** Maps an error thrown by @simplewebauthn/server to an audit reason. */
export function classifyLibraryError(err: unknown): FailureReason {
  const message = err instanceof Error ? err.message : String(err);
  if (/counter value/i.test(message)) return 'counter_regression';
  if (/origin/i.test(message)) return 'bad_origin';
  if (/RP ID/i.test(message)) return 'bad_rp_id';
  if (/response type/i.test(message)) return 'bad_type';
  if (/challenge/i.test(message)) return 'challenge_mismatch';
  if (/verification was required|verification required/i.test(message)) return 'user_not_verified';
  if (/not present|presence/i.test(message)) return 'user_not_present';
  if (/backed up|backup/i.test(message)) return 'bad_backup_flags';
  if (/public key alg/i.test(message)) return 'algorithm_not_allowed';
  if (/base64|CBOR|decode|parse|JSON|missing|was not a/i.test(message)) return 'malformed_response';
  return 'verification_failed';
}

const MESSAGES: Partial<Record<FailureReason, string>> = {
  // Unknown, not-offered and revoked credentials get the same words: nothing to learn from them.
  unknown_credential: 'This key is not registered here.',
  not_allowed_credential: 'This key is not registered here.',
  revoked_credential: 'This key is not registered here.',
  user_disabled: 'This account is disabled. Ask your administrator.',
  counter_regression:
    "This key's signature counter went backwards, which can mean the key was cloned. Sign-in was refused and recorded; tell your administrator.",
  concurrent_use: 'This key was used twice at once. Please try again.',
  already_registered: 'This key is already registered here. Use another key, or sign in with this one.',
  user_not_verified: 'Your key did not verify you (PIN, fingerprint or face). Keygate requires it; please try again.',
  credential_id_too_long: 'This key returned an invalid credential.',
  algorithm_not_allowed: "This key's signature algorithm is not accepted here.",
  malformed_response: "Your browser sent a response Keygate couldn't read. Please try again.",
};

/** A failed ceremony: carries the audit reason; its message is safe to show. */
export class CeremonyFailure extends AppError {
  constructor(
    readonly reason: FailureReason,
    cause?: unknown,
    status = 400,
  ) {
    super(reason, status, MESSAGES[reason] ?? "Your key's response could not be verified. Please try again.", cause);
  }
}

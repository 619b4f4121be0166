/** Storing a freshly verified credential, shared by enrolment and "add a device". */
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { isUniqueViolation, type Queryable } from '../db/pool.js';
import { insertCredential, type NewCredential, type StoredCredential } from './credentials.js';
import { cleanText } from '../text/safe-text.js';
import { CeremonyFailure } from './failures.js';

/** A nickname a person typed, or a sensible default from how the authenticator is attached. */
export function cleanNickname(input: unknown, response: RegistrationResponseJSON): string {
  const typed = typeof input === 'string' ? cleanText(input).slice(0, 64).trim() : '';
  if (typed) return typed;
  const transports = response.response.transports ?? [];
  if (response.authenticatorAttachment === 'platform' || transports.includes('internal')) return 'Passkey';
  if (transports.includes('hybrid')) return 'Phone passkey';
  return 'Security key';
}

/**
 * Inserts the credential. The unique index on credential_id is what makes "registered to nobody
 * else" true even under concurrency (checklist: two completions cannot store two credentials).
 */
export async function storeCredential(db: Queryable, credential: NewCredential): Promise<StoredCredential> {
  try {
    return await insertCredential(db, credential);
  } catch (err) {
    if (isUniqueViolation(err, 'credentials_credential_id')) throw new CeremonyFailure('already_registered', err, 409);
    throw err;
  }
}

/**
 * What a person is told on the sign-in page after their session ended without them signing out
 * in this browser (ASVS 7.4: a session that ends says so). The reason is looked up by the key of
 * the session id in this browser's own signed cookie (session_ends, sql.ts), so it reaches only
 * the browser that held that session; nobody else can ask about it.
 */
import type { Db } from '../db/pool.js';
import type { Config } from '../config.js';
import { readSessionKey } from './identity.js';
import { sessionEndReason, type SessionEndReason } from './sql.js';

export const SESSION_END_MESSAGES: Record<SessionEndReason, string> = {
  signed_out: 'You have been signed out.',
  timed_out: 'Your session timed out. Sign in again to continue.',
  credential_revoked:
    'You were signed out because an administrator revoked the key you signed in with. Sign in with another of your keys, or ask your administrator for a recovery link.',
  credential_removed: 'You were signed out because the key you signed in with was removed from your account. Sign in with another of your keys.',
  user_disabled: 'You were signed out because your account was disabled. Ask your administrator if you think this is a mistake.',
  ended_by_admin: 'An administrator signed you out. Sign in again to continue.',
  ended_by_user: 'This browser was signed out from another of your sessions. Sign in again to continue.',
};

/** Why the session this browser's cookie names has ended, as a sentence; undefined if it has not, or if that is not known. */
export async function sessionEndNotice(db: Db, config: Config, secret: string, cookieHeader: string | undefined): Promise<string | undefined> {
  const key = readSessionKey(cookieHeader, config.sessionCookieName, secret);
  if (!key) return undefined;
  const reason = await sessionEndReason(db, key);
  return reason ? SESSION_END_MESSAGES[reason] : undefined;
}

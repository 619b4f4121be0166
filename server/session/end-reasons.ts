/**
 * What a person is told on the sign-in page after their session ended without them signing out
 * in this browser (ASVS 7.4: a session that ends says so). The reason is looked up by the key of
 * the session id in this browser's own signed cookie (session_ends, sql.ts), so it reaches only
 * the browser that held that session; nobody else can ask about it.
 */
import { strings } from '../../web/i18n/index.js';
import type { Db } from '../db/pool.js';
import type { Config } from '../config.js';
import { readSessionKey } from './identity.js';
import { sessionEndReason, type SessionEndReason } from './sql.js';

/** The sentences in English (each language's are in its catalogue, `sessionEnded`). */
export const SESSION_END_MESSAGES: Record<SessionEndReason, string> = strings('en').sessionEnded;

/** Why the session this browser's cookie names has ended; undefined if it has not, or if that is not known. */
export async function sessionEndNotice(db: Db, config: Config, secret: string, cookieHeader: string | undefined): Promise<SessionEndReason | undefined> {
  const key = readSessionKey(cookieHeader, config.sessionCookieName, secret);
  if (!key) return undefined;
  return (await sessionEndReason(db, key)) ?? undefined;
}

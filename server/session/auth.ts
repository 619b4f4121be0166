/**
 * What a signed-in session holds, and the server-side rules that end it: the idle timeout and the
 * absolute lifetime (OWASP ASVS 7.3.1, 7.3.2) are judged here from timestamps kept in the session
 * row, never from the cookie, so a replayed cookie gains nothing.
 */
import type { Request } from 'express';
import type { AuditEvent } from '../audit/record.js';
import type { Config } from '../config.js';
import { requestContext } from '../http/context.js';
import type { SessionEndReason } from './sql.js';
import type { CredentialUse } from '../webauthn/credentials.js';
import type { ReplacingStore, SessionAuth } from './types.js';

export type { SessionAuth } from './types.js';

/**
 * How often last-seen is written back: sliding idle expiry without a write per request. With an
 * idle timeout under a few minutes it is written more often (a quarter of the timeout), or a
 * session in constant use would still end at the idle timeout.
 */
export const TOUCH_INTERVAL_MS = 60_000;

export type SessionVerdict = 'valid' | 'idle' | 'expired';

export function judgeSession(auth: SessionAuth, config: Config, now = Date.now()): SessionVerdict {
  if (now - auth.signedInAt > config.sessionAbsoluteMs) return 'expired';
  if (now - auth.lastSeenAt > config.sessionIdleMs) return 'idle';
  return 'valid';
}

export function needsTouch(auth: SessionAuth, config: Config, now = Date.now()): boolean {
  return now - auth.lastSeenAt > Math.min(TOUCH_INTERVAL_MS, config.sessionIdleMs / 4);
}

/**
 * Starts a signed-in session. The session id is regenerated first (session fixation, ASVS 7.2.4):
 * whatever id the browser had before sign-in, including the one that held the challenge, is gone.
 * With `audit`, that audit row is written by the very statement that writes the session: never a
 * session without it; with `credentialUse`, so are the key's new counter and last use.
 *
 * Returns false, and writes nothing, when the key was revoked or the person disabled while the
 * ceremony was in flight (the session is only written while both are still active, atomically
 * with respect to a revocation or a disable: middleware.ts, replace), or, with `credentialUse`,
 * when the key's counter moved since it was read.
 */
export async function signIn(
  req: Request,
  who: { userId: string; username: string; credentialId: string },
  /** The authenticator verified the person (UV): this sign-in also counts as a fresh step-up. */
  userVerified = false,
  /** The success audit row, and the key's new counter and last use: written by the same statement. */
  also: { audit?: AuditEvent; credentialUse?: CredentialUse } = {},
): Promise<boolean> {
  const store = req.sessionStore as ReplacingStore | undefined;
  if (!store?.replace || !store.generate) throw new Error('signIn needs the Keygate session store (session/middleware.ts)');
  const oldSid = req.sessionID;
  // regenerate() without its separate DELETE: a new id and an empty session now, and the old row
  // deleted by the same statement that inserts the new one.
  store.generate(req);
  const now = Date.now();
  const { ip, userAgent } = requestContext(req);
  req.session.auth = { ...who, signedInAt: now, lastSeenAt: now, ip, userAgent: userAgent?.slice(0, 512) ?? null };
  if (userVerified) req.session.stepUpAt = now;
  const stored = await store.replace(oldSid, req.sessionID, req.session, also);
  if (!stored) {
    // Nothing was stored: leave this request without a session, so nothing saves one at its end.
    delete req.session.auth;
    delete req.session.stepUpAt;
  }
  return stored;
}

/**
 * Ends the session on the server (the row is deleted), whatever the cookie says afterwards, and
 * notes why for that browser's next page. As express-session's own destroy, it leaves the request
 * without a session, so nothing saves one at its end.
 */
export async function signOut(req: Request, reason: SessionEndReason = 'signed_out'): Promise<void> {
  if (!req.session) return;
  const store = req.sessionStore as ReplacingStore | undefined;
  if (!store?.end) throw new Error('signOut needs the Keygate session store (session/middleware.ts)');
  await store.end(req.sessionID, reason);
  delete (req as { session?: unknown }).session;
}

/** The signed-in person on a Keygate page, or null. Ends a timed-out session on the way. */
export async function currentAuth(req: Request, config: Config): Promise<SessionAuth | null> {
  const auth = req.session?.auth;
  if (!auth) return null;
  const verdict = judgeSession(auth, config);
  if (verdict !== 'valid') {
    await signOut(req, 'timed_out');
    return null;
  }
  if (needsTouch(auth, config)) auth.lastSeenAt = Date.now();
  return auth;
}

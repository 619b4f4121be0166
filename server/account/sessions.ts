/**
 * A person's own sessions at /-/account: each one they are signed in with (browser, address, last
 * active), and signing out any of the others, or all of them at once (ASVS 7.4.3: after adding a
 * key, the account page offers the latter). Plain forms: they work without script and by keyboard.
 * The browser that was signed out says why on its next page (session/end-reasons.ts).
 */
import { Router, type Request, type Response } from 'express';
import type { RouterDeps } from '../deps.js';
import { recordEvent } from '../audit/record.js';
import { requestContext } from '../http/context.js';
import { sessionKey } from '../session/key.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { endSessionOfUser, endSessionsOfUser, listSessionsOfUser } from '../session/sql.js';
import type { AccountSession } from '../../web/pages/account.js';
import type { Lang } from '../../web/i18n/index.js';
import { describeBrowser, displayIp } from './view.js';

const SESSION_KEY = /^[0-9a-f]{64}$/;

/** The person's live sessions, this one marked. */
export async function accountSessions(deps: RouterDeps, req: Request, userId: string, lang?: Lang): Promise<AccountSession[]> {
  const current = sessionKey(req.sessionID);
  const sessions = await listSessionsOfUser(deps.db, userId, deps.config);
  return sessions.map((s) => ({
    key: s.key,
    browser: describeBrowser(s.userAgent, lang),
    ip: displayIp(s.ip),
    signedInAt: s.signedInAt,
    lastSeenAt: s.lastSeenAt,
    current: s.key === current,
  }));
}

export function accountSessionRouter(deps: RouterDeps): Router {
  const { db } = deps;
  const router = Router();
  const signedIn = requireSignIn(deps);

  /** Ends the given sessions of the signed-in person (never this one), audits it, and goes back to the account page. */
  const endAndReturn = async (req: Request, res: Response, scope: 'one' | 'others', end: (userId: string, current: string) => Promise<string[]>) => {
    const auth = req.auth!;
    const ended = await end(auth.userId, sessionKey(req.sessionID));
    deps.sessionCache.forgetAll(ended);
    await recordEvent(db, {
      event: 'sessions_ended',
      outcome: 'success',
      actor: `user:${auth.username}`,
      subjectUserId: auth.userId,
      subjectUsername: auth.username,
      ...requestContext(req),
      details: { sessionsEnded: ended.length, scope },
    });
    res.redirect(303, `/-/account?ended=${ended.length}`);
  };

  router.post('/-/account/sessions/end-others', signedIn, (req, res) =>
    endAndReturn(req, res, 'others', (userId, current) => endSessionsOfUser(db, userId, 'ended_by_user', current)),
  );

  router.post('/-/account/sessions/:key/end', signedIn, (req, res) => {
    const key = String(req.params.key);
    // This browser's own session is ended by signing out; another person's is not found.
    return endAndReturn(req, res, 'one', (userId, current) =>
      SESSION_KEY.test(key) && key !== current ? endSessionOfUser(db, userId, key, 'ended_by_user') : Promise.resolve([]),
    );
  });

  return router;
}

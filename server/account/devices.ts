/**
 * A person renaming and removing their own devices. Both need a fresh, user-verified assertion
 * (requireStepUp) and go through the same actions as the admin page and the CLI
 * (devices/actions.ts), so they write the same audit events. Another person's credential id is
 * answered exactly like an unknown one (404).
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { RouterDeps } from '../deps.js';
import { userActor } from '../audit/actor.js';
import { endDevice, renameDevice } from '../devices/actions.js';
import { AppError } from '../errors.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { say, validateBody } from '../http/validate.js';
import { signOut } from '../session/auth.js';
import { sessionCookieOptions } from '../session/cookie.js';
import { expireGogsSession } from '../session/gogs-cookie.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { requireStepUp } from '../stepup/require.js';

const renameBody = z.object({ nickname: z.string({ error: say('nameText') }) });
const removeBody = z.object({ confirmLast: z.boolean({ error: say('confirmLastBoolean') }).optional() });

export function accountDeviceRouter(deps: RouterDeps): Router {
  const { db } = deps;
  const router = Router();
  const signedIn = requireSignIn(deps);
  const freshlyVerified = requireStepUp(deps);
  const actorOf = (req: Request) => userActor({ id: req.auth!.userId, username: req.auth!.username }, requestContext(req));

  router.post(
    '/-/api/account/devices/:credentialId/rename',
    deps.limits.perIp('/-/api/account/devices'),
    jsonBody,
    signedIn,
    freshlyVerified,
    validateBody(renameBody),
    async (req, res) => {
      const { nickname } = req.body as z.infer<typeof renameBody>;
      const renamed = await renameDevice(db, credentialIdOf(req), nickname, actorOf(req), { ownerId: req.auth!.userId });
      res.json({ ok: true, nickname: renamed.nickname });
    },
  );

  router.post(
    '/-/api/account/devices/:credentialId/remove',
    deps.limits.perIp('/-/api/account/devices'),
    jsonBody,
    signedIn,
    freshlyVerified,
    validateBody(removeBody),
    async (req, res) => {
      const auth = req.auth!;
      const { confirmLast } = req.body as z.infer<typeof removeBody>;
      const ended = await endDevice(db, credentialIdOf(req), actorOf(req), {
        event: 'credential_removed',
        ownerId: auth.userId,
        // Removing the only active key locks the person out: it needs `confirmLast: true`.
        refuseLast: confirmLast ? undefined : new AppError('last_device', 409, (t) => t.errors.lastKey),
      });
      deps.sessionCache.forgetAll(ended.endedSessionIds);
      if (!ended.alreadyEnded) {
        deps.mail.notify(auth.userId, { kind: 'key_removed', at: new Date(), keyName: ended.credential.nickname, from: requestContext(req) });
      }
      // The key this session signed in with is gone, and with it this session (already deleted).
      const signedOut = ended.credential.credentialId === auth.credentialId;
      if (signedOut) await endThisSession(req, res, deps);
      res.json({ ok: true, signedOut });
    },
  );

  return router;
}

/** The :credentialId path segment (Express types allow an array for wildcards; this is not one). */
const credentialIdOf = (req: Request) => String(req.params.credentialId);

/** As /-/logout does: no row left to write back, and no cookies left behind. */
async function endThisSession(req: Request, res: Response, deps: RouterDeps): Promise<void> {
  await signOut(req);
  res.clearCookie(deps.config.sessionCookieName, sessionCookieOptions(deps.config));
  expireGogsSession(res, deps.config);
}

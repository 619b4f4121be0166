/**
 * Re-authentication before sensitive changes (ASVS 7.5.1, 7.5.3): changing credentials and every
 * admin action need a user-verified assertion from this session within STEP_UP_MAX_AGE. Older
 * than that, the API answers `step_up_required` and the page asks for the key, then repeats the
 * same action (web/client/step-up.ts).
 */
import type { NextFunction, Request, Response } from 'express';
import type { RouterDeps } from '../deps.js';
import { recordEvent } from '../audit/record.js';
import { AppError } from '../errors.js';
import { requestContext } from '../http/context.js';

export function hasFreshStepUp(req: Request, maxAgeMs: number, now = Date.now()): boolean {
  const at = req.session?.stepUpAt;
  return typeof at === 'number' && now - at <= maxAgeMs;
}

/** Use after requireSignIn. */
export function requireStepUp(deps: RouterDeps) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    if (hasFreshStepUp(req, deps.config.stepUpMaxAgeMs)) {
      next();
      return;
    }
    const auth = req.auth!;
    await recordEvent(deps.db, {
      event: 'step_up_prompted',
      outcome: 'success',
      actor: `user:${auth.username}`,
      subjectUserId: auth.userId,
      subjectUsername: auth.username,
      details: { action: `${req.method} ${req.path}` },
      ...requestContext(req),
    });
    next(new AppError('step_up_required', 403, (t) => t.errors.confirmItsYou));
  };
}

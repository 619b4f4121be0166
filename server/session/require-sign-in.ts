/** Pages and API that need a signed-in person. */
import type { NextFunction, Request, Response } from 'express';
import type { AppDeps } from '../deps.js';
import { unauthorized } from '../errors.js';
import { isApiPath } from '../http/api-path.js';
import { currentAuth, type SessionAuth } from './auth.js';

declare module 'express-serve-static-core' {
  interface Request {
    auth?: SessionAuth;
  }
}

/** Requires a signed-in session: pages redirect to sign-in, the API answers 401. */
export function requireSignIn(deps: AppDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const auth = await currentAuth(req, deps.config);
    if (auth) {
      req.auth = auth;
      next();
    } else if (isApiPath(req.path)) {
      next(unauthorized((t) => t.errors.sessionEnded));
    } else {
      res.redirect(303, `/-/login?return_to=${encodeURIComponent(req.originalUrl)}`);
    }
  };
}

/**
 * The admin gate. The admin flag is read from the database on every admin request, never from
 * the session: a demotion or a disable takes effect on the admin's very next click (ASVS 8.2.1,
 * 8.3.1 — authorisation enforced server side, from the current state).
 */
import type { NextFunction, Request, Response } from 'express';
import { messagePage } from '../../web/pages/message.js';
import type { AppDeps } from '../deps.js';
import { strings } from '../../web/i18n/index.js';
import { errorTitle, forbidden, wantsJson } from '../errors.js';
import { findUserById, type User } from '../users/users.js';
import { pageOf } from '../http/site.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in administrator, as the database has them now (set by requireAdmin). */
    admin?: User;
  }
}

/** Use after requireSignIn. Others get 403: a page with a way back, or JSON for the API. */
export function requireAdmin(deps: AppDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const user = await findUserById(deps.db, req.auth!.userId);
    if (user && user.isAdmin && !user.disabledAt) {
      req.admin = user;
      next();
    } else if (wantsJson(req)) {
      next(forbidden((t) => t.admin.notAdmin, 'not_admin'));
    } else {
      const page = pageOf(deps.config, req, res);
      const t = strings(page.lang);
      res
        .status(403)
        .type('html')
        .send(
          messagePage({
            title: errorTitle(403, page.lang),
            message: t.admin.notAdmin,
            action: { href: '/-/account', label: t.actions.backToAccount },
            ...page,
          }),
        );
    }
  };
}

/** The admin area: pages under /-/admin (admins only) and the API under /-/api/admin (also step-up). */
import { Router } from 'express';
import type { RouterDeps } from '../deps.js';
import { adminApiRouter } from './api.js';
import { adminAuditRouter } from './audit-page.js';
import { adminPolicyRouter } from './policy-page.js';
import { adminUsersRouter } from './users-pages.js';

export function adminRouter(deps: RouterDeps): Router {
  const router = Router();
  router.use(adminUsersRouter(deps));
  router.use(adminAuditRouter(deps));
  router.use(adminPolicyRouter(deps));
  router.use(adminApiRouter(deps));
  return router;
}

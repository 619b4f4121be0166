/** /-/admin/policy: the effective authenticator policy (read-only) and every active key it refuses. */
import { Router } from 'express';
import { adminPolicyPage } from '../../web/pages/admin-policy.js';
import type { RouterDeps } from '../deps.js';
import { describePolicy, reviewCredentials } from '../policy/describe.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { requireAdmin } from './require-admin.js';
import { pageOf } from '../http/site.js';

export function adminPolicyRouter(deps: RouterDeps): Router {
  const router = Router();
  router.get('/-/admin/policy', requireSignIn(deps), requireAdmin(deps), async (req, res) => {
    const refused = await reviewCredentials(deps.db, deps.policy);
    res.type('html').send(adminPolicyPage({ settings: describePolicy(deps.policy), refused, ...pageOf(deps.config, req, res) }));
  });
  return router;
}

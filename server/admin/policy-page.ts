/** /-/admin/policy: the effective authenticator policy (read-only) and every active key it refuses. */
import { Router } from 'express';
import { adminPolicyPage } from '../../web/pages/admin-policy.js';
import type { RouterDeps } from '../deps.js';
import { describePolicy, reviewCredentials } from '../policy/describe.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { requireAdmin } from './require-admin.js';
import { pageOf } from '../http/site.js';
import { strings } from '../../web/i18n/index.js';

export function adminPolicyRouter(deps: RouterDeps): Router {
  const router = Router();
  router.get('/-/admin/policy', requireSignIn(deps), requireAdmin(deps), async (req, res) => {
    const page = pageOf(deps.config, req, res);
    const t = strings(page.lang);
    // The review speaks English (the CLI's); the page says the model and the reasons in its language.
    const refused = (await reviewCredentials(deps.db, deps.policy)).map((r) => ({
      ...r,
      model: deps.policy.modelName(r.aaguid, t),
      violations: r.violations.map((v) => ({ reason: v.reason, message: v.said(t) })),
    }));
    res.type('html').send(adminPolicyPage({ settings: describePolicy(deps.policy, page.lang), refused, ...page }));
  });
  return router;
}

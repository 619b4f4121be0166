/** /-/welcome: where enrolment leads, with a person's next steps (web/pages/welcome.ts). */
import { Router } from 'express';
import { welcomePage } from '../../web/pages/welcome.js';
import type { RouterDeps } from '../deps.js';
import { pageOf } from '../http/site.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { countActiveCredentials } from '../webauthn/credentials.js';

export function welcomeRouter(deps: RouterDeps): Router {
  const router = Router();
  router.get('/-/welcome', requireSignIn(deps), async (req, res) => {
    const auth = req.auth!;
    const keys = await countActiveCredentials(deps.db, auth.userId);
    res.type('html').send(welcomePage({ username: auth.username, keys, gitPasswords: deps.config.allowGitPasswords, ...pageOf(deps.config, req, res) }));
  });
  return router;
}

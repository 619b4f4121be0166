/**
 * /-/admin (find people, pending invites) and /-/admin/users/:username (their keys, sessions and
 * pending invites; for someone invited who has no account yet, their pending invites). Viewing
 * needs no step-up.
 */
import Bowser from 'bowser';
import { Router } from 'express';
import { z } from 'zod';
import { adminUsersPage } from '../../web/pages/admin.js';
import { adminInviteePage, adminUserPage } from '../../web/pages/admin-user.js';
import type { RouterDeps } from '../deps.js';
import { strings, type Lang } from '../../web/i18n/index.js';
import { durationText } from '../../web/pages/admin-parts.js';
import { kindLabel } from '../account/view.js';
import { listPendingInvites } from '../enrollment/invites.js';
import { storedFacts } from '../policy/policy.js';
import { listSessionsOfUser } from '../session/sql.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { requireUser } from '../users/actions.js';
import { findUserByUsername } from '../users/users.js';
import { listCredentialsOfUser } from '../webauthn/credentials.js';
import { parseQuery } from './query.js';
import { say } from '../http/validate.js';
import { requireAdmin } from './require-admin.js';
import { searchUsers } from './search.js';
import { pageOf } from '../http/site.js';

const listQuery = z.object({
  q: z
    .string({ error: say('giveOnce') })
    .trim()
    .max(64)
    .default(''),
  page: z
    .string({ error: say('giveOnce') })
    .regex(/^[1-9]\d{0,3}$/, say('pageNumber'))
    .transform(Number)
    .default(1),
});

/** "Chrome 126 on Linux" from a User-Agent, or the raw start of it if it means nothing to bowser. */
export function describeBrowser(userAgent: string | null, lang?: Lang): string | null {
  if (!userAgent) return null;
  const { browser, os } = Bowser.parse(userAgent);
  if (!browser.name) return userAgent.slice(0, 60);
  const version = browser.version?.split('.')[0];
  const name = `${browser.name}${version ? ` ${version}` : ''}`;
  return os.name ? strings(lang).browsers.on(name, os.name) : name;
}

/** How many pending invites /-/admin lists (the CLI's `invites` lists every one). */
export const PENDING_INVITES_SHOWN = 200;

export function adminUsersRouter(deps: RouterDeps): Router {
  const { config, db } = deps;
  const router = Router();
  const admin = [requireSignIn(deps), requireAdmin(deps)];

  router.get('/-/admin', ...admin, async (req, res) => {
    const { q, page } = parseQuery(listQuery, req);
    const { users, more } = await searchUsers(db, { q, page });
    const pending = await listPendingInvites(db, { limit: PENDING_INVITES_SHOWN });
    const href = (p: number) => `/-/admin?${new URLSearchParams({ ...(q ? { q } : {}), ...(p > 1 ? { page: String(p) } : {}) }).toString()}`;
    const shown = pageOf(deps.config, req, res);
    res.type('html').send(
      adminUsersPage({
        ...shown,
        q,
        users,
        previousHref: page > 1 ? href(page - 1) : null,
        nextHref: more ? href(page + 1) : null,
        defaultTtl: durationText(config.inviteTtlMs, shown.lang),
        gogsEmail: config.gogsAdminToken !== undefined,
        mailEmail: config.smtpUrl !== undefined,
        invites: pending.invites,
        moreInvites: pending.more,
      }),
    );
  });

  router.get('/-/admin/users/:username', ...admin, async (req, res) => {
    const name = String(req.params.username);
    let user = await findUserByUsername(db, name);
    if (!user) {
      // Invited, not enrolled yet: the audit log names them, and their invites can be managed here.
      const pending = await listPendingInvites(db, { username: name });
      const [first] = pending.invites;
      if (first) {
        res.type('html').send(adminInviteePage({ username: first.username, invites: pending.invites, ...pageOf(deps.config, req, res) }));
        return;
      }
      user = await requireUser(db, name); // 404, unless they enrolled just now
    }
    const invites = await listPendingInvites(db, { username: user.username });
    const credentials = await listCredentialsOfUser(db, user.id, { includeRevoked: true });
    const sessions = await listSessionsOfUser(db, user.id, deps.config);
    const nicknames = new Map(credentials.map((c) => [c.credentialId, c.nickname]));
    const page = pageOf(deps.config, req, res);
    res.type('html').send(
      adminUserPage({
        ...page,
        username: user.username,
        isAdmin: user.isAdmin,
        disabledAt: user.disabledAt,
        createdAt: user.createdAt,
        self: user.id === req.admin!.id,
        defaultTtl: durationText(config.inviteTtlMs, page.lang),
        credentials: credentials.map((c) => ({
          id: c.credentialId,
          nickname: c.nickname,
          model: deps.policy.modelName(c.aaguid, strings(page.lang)),
          kind: kindLabel(c, page.lang),
          createdAt: c.createdAt,
          lastUsedAt: c.lastUsedAt,
          lastUsedIp: c.lastUsedIp,
          lastUsedBrowser: describeBrowser(c.lastUsedUserAgent, page.lang),
          revokedAt: c.revokedAt,
          removedByOwner: c.removedByOwner,
          policyProblems: deps.policy.violations(storedFacts(c), { admin: user.isAdmin }, 'sign-in').map((v) => v.said(strings(page.lang))),
        })),
        sessions: sessions.map((s) => ({ ...s, device: nicknames.get(s.credentialId) ?? null })),
        invites: invites.invites,
      }),
    );
  });

  return router;
}

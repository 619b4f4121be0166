/**
 * The admin API (POST under /-/api/admin/): invites (made, revoked, re-issued), revocation,
 * disabling, enabling and ending sessions. Every action needs a signed-in admin (checked against the database) and a fresh
 * step-up. Each calls the same function as the CLI, so both write the same audit events; the
 * actor row carries the admin, their IP, browser and the request id.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { RouterDeps } from '../deps.js';
import { userActor } from '../audit/actor.js';
import { parseDuration } from '../config.js';
import { isValidInviteTtl } from '../enrollment/limits.js';
import { endDevice } from '../devices/actions.js';
import { INVITE_ID_PATTERN, InviteInputError, issueInvite, reissueInvite, revokeInvite } from '../enrollment/invites.js';
import { AppError, badRequest } from '../errors.js';
import { notifyRecoveryLink, notifyRevoked } from '../mail/notify.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { say, validateBody } from '../http/validate.js';
import { signOut } from '../session/auth.js';
import { sessionCookieOptions } from '../session/cookie.js';
import { sessionKey } from '../session/key.js';
import { expireGogsSession } from '../session/gogs-cookie.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { requireStepUp } from '../stepup/require.js';
import { disableUser, enableUser, endAllSessions, endEveryonesSessions } from '../users/actions.js';
import { decodeCredentialId } from '../webauthn/credentials.js';
import { requireAdmin } from './require-admin.js';

const inviteBody = z
  .object({
    username: z
      .string({ error: say('enterUsername') })
      .trim()
      .min(1, say('enterUsername'))
      .max(35, say('gogsUsernameLength')),
    admin: z.boolean({ error: say('trueOrFalse') }).optional(),
    ttl: z
      .string({ error: say('durationLike') })
      .trim()
      .max(16, say('durationLike'))
      .optional(),
    // Used only with GOGS_ADMIN_TOKEN, to create a missing Gogs account.
    email: z
      .string({ error: say('emailAddress') })
      .trim()
      .max(254, say('emailLength'))
      .optional(),
  })
  .strict();
const revokeBody = z.object({ reason: z.string().trim().max(200, say('reasonLength')).optional() }).strict();
const noBody = z.object({}).strict();

/** An invite lifetime from the form ("" or absent: the configured INVITE_TTL). */
function inviteTtl(ttl: string | undefined): number | undefined {
  if (!ttl) return undefined;
  const ms = parseDuration(ttl);
  if (ms === undefined) throw badRequest((t) => t.adminErrors.notADuration(ttl), 'invalid_ttl');
  if (!isValidInviteTtl(ms)) throw badRequest((t) => t.adminErrors.inviteTtl, 'invalid_ttl');
  return ms;
}

function credentialParam(req: Request): string {
  const id = String(req.params.credentialId);
  if (!decodeCredentialId(id)) throw badRequest((t) => t.adminErrors.notACredentialId, 'invalid_credential_id');
  return id;
}

const usernameParam = (req: Request) => String(req.params.username);

function inviteParam(req: Request): string {
  const id = String(req.params.inviteId);
  if (!INVITE_ID_PATTERN.test(id)) throw badRequest((t) => t.adminErrors.notAnInviteId, 'invalid_invite_id');
  return id;
}

export function adminApiRouter(deps: RouterDeps): Router {
  const { config, db, sessionCache } = deps;
  const router = Router();
  const guard = [requireSignIn(deps), requireAdmin(deps), requireStepUp(deps)];
  const actor = (req: Request) => userActor(req.admin!, requestContext(req));

  /**
   * This instance forgets the ended sessions at once (others hear through NOTIFY). If the admin
   * ended their own session, it is destroyed here too, or express-session would write it back
   * when this response ends.
   */
  async function ended(req: Request, res: Response, keys: string[]): Promise<{ sessionsEnded: number; signedOut: boolean }> {
    sessionCache.forgetAll(keys);
    const signedOut = keys.includes(sessionKey(req.sessionID));
    if (signedOut) {
      await signOut(req);
      res.clearCookie(config.sessionCookieName, sessionCookieOptions(config));
      expireGogsSession(res, config);
    }
    return { sessionsEnded: keys.length, signedOut };
  }

  router.post('/-/api/admin/invites', ...guard, jsonBody, validateBody(inviteBody), async (req, res) => {
    const body = req.body as z.infer<typeof inviteBody>;
    const ttlMs = inviteTtl(body.ttl);
    try {
      const by = actor(req);
      const created = await issueInvite(db, config, { username: body.username, grantsAdmin: body.admin ?? false, ttlMs, email: body.email || undefined }, by);
      notifyRecoveryLink(deps.mail, created, by);
      // The link exists only in this answer: the database keeps the token's hash.
      res.json({
        url: created.url,
        expiresAt: created.invite.expiresAt.toISOString(),
        recovery: created.invite.userId !== null,
        username: created.invite.username,
        admin: created.invite.grantsAdmin,
        // Only when GOGS_ADMIN_TOKEN is set: 'exists' or 'created'.
        ...(created.gogsAccount === 'not_checked' ? {} : { gogsAccount: created.gogsAccount }),
      });
    } catch (err) {
      if (err instanceof InviteInputError) throw badRequest(err.said, 'invalid_invite');
      throw err;
    }
  });

  // Revoking or re-issuing an invite that is no longer pending is a 409 that says why (used, revoked, expired).
  router.post('/-/api/admin/invites/:inviteId/revoke', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    const revoked = await revokeInvite(db, inviteParam(req), actor(req));
    res.json({ ok: true, id: revoked.id, username: revoked.username });
  });

  router.post('/-/api/admin/invites/:inviteId/reissue', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    const by = actor(req);
    const { revoked, created } = await reissueInvite(db, config, inviteParam(req), {}, by);
    notifyRecoveryLink(deps.mail, created, by);
    // As for a new invite, the link exists only in this answer.
    res.json({
      url: created.url,
      id: created.invite.id,
      replaces: revoked.id,
      createdBy: created.invite.createdBy,
      createdAt: created.invite.createdAt.toISOString(),
      expiresAt: created.invite.expiresAt.toISOString(),
      recovery: created.invite.userId !== null,
      username: created.invite.username,
      admin: created.invite.grantsAdmin,
    });
  });

  router.post('/-/api/admin/credentials/:credentialId/revoke', ...guard, jsonBody, validateBody(revokeBody), async (req, res) => {
    const { reason } = req.body as z.infer<typeof revokeBody>;
    const by = actor(req);
    const result = await endDevice(db, credentialParam(req), by, { event: 'credential_revoked', reason: reason || undefined });
    notifyRevoked(deps.mail, result, by, reason || undefined);
    const { sessionsEnded, signedOut } = await ended(req, res, result.endedSessionIds);
    res.json({ ok: true, credentialId: result.credential.credentialId, nickname: result.credential.nickname, sessionsEnded, signedOut });
  });

  router.post('/-/api/admin/users/:username/disable', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    // An admin locking themselves out from the page is always a slip; the CLI can still do it.
    if (usernameParam(req).toLowerCase() === req.admin!.username.toLowerCase()) {
      throw new AppError('cannot_disable_self', 409, (t) => t.adminErrors.cannotDisableSelf);
    }
    const result = await disableUser(db, usernameParam(req), actor(req));
    res.json({ ok: true, username: result.user.username, ...(await ended(req, res, result.endedSessionIds)) });
  });

  router.post('/-/api/admin/users/:username/enable', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    const user = await enableUser(db, usernameParam(req), actor(req));
    res.json({ ok: true, username: user.username });
  });

  router.post('/-/api/admin/users/:username/end-sessions', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    const result = await endAllSessions(db, usernameParam(req), actor(req));
    res.json({ ok: true, username: result.user.username, ...(await ended(req, res, result.endedSessionIds)) });
  });

  router.post('/-/api/admin/sessions/end-all', ...guard, jsonBody, validateBody(noBody), async (req, res) => {
    const result = await endEveryonesSessions(db, actor(req), sessionKey(req.sessionID));
    res.json({ ok: true, ...(await ended(req, res, result.endedSessionIds)) });
  });

  return router;
}

/**
 * Enrolment from a one-time invite: /-/enroll/<token> shows the page, the JSON endpoints run the
 * registration ceremony, and the person is signed in with the new key.
 */
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { enrollPage } from '../../web/pages/enroll.js';
import { messagePage } from '../../web/pages/message.js';
import type { RouterDeps } from '../deps.js';
import { recordEvent } from '../audit/record.js';
import { auditUnreadableBody } from '../audit/unreadable-body.js';
import { AppError } from '../errors.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { validateBody } from '../http/validate.js';
import { signIn } from '../session/auth.js';
import { expireGogsSession } from '../session/gogs-cookie.js';
import { findUserById, findUserByUsername, newUserHandle } from '../users/users.js';
import { consumeCeremony, startCeremony } from '../webauthn/ceremony.js';
import { listCredentialsOfUser } from '../webauthn/credentials.js';
import { CeremonyFailure } from '../webauthn/failures.js';
import { registrationOptions } from '../webauthn/options.js';
import { verifyRegistration } from '../webauthn/register.js';
import { registrationResponseSchema } from '../webauthn/responses.js';
import { cleanNickname } from '../webauthn/store.js';
import { findInvite, INVITE_STATUS, type InviteState } from './invites.js';
import { inviteProblem, redeemInvite } from './redeem.js';
import { pageOf } from '../http/site.js';
import { strings } from '../../web/i18n/index.js';

const tokenSchema = z.string().min(1).max(128);
const optionsBody = z.object({ token: tokenSchema });
const verifyBody = z.object({ token: tokenSchema, response: registrationResponseSchema, nickname: z.string().max(200).optional() });

export function enrollmentRouter(deps: RouterDeps): Router {
  const { config, db, policy, limits } = deps;
  const router = Router();

  router.get('/-/enroll/:token', limits.perIp('/-/enroll'), async (req, res) => {
    const { state, invite } = await findInvite(db, String(req.params.token));
    // The token is a credential: never let it leak through the Referer header.
    res.set('Referrer-Policy', 'no-referrer');
    const page = pageOf(config, req, res);
    if (state !== 'valid' || !invite) {
      const problem = state as Exclude<InviteState, 'valid'>;
      const t = strings(page.lang);
      res
        .status(INVITE_STATUS[problem])
        .type('html')
        .send(messagePage({ ...t.invite[problem], action: { href: '/-/login', label: t.actions.goToSignIn }, ...page }));
      return;
    }
    const existing = invite.userId ? await findUserById(db, invite.userId) : null;
    const requirements = policy.requirements({ admin: invite.grantsAdmin || Boolean(existing?.isAdmin) }, strings(page.lang));
    res.type('html').send(
      enrollPage({
        token: String(req.params.token),
        username: invite.username,
        recovery: invite.userId !== null,
        rpName: config.rpName,
        requirements,
        ...page,
      }),
    );
  });

  router.post('/-/api/enroll/options', limits.perIp('/-/api/enroll'), jsonBody, validateBody(optionsBody), async (req, res) => {
    const { token } = req.body as z.infer<typeof optionsBody>;
    const { state, invite } = await findInvite(db, token);
    if (state !== 'valid' || !invite) throw inviteProblem(state as Exclude<InviteState, 'valid'>);
    const user = invite.userId ? await findUserById(db, invite.userId) : await findUserByUsername(db, invite.username);
    if (user?.disabledAt) throw new AppError('user_disabled', 403, (t) => t.errors.accountDisabled);
    const userHandle = user?.userHandle ?? newUserHandle();
    const existing = user ? await listCredentialsOfUser(db, user.id, { includeRevoked: true }) : [];
    // Said before the key is touched, not after: a recovery link cannot take someone past the limit.
    const limit = policy.credentialLimit(existing.filter((c) => !c.revokedAt).length);
    if (limit) throw new CeremonyFailure(limit.reason, undefined, 403, limit.said);
    const options = await registrationOptions(config, policy, { username: user?.username ?? invite.username, userHandle }, existing);
    startCeremony(req, {
      purpose: 'enroll',
      challenge: options.challenge,
      expiresAt: Date.now() + config.ceremonyTimeoutMs,
      inviteId: invite.id,
      userId: user?.id,
      username: user?.username ?? invite.username,
      userHandle: userHandle.toString('base64url'),
    });
    res.json(options);
  });

  router.post(
    '/-/api/enroll/verify',
    limits.perIp('/-/api/enroll'),
    jsonBody,
    auditUnreadableBody(db, 'invite_redeemed'),
    async (req: Request, res: Response) => {
      const ctx = requestContext(req);
      let inviteUsername: string | undefined;
      try {
        const ceremony = await consumeCeremony(db, req, 'enroll');
        inviteUsername = ceremony.username;
        const parsed = verifyBody.safeParse(req.body);
        if (!parsed.success) throw new CeremonyFailure('malformed_response', parsed.error);
        const response = parsed.data.response as RegistrationResponseJSON;
        const { credential: verified, userVerified, facts } = await verifyRegistration(config, policy, ceremony, response);

        const { user, credential, recovery } = await redeemInvite(db, policy, {
          token: parsed.data.token,
          ceremony,
          verified,
          facts,
          nickname: cleanNickname(parsed.data.nickname, response),
          ctx,
        });
        deps.mail.notify(user.id, { kind: 'key_added', at: new Date(), keyName: credential.nickname, via: recovery ? 'recovery' : 'invite', from: ctx });
        if (!(await signIn(req, { userId: user.id, username: user.username, credentialId: credential.credentialId }, userVerified))) {
          // The key is stored, but it was revoked (or the person disabled) before the session could start.
          throw new CeremonyFailure('access_ended', undefined, 403);
        }
        expireGogsSession(res, config);
        // The next steps first (a backup key, git access), then on to Gogs.
        res.json({ ok: true, redirect: '/-/welcome' });
      } catch (err) {
        const reason = err instanceof CeremonyFailure ? err.reason : err instanceof AppError ? err.code : 'internal';
        await recordEvent(db, { event: 'invite_redeemed', outcome: 'failure', actor: 'anonymous', subjectUsername: inviteUsername, reason, ...ctx });
        throw err;
      }
    },
  );

  return router;
}

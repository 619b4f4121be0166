/**
 * Enrolment from a one-time invite: /-/enroll/<token> shows the page, the JSON endpoints run the
 * registration ceremony, and the person is signed in with the new key.
 */
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Router } from 'express';
import { z } from 'zod';
import { enrollPage } from '../../web/pages/enroll.js';
import { messagePage } from '../../web/pages/message.js';
import type { RouterDeps } from '../deps.js';
import { recordEvent } from '../audit/record.js';
import { withTransaction } from '../db/pool.js';
import { AppError } from '../errors.js';
import { requestContext } from '../http/context.js';
import { validateBody } from '../http/validate.js';
import { signIn } from '../session/auth.js';
import { expireGogsSession } from '../session/gogs-cookie.js';
import { createOrGetUser, findUserById, findUserByUsername, grantAdmin, newUserHandle } from '../users/users.js';
import { CeremonyError, consumeCeremony, startCeremony } from '../webauthn/ceremony.js';
import { countActiveCredentials, listCredentialsOfUser } from '../webauthn/credentials.js';
import { CeremonyFailure } from '../webauthn/failures.js';
import { registrationOptions } from '../webauthn/options.js';
import { enforceRegistrationPolicy, verifyRegistration } from '../webauthn/register.js';
import { registrationResponseSchema } from '../webauthn/responses.js';
import { cleanNickname, storeCredential } from '../webauthn/store.js';
import { findInvite, INVITE_MESSAGES, markInviteUsed, type InviteState } from './invites.js';

const tokenSchema = z.string().min(1).max(128);
const optionsBody = z.object({ token: tokenSchema });
const verifyBody = z.object({ token: tokenSchema, response: registrationResponseSchema, nickname: z.string().max(200).optional() });

function inviteProblem(state: Exclude<InviteState, 'valid'>): AppError {
  const m = INVITE_MESSAGES[state];
  return new AppError(`invite_${state}`, m.status, `${m.title}. ${m.message}`);
}

export function enrollmentRouter(deps: RouterDeps): Router {
  const { config, db, policy } = deps;
  const router = Router();

  router.get('/-/enroll/:token', async (req, res) => {
    const { state, invite } = await findInvite(db, String(req.params.token));
    // The token is a credential: never let it leak through the Referer header.
    res.set('Referrer-Policy', 'no-referrer');
    if (state !== 'valid' || !invite) {
      const m = INVITE_MESSAGES[state as Exclude<InviteState, 'valid'>];
      res.status(m.status).type('html').send(messagePage({ title: m.title, message: m.message, action: { href: '/-/login', label: 'Go to sign-in' } }));
      return;
    }
    const existing = invite.userId ? await findUserById(db, invite.userId) : null;
    const requirements = policy.requirements({ admin: invite.grantsAdmin || Boolean(existing?.isAdmin) });
    res.type('html').send(enrollPage({ token: String(req.params.token), username: invite.username, recovery: invite.userId !== null, rpName: config.rpName, requirements }));
  });

  router.post('/-/api/enroll/options', validateBody(optionsBody), async (req, res) => {
    const { token } = req.body as z.infer<typeof optionsBody>;
    const { state, invite } = await findInvite(db, token);
    if (state !== 'valid' || !invite) throw inviteProblem(state as Exclude<InviteState, 'valid'>);
    const user = invite.userId ? await findUserById(db, invite.userId) : await findUserByUsername(db, invite.username);
    if (user?.disabledAt) throw new AppError('user_disabled', 403, 'This account is disabled. Ask your administrator.');
    const userHandle = user?.userHandle ?? newUserHandle();
    const existing = user ? await listCredentialsOfUser(db, user.id, { includeRevoked: true }) : [];
    // Said before the key is touched, not after: a recovery link cannot take someone past the limit.
    const limit = policy.credentialLimit(existing.filter((c) => !c.revokedAt).length);
    if (limit) throw new CeremonyFailure(limit.reason, undefined, 403, limit.message);
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

  router.post('/-/api/enroll/verify', async (req, res) => {
    const ctx = requestContext(req);
    let inviteUsername: string | undefined;
    try {
      const ceremony = await consumeCeremony(db, req, 'enroll');
      inviteUsername = ceremony.username;
      const parsed = verifyBody.safeParse(req.body);
      if (!parsed.success) throw new CeremonyFailure('malformed_response', parsed.error);
      const response = parsed.data.response as RegistrationResponseJSON;
      const { credential: verified, userVerified, facts } = await verifyRegistration(config, policy, ceremony, response);

      const { user, credential } = await withTransaction(db, async (tx) => {
        // The row lock serialises concurrent redemptions of one invite: exactly one stores a key.
        const { state, invite } = await findInvite(tx, parsed.data.token, { lock: true });
        if (state !== 'valid' || !invite) throw inviteProblem(state as Exclude<InviteState, 'valid'>);
        if (invite.id !== ceremony.inviteId) throw new CeremonyError('wrong_ceremony', 'This attempt does not match the enrolment link. Please reload the page and try again.');
        const handle = Buffer.from(ceremony.userHandle ?? '', 'base64url');
        const user = await createOrGetUser(tx, ceremony.username ?? invite.username, handle, invite.grantsAdmin);
        // The authenticator stored ceremony.userHandle; if someone else created this user meanwhile, they differ.
        if (!user.userHandle.equals(handle)) throw new AppError('enrolment_conflict', 409, 'This account changed while you were enrolling. Please reload the page and try again.');
        if (user.disabledAt) throw new AppError('user_disabled', 403, 'This account is disabled. Ask your administrator.');
        const active = await countActiveCredentials(tx, user.id, { lock: true });
        enforceRegistrationPolicy(policy, facts, { admin: user.isAdmin || invite.grantsAdmin }, active);
        if (invite.grantsAdmin && !user.isAdmin) await grantAdmin(tx, user.id);
        const credential = await storeCredential(tx, { ...verified, userId: user.id, nickname: cleanNickname(parsed.data.nickname, response) });
        await markInviteUsed(tx, invite.id, credential.id);
        const base = { actor: `user:${user.username}`, subjectUserId: user.id, subjectUsername: user.username, credentialId: credential.id, outcome: 'success' as const, ...ctx };
        await recordEvent(tx, { ...base, event: 'invite_redeemed', details: { inviteId: invite.id, recovery: invite.userId !== null } });
        await recordEvent(tx, { ...base, event: 'credential_registered', details: { nickname: credential.nickname, aaguid: credential.aaguid } });
        return { user, credential };
      });
      if (!(await signIn(req, { userId: user.id, username: user.username, credentialId: credential.credentialId }, userVerified))) {
        // The key is stored, but it was revoked (or the person disabled) before the session could start.
        throw new CeremonyFailure('access_ended', undefined, 403);
      }
      expireGogsSession(res, config);
      res.json({ ok: true, redirect: '/' });
    } catch (err) {
      const reason = err instanceof CeremonyFailure ? err.reason : err instanceof AppError ? err.code : 'internal';
      await recordEvent(db, { event: 'invite_redeemed', outcome: 'failure', actor: 'anonymous', subjectUsername: inviteUsername, reason, ...ctx });
      throw err;
    }
  });

  return router;
}

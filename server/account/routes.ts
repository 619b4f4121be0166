/**
 * A person's own devices at /-/account: the list, and adding another authenticator. Renaming and
 * removing are in devices.ts.
 */
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { accountPage, type AccountPageOptions } from '../../web/pages/account.js';
import type { RouterDeps } from '../deps.js';
import { requireStepUp } from '../stepup/require.js';
import { recordEvent } from '../audit/record.js';
import { auditUnreadableBody } from '../audit/unreadable-body.js';
import { withTransaction } from '../db/pool.js';
import { unauthorized } from '../errors.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { findUserById } from '../users/users.js';
import { consumeCeremony, startCeremony } from '../webauthn/ceremony.js';
import { countActiveCredentials, listCredentialsOfUser } from '../webauthn/credentials.js';
import { CeremonyFailure } from '../webauthn/failures.js';
import { registrationOptions } from '../webauthn/options.js';
import { enforceRegistrationPolicy, verifyRegistration } from '../webauthn/register.js';
import { registrationResponseSchema } from '../webauthn/responses.js';
import { cleanNickname, storeCredential } from '../webauthn/store.js';
import { accountDeviceRouter } from './devices.js';
import { accountSessionRouter, accountSessions } from './sessions.js';
import { welcomeRouter } from './welcome.js';
import { accountDevice } from './view.js';
import { pageOf } from '../http/site.js';
import { strings, type Lang } from '../../web/i18n/index.js';

const verifyBody = z.object({ response: registrationResponseSchema, nickname: z.string().max(200).optional() });

/**
 * What the page says first, from where the person came: a key was just added (with the offer to
 * sign out every other session, in case the key it backs up is lost), or sessions were signed out.
 */
function accountNotice(query: Request['query'], lang: Lang): AccountPageOptions['notice'] {
  const t = strings(lang).account;
  if (query.added !== undefined) return { text: t.keyAddedNotice, offerEndOthers: true };
  const ended = typeof query.ended === 'string' && /^\d{1,6}$/.test(query.ended) ? Number(query.ended) : undefined;
  if (ended === undefined) return undefined;
  if (ended === 0) return { text: t.noOtherSession };
  return { text: t.signedOutOthers(ended) };
}

export function accountRouter(deps: RouterDeps): Router {
  const { config, db, limits } = deps;
  const router = Router();
  const signedIn = requireSignIn(deps);
  // Credential changes need a fresh, user-verified assertion (ASVS 7.5.1).
  const freshlyVerified = requireStepUp(deps);

  router.get('/-/account', signedIn, async (req, res) => {
    const auth = req.auth!;
    const user = await findUserById(db, auth.userId);
    if (!user) throw unauthorized();
    const credentials = await listCredentialsOfUser(db, auth.userId);
    const page = pageOf(config, req, res);
    const sessions = await accountSessions(deps, req, auth.userId, page.lang);
    res.type('html').send(
      accountPage({
        ...page,
        username: auth.username,
        sessions,
        notice: accountNotice(req.query, page.lang),
        devices: credentials.map((c) => accountDevice(c, auth.credentialId, deps.policy, user.isAdmin, page.lang)),
        // For the WebAuthn Signal API (web/client/signal.ts).
        rpId: config.rpId,
        userHandle: user.userHandle.toString('base64url'),
        isAdmin: user.isAdmin,
        requirements: deps.policy.requirements({ admin: user.isAdmin }, strings(page.lang)),
      }),
    );
  });

  router.post('/-/api/account/devices/options', limits.perIp('/-/api/account/devices'), jsonBody, signedIn, freshlyVerified, async (req, res) => {
    const auth = req.auth!;
    const user = await findUserById(db, auth.userId);
    if (!user) throw unauthorized();
    const existing = await listCredentialsOfUser(db, user.id, { includeRevoked: true });
    const limit = deps.policy.credentialLimit(existing.filter((c) => !c.revokedAt).length);
    if (limit) throw new CeremonyFailure(limit.reason, undefined, 403, limit.said);
    const options = await registrationOptions(config, deps.policy, user, existing);
    startCeremony(req, {
      purpose: 'add-device',
      challenge: options.challenge,
      expiresAt: Date.now() + config.ceremonyTimeoutMs,
      userId: user.id,
      username: user.username,
      userHandle: user.userHandle.toString('base64url'),
    });
    res.json(options);
  });

  router.post(
    '/-/api/account/devices/verify',
    limits.perIp('/-/api/account/devices'),
    jsonBody,
    auditUnreadableBody(db, 'credential_registered'),
    signedIn,
    async (req: Request, res: Response) => {
      const auth = req.auth!;
      const ctx = requestContext(req);
      const base = {
        event: 'credential_registered' as const,
        actor: `user:${auth.username}`,
        subjectUserId: auth.userId,
        subjectUsername: auth.username,
        ...ctx,
      };
      try {
        const ceremony = await consumeCeremony(db, req, 'add-device');
        if (ceremony.userId !== auth.userId) throw new CeremonyFailure('wrong_ceremony');
        const parsed = verifyBody.safeParse(req.body);
        if (!parsed.success) throw new CeremonyFailure('malformed_response', parsed.error);
        const response = parsed.data.response as RegistrationResponseJSON;
        const { credential: verified, facts } = await verifyRegistration(config, deps.policy, ceremony, response);
        const credential = await withTransaction(db, async (tx) => {
          const owner = await findUserById(tx, auth.userId);
          if (!owner || owner.disabledAt) throw unauthorized();
          enforceRegistrationPolicy(deps.policy, facts, { admin: owner.isAdmin }, await countActiveCredentials(tx, owner.id, { lock: true }));
          const stored = await storeCredential(tx, { ...verified, userId: auth.userId, nickname: cleanNickname(parsed.data.nickname, response) });
          await recordEvent(tx, { ...base, outcome: 'success', credentialId: stored.id, details: { nickname: stored.nickname, aaguid: stored.aaguid } });
          return stored;
        });
        deps.mail.notify(auth.userId, { kind: 'key_added', at: new Date(), keyName: credential.nickname, via: 'account', from: ctx });
        res.json({ ok: true, credentialId: credential.credentialId });
      } catch (err) {
        const reason = err instanceof CeremonyFailure ? err.reason : ((err as { code?: string }).code ?? 'internal');
        await recordEvent(db, { ...base, outcome: 'failure', reason });
        throw err;
      }
    },
  );

  router.use(accountDeviceRouter(deps));
  router.use(accountSessionRouter(deps));
  router.use(welcomeRouter(deps));
  return router;
}

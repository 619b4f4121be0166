/**
 * The step-up ceremony: a fresh assertion, with user verification whatever USER_VERIFICATION
 * says, from one of the signed-in person's own credentials.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { requireSignIn } from '../session/require-sign-in.js';
import type { RouterDeps } from '../deps.js';
import { recordEvent } from '../audit/record.js';
import { auditUnreadableBody } from '../audit/unreadable-body.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { consumeCeremony, startCeremony } from '../webauthn/ceremony.js';
import { listCredentialsOfUser } from '../webauthn/credentials.js';
import { generateAuthenticationOptions } from '@simplewebauthn/server';
import type { AuthenticatorTransport } from '@simplewebauthn/server';
import { SignInFailure, verifySignIn } from '../webauthn/authenticate.js';
import { CeremonyFailure } from '../webauthn/failures.js';
import { authenticationResponseSchema } from '../webauthn/responses.js';

const verifyBody = z.object({ response: authenticationResponseSchema });

export function stepUpRouter(deps: RouterDeps): Router {
  const { config, db, limits } = deps;
  const router = Router();
  const signedIn = requireSignIn(deps);

  router.post('/-/api/step-up/options', limits.perIp('/-/api/step-up'), jsonBody, signedIn, async (req, res) => {
    const auth = req.auth!;
    const credentials = await listCredentialsOfUser(db, auth.userId);
    const options = await generateAuthenticationOptions({
      rpID: config.rpId,
      timeout: config.ceremonyTimeoutMs,
      userVerification: 'required',
      allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })),
    });
    startCeremony(req, {
      purpose: 'step-up',
      challenge: options.challenge,
      expiresAt: Date.now() + config.ceremonyTimeoutMs,
      userId: auth.userId,
      allowCredentialIds: credentials.map((c) => c.credentialId),
    });
    res.json(options);
  });

  router.post(
    '/-/api/step-up/verify',
    limits.perIp('/-/api/step-up'),
    jsonBody,
    auditUnreadableBody(db, 'step_up_failed'),
    signedIn,
    async (req: Request, res: Response) => {
      const auth = req.auth!;
      const ctx = requestContext(req);
      const base = { actor: `user:${auth.username}`, subjectUserId: auth.userId, subjectUsername: auth.username, ...ctx };
      try {
        const ceremony = await consumeCeremony(db, req, 'step-up');
        const parsed = verifyBody.safeParse(req.body);
        if (!parsed.success) throw new CeremonyFailure('malformed_response', parsed.error);
        const { user, credential } = await verifySignIn(db, config, deps.policy, ceremony, parsed.data.response, ctx, { requireUserVerification: true });
        // The ceremony offered only this person's keys; check the owner all the same.
        if (user.id !== auth.userId) throw new SignInFailure('not_allowed_credential', user, credential);
        req.session.stepUpAt = Date.now();
        await recordEvent(db, { ...base, event: 'step_up_passed', outcome: 'success', credentialId: credential.id });
        res.json({ ok: true });
      } catch (err) {
        const reason = err instanceof CeremonyFailure ? err.reason : ((err as { code?: string }).code ?? 'internal');
        await recordEvent(db, {
          ...base,
          event: 'step_up_failed',
          outcome: 'failure',
          reason,
          credentialId: err instanceof SignInFailure ? err.credential?.id : null,
        });
        throw err;
      }
    },
  );

  return router;
}

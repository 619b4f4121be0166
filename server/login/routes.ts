/**
 * Sign-in at /-/login, three ways: a discoverable credential (no username), username first (for
 * security keys without a resident credential), and passkey autofill (conditional mediation).
 * Sign-out at /-/logout.
 */
import type { IncomingMessage } from 'node:http';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { loginPage } from '../../web/pages/login.js';
import { logoutPage } from '../../web/pages/logout.js';
import type { RouterDeps } from '../deps.js';
import { recordEvent, type AuditEvent } from '../audit/record.js';
import { auditUnreadableBody } from '../audit/unreadable-body.js';
import { requestContext } from '../http/context.js';
import { jsonBody } from '../http/json-body.js';
import { safeReturnPath } from '../http/return-path.js';
import { DecoyCredentials } from './decoy.js';
import { validateBody } from '../http/validate.js';
import { currentAuth, signIn, signOut } from '../session/auth.js';
import { sessionEndNotice } from '../session/end-reasons.js';
import { sessionCookieOptions } from '../session/cookie.js';
import type { SessionMiddleware } from '../session/middleware.js';
import { expireGogsSession } from '../session/gogs-cookie.js';
import { findUserByUsername, isValidUsername } from '../users/users.js';
import { consumeCeremony, CeremonyError, startCeremony, tookLiveCeremony } from '../webauthn/ceremony.js';
import { authenticationOptions } from '../webauthn/options.js';
import { credentialReadAtLoad, decodeCredentialId, findCredentialWithOwner, listCredentialsOfUser } from '../webauthn/credentials.js';
import { SignInFailure, verifySignIn } from '../webauthn/authenticate.js';
import { CeremonyFailure } from '../webauthn/failures.js';
import { authenticationResponseSchema } from '../webauthn/responses.js';
import { pageOf } from '../http/site.js';
import { strings } from '../../web/i18n/index.js';

const optionsBody = z.object({
  username: z.string().trim().max(64).optional(),
  mode: z.enum(['modal', 'conditional']).optional(),
});

const verifyBody = z.object({
  response: authenticationResponseSchema,
  returnTo: z.string().max(2048).optional(),
});

/** Sign-in options without a typed name (a passkey): the body names nobody. */
function noTypedName(req: Request): boolean {
  const typed = (req.body as { username?: unknown } | undefined)?.username;
  return typeof typed !== 'string' || typed.trim() === '';
}

/**
 * Sign-in's verify consumes its ceremony before anything else, so its session's load takes the
 * ceremony from the row, and reads the key the body names, in one statement (session/middleware.ts,
 * takingCeremony).
 */
export function takesLoginCeremony(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url === '/-/api/login/verify';
}

export function loginRouter(deps: RouterDeps, sessions: SessionMiddleware): Router {
  const { config, db, limits } = deps;
  const router = Router();
  const decoys = new DecoyCredentials(db, deps.secret);

  router.get('/-/login', async (req, res) => {
    const returnTo = safeReturnPath(req.query.return_to, config.origin);
    if (await currentAuth(req, config)) {
      res.redirect(303, returnTo);
      return;
    }
    // A session that ended elsewhere (revoked, removed, disabled, timed out…) says why, once: the
    // cookie that names it is cleared with this page.
    let ended = await sessionEndNotice(db, config, deps.secret, req.headers.cookie);
    if (ended) res.clearCookie(config.sessionCookieName, sessionCookieOptions(config));
    else if (req.query.signed_out !== undefined) ended = 'signed_out';
    const page = pageOf(config, req, res);
    const notice = ended && strings(page.lang).sessionEnded[ended];
    res.type('html').send(loginPage({ returnTo, rpName: config.rpName, rpId: config.rpId, notice, ...page }));
  });

  // Options with a typed name pay the address's point first thing, before the name's lookups. Those
  // without one (a passkey, no name) read nothing, and pay it in the statement that writes their
  // ceremony: one statement instead of two (ratelimit/limits.ts, takeAddressWritingRow).
  router.post(
    '/-/api/login/options',
    limits.perIpBeforeSignIn('/-/api/login'),
    jsonBody,
    limits.perIpUnless(noTypedName, '/-/api/login'),
    limits.perTypedUsername(),
    validateBody(optionsBody),
    async (req, res) => {
      const { username } = req.body as z.infer<typeof optionsBody>;
      let allow: Array<{ id: string; transports?: string[] }> | undefined;
      let userId: string | undefined;
      if (username) {
        const user = isValidUsername(username) ? await findUserByUsername(db, username) : null;
        const credentials = user && !user.disabledAt ? await listCredentialsOfUser(db, user.id) : [];
        userId = user?.id;
        // An unknown name (or one with no usable key) gets options of the same shape as a known one,
        // so the answer does not reveal whether the account exists (ASVS 6.3.8).
        allow = credentials.length > 0 ? credentials.map((c) => ({ id: c.credentialId, transports: c.transports })) : await decoys.forUsername(username);
      }
      const options = await authenticationOptions(config, allow ?? []);
      const before = { ceremony: req.session.ceremony, maxAge: req.session.cookie.maxAge };
      startCeremony(req, {
        purpose: 'login',
        challenge: options.challenge,
        expiresAt: Date.now() + config.ceremonyTimeoutMs,
        userId,
        allowCredentialIds: allow?.map((c) => c.id),
      });
      if (!username) {
        const refusal = await limits.takeAddressWritingRow(req, res, '/-/api/login', sessions.rowWrite(req));
        if (refusal) {
          // Refused: the session is left as it came (nothing for express-session to save).
          req.session.ceremony = before.ceremony;
          req.session.cookie.maxAge = before.maxAge;
          throw refusal;
        }
      }
      res.json(options);
    },
  );

  // The address's point is taken once the session is loaded, unless that load took a live sign-in
  // ceremony (its options paid for it); a verify that fails then counts after all, and a failed
  // sign-in also counts against the key's owner: past either limit the failure is answered 429
  // (limits.perFailedSignIn, the last handler here). A sign-in counts nothing more (ratelimit/limits.ts).
  router.post(
    '/-/api/login/verify',
    limits.perIpBeforeSignIn('/-/api/login'),
    jsonBody,
    ...sessions.takingCeremony((req) => decodeCredentialId((req.body as { response?: { rawId?: unknown } } | undefined)?.response?.rawId)),
    ...limits.perIpForVerify('/-/api/login', (req) => tookLiveCeremony(req, 'login')),
    auditUnreadableBody(db, 'sign_in'),
    async (req: Request, res: Response) => {
      const ctx = requestContext(req);
      const auditEvent = (
        outcome: 'success' | 'failure',
        extra: { reason?: string; userId?: string; username?: string; credentialId?: string; actor?: string },
      ): AuditEvent => ({
        event: 'sign_in',
        outcome,
        actor: extra.actor ?? 'anonymous',
        subjectUserId: extra.userId,
        subjectUsername: extra.username,
        credentialId: extra.credentialId,
        reason: extra.reason,
        ...ctx,
      });
      const audit = (outcome: 'success' | 'failure', extra: Parameters<typeof auditEvent>[1]) => recordEvent(db, auditEvent(outcome, extra));
      try {
        // The challenge is consumed before anything else: one attempt per challenge, pass or fail.
        // (Here the session's load has already taken it from the row: takesLoginCeremony.)
        const ceremony = await consumeCeremony(db, req, 'login');
        const parsed = verifyBody.safeParse(req.body);
        if (!parsed.success) throw new CeremonyFailure('malformed_response', parsed.error);
        const { user, credential, userVerified, use } = await verifySignIn(db, config, deps.policy, ceremony, parsed.data.response, ctx, {
          deferUse: true,
          readAtLoad: (rawId) => credentialReadAtLoad(req, rawId),
        });
        // One statement writes the sign-in whole: the key's counter and last use, the session, and
        // the success audit row, so the person is never signed in without a trace, and a key's use
        // is never recorded without its sign-in (docs/reliability.md, "kill -9 mid-sign-in").
        const success = auditEvent('success', { userId: user.id, username: user.username, credentialId: credential.id, actor: `user:${user.username}` });
        const who = { userId: user.id, username: user.username, credentialId: credential.credentialId };
        if (!(await signIn(req, who, userVerified, { audit: success, credentialUse: use }))) {
          // Nothing was written. Either the key was revoked or the person disabled while this
          // ceremony was in flight, or another sign-in with the same key moved its counter first.
          const now = await findCredentialWithOwner(db, Buffer.from(credential.credentialId, 'base64url'));
          const ended = !now || now.credential.revokedAt || now.user.disabledAt;
          throw new SignInFailure(ended ? 'access_ended' : 'concurrent_use', user, credential);
        }
        expireGogsSession(res, config);
        // Told by email only if this browser is new to the person (mail/new-browser.ts), judged after this answer.
        deps.mail.notify(user.id, { kind: 'new_browser', at: new Date(), keyName: credential.nickname, from: ctx, requestId: ctx.requestId });
        res.json({ ok: true, redirect: safeReturnPath(parsed.data.returnTo, config.origin) });
      } catch (err) {
        if (err instanceof SignInFailure) {
          await audit('failure', { reason: err.reason, userId: err.user?.id, username: err.user?.username, credentialId: err.credential?.id });
        } else if (err instanceof CeremonyFailure || err instanceof CeremonyError) {
          await audit('failure', { reason: err instanceof CeremonyFailure ? err.reason : err.code });
        }
        throw err;
      }
    },
    limits.perFailedSignIn('/-/api/login'),
  );

  router.get('/-/logout', (req, res) => {
    res.type('html').send(logoutPage(pageOf(config, req, res)));
  });

  router.post('/-/logout', async (req, res) => {
    const auth = req.session?.auth;
    await signOut(req);
    if (auth) {
      await recordEvent(db, {
        event: 'sign_out',
        outcome: 'success',
        actor: `user:${auth.username}`,
        subjectUserId: auth.userId,
        subjectUsername: auth.username,
        ...requestContext(req),
      });
    }
    res.clearCookie(config.sessionCookieName, sessionCookieOptions(config));
    expireGogsSession(res, config);
    res.redirect(303, '/-/login?signed_out');
  });

  return router;
}

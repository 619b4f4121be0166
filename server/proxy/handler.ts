/**
 * The lean path every Gogs page, asset, API call and git transfer takes: classify the path, find
 * the session, rewrite headers, stream. No Express here: its per-request machinery costs more than
 * the proxying itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messagePage } from '../../web/pages/message.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { assignRequestId } from '../http/context.js';
import { isSafeMethod, isSameOrigin } from '../http/same-origin.js';
import { endSession } from '../session/end.js';
import { gogsSessionExpiry } from '../session/gogs-cookie.js';
import type { SessionCache } from '../session/cache.js';
import type { IdentityResolver } from '../session/identity.js';
import type { Db } from '../db/pool.js';
import { createUpstream } from './forward.js';
import { createHeaderPlan, isEmptyPasswordBasic, upstreamHeaders } from './headers.js';
import { classifyPath, normalizePath } from './paths.js';

export interface ProxyDeps {
  config: Config;
  db: Db;
  log: Logger;
  resolveIdentity: IdentityResolver;
  sessionCache: SessionCache;
  /** Keygate's own pages (the Express app). */
  keygate: (req: IncomingMessage, res: ServerResponse) => void;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

function sendPage(res: ServerResponse, status: number, title: string, message: string, extra: Record<string, string | string[]> = {}): void {
  const body = messagePage({ title, message, action: { href: '/-/login', label: 'Go to sign-in' } });
  res.writeHead(status, { ...PAGE_HEADERS, ...extra, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function redirect(res: ServerResponse, location: string, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0, ...extra });
  res.end();
}

export function createProxyHandler(deps: ProxyDeps) {
  const { config, log, resolveIdentity } = deps;
  const upstream = createUpstream(config.gogsUrl);
  const plan = createHeaderPlan(config);
  const clearCookies = [
    `${config.sessionCookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${config.https ? '; Secure' : ''}`,
    gogsSessionExpiry(config),
  ];

  const unreachable = (res: ServerResponse) => (err: Error) => {
    log.warn({ err: err.message }, 'gogs unreachable');
    sendPage(res, 502, 'Gogs is unreachable', 'Keygate is running, but the Git service behind it did not answer. Try again in a moment; if it persists, tell your administrator.');
  };

  const forward = (req: IncomingMessage, res: ServerResponse, identity: string | null) => {
    if (isEmptyPasswordBasic(req.headers.authorization)) {
      req.resume();
      sendPage(res, 401, 'Sign-in needed', 'A password cannot be empty. For git and the API, use a Gogs access token as the password.', {
        'www-authenticate': 'Basic realm="."',
      });
      return;
    }
    const headers = upstreamHeaders(plan, req.headers, { ip: req.socket.remoteAddress, requestId: assignRequestId(req, config.trustProxy) }, identity);
    upstream.forward(req, res, headers, unreachable(res));
  };

  async function handleWithSession(req: IncomingMessage, res: ServerResponse, route: 'page' | 'gogs-logout'): Promise<void> {
    const identity = await resolveIdentity(req.headers.cookie);
    if (identity && !isSafeMethod(req.method) && !isSameOrigin(req, config.origin)) {
      sendPage(res, 403, 'Request refused', 'This request came from another site, so Keygate did not pass it on. If you meant to do this, go back to the page and try again.');
      return;
    }
    if (route === 'gogs-logout') {
      // Gogs' own sign-out ends the Keygate session too.
      if (identity) {
        await endSession(deps.db, identity.sid);
        deps.sessionCache.forget(identity.sid);
      }
      redirect(res, '/-/login?signed_out', { 'set-cookie': clearCookies });
      return;
    }
    if (!identity) {
      if (req.method === 'GET' || req.method === 'HEAD') {
        redirect(res, `/-/login?return_to=${encodeURIComponent(req.url ?? '/')}`);
      } else {
        sendPage(res, 401, 'Sign-in needed', 'Sign in with your security key or passkey first.');
      }
      return;
    }
    forward(req, res, identity.auth.username);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = normalizePath(req.url ?? '/');
    if (path === null) {
      sendPage(res, 400, 'Bad request', 'This address could not be understood.');
      return;
    }
    const route = classifyPath(path, req.method ?? 'GET');
    switch (route) {
      case 'keygate':
        deps.keygate(req, res);
        return;
      case 'blocked':
        // Gogs' password sign-in, sign-up, reset and activation never reach Gogs.
        req.resume();
        redirect(res, '/-/login');
        return;
      case 'passthrough':
        forward(req, res, null);
        return;
      default:
        handleWithSession(req, res, route).catch((err) => {
          // Fail closed: without the session store, nobody is let through.
          log.error({ err }, 'session lookup failed');
          if (!res.headersSent) sendPage(res, 503, 'Temporarily unavailable', 'Keygate cannot check your session right now. Try again in a moment.', { 'retry-after': '5' });
          else res.destroy();
        });
    }
  }

  return { handle, close: () => upstream.close() };
}

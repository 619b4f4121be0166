/**
 * The lean path every Gogs page, asset, API call and git transfer takes: classify the path, find
 * the session, rewrite headers, stream. No Express here: its per-request machinery costs more than
 * the proxying itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messagePage } from '../../web/pages/message.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { recordEvent } from '../audit/record.js';
import { declaresTooMuch, limitKeygateBody } from '../http/body-limit.js';
import { assignRequestId, peerAddress } from '../http/context.js';
import { isOwnNavigation, isSafeMethod, isSameOrigin } from '../http/same-origin.js';
import { endSession } from '../session/sql.js';
import { expiredCookie } from '../session/cookie.js';
import { gogsSessionExpiry } from '../session/gogs-cookie.js';
import type { SessionCache } from '../session/cache.js';
import type { Identity, IdentityResolver } from '../session/identity.js';
import type { Db } from '../db/pool.js';
import type { RouteKind } from '../ops/metrics.js';
import { rateLimitSubject } from '../ratelimit/client-address.js';
import { judgeAuthorization } from './authorization.js';
import type { AssetCache } from './asset-cache.js';
import { InFlightLimit } from './client-limits.js';
import { createUpstream, UnsendableRequest, UpstreamTimeout, type Upstream } from './forward.js';
import { rewriteSetCookies } from './gogs-session.js';
import { createHeaderPlan, upstreamHeaderList } from './headers.js';
import { changesStateOnGet, classifyPath, normalizePath } from './paths.js';
import { HSTS_VALUE, MESSAGE_PAGE_CSP } from './response-headers.js';
import { siteOf } from '../http/site.js';
import { languageFor, languageHeaders } from '../http/language.js';
import { strings, type Catalogue } from '../../web/i18n/index.js';

export interface ProxyDeps {
  config: Config;
  /** Keygate's session secret: keys the binding of Gogs' session cookie (gogs-session.ts). */
  secret: string;
  db: Db;
  log: Logger;
  resolveIdentity: IdentityResolver;
  sessionCache: SessionCache;
  /** The bodies of Gogs' static files (asset-cache.ts), or null: GOGS_ASSET_CACHE_MB=0. */
  assets: AssetCache | null;
  /** A Keygate request refused for its declared size before Express (audited for ceremonies). */
  onOversizedBody?: (req: IncomingMessage) => Promise<void>;
  /** Keygate's own pages (the Express app). */
  keygate: (req: IncomingMessage, res: ServerResponse) => void;
  /** Metrics and the debug access log of each request answered here (see ops/observe.ts). */
  observe?: (res: ServerResponse, kind: RouteKind) => void;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': MESSAGE_PAGE_CSP,
};

/** Set on a request whose client waits for "100 Continue" before sending its body. */
export const EXPECTS_CONTINUE = Symbol('keygate.expectsContinue');

/** What a page of the proxy's offers next: sign-in (the default), Gogs, or the same page again. */
type Next = 'sign-in' | 'gogs' | 'try-again' | 'account';

/** Where `next` leads, in words of `t`: the same page again only if it can be asked for again, else Gogs' start. */
function nextStep(req: IncomingMessage, next: Next, t: Catalogue['actions']): { href: string; label: string } {
  const url = req.url ?? '/';
  if (next === 'sign-in') return { href: '/-/login', label: t.goToSignIn };
  if (next === 'account') return { href: '/-/account', label: t.backToAccount };
  if (next === 'try-again' && (req.method === 'GET' || req.method === 'HEAD') && /^\/(?![/\\])/.test(url)) return { href: url, label: t.tryAgain };
  return { href: '/', label: t.backToGogs };
}

declare module 'node:http' {
  interface IncomingMessage {
    [EXPECTS_CONTINUE]?: boolean;
  }
}

export function createProxyHandler(deps: ProxyDeps) {
  const { config, log, resolveIdentity, observe } = deps;
  const plan = createHeaderPlan(config, deps.secret);
  const site = siteOf(config);
  const setCookies = (lines: string[], sid: string | null) => rewriteSetCookies(lines, plan.cookieRules, plan.binding, sid);
  const pool = {
    connectMs: config.gogsConnectTimeoutMs,
    responseMs: config.gogsResponseTimeoutMs,
    connections: config.gogsConnections,
    stalledBodyMs: config.clientBodyTimeoutMs,
    stalledReaderMs: config.clientSendTimeoutMs,
    localAddress: config.gogsSourceAddress,
  };
  // Two pools: signed-in pages never wait behind anonymous traffic (git, LFS, API without a
  // session), however much of it there is.
  // Gogs' static files are only ever reached signed in (anything but git, LFS and the API is).
  const signedInUpstream = createUpstream(config.gogsUrl, config.https, setCookies, pool, deps.assets);
  const passthroughUpstream = createUpstream(config.gogsUrl, config.https, setCookies, pool);
  const passthroughPerClient = new InFlightLimit(config.maxPassthroughPerClient);
  // Keygate's own answers on this path: nosniff always, HSTS under https (response-headers.ts).
  const security: Record<string, string> = config.https
    ? { 'x-content-type-options': 'nosniff', 'strict-transport-security': HSTS_VALUE }
    : { 'x-content-type-options': 'nosniff' };
  /**
   * One of the proxy's own pages, in the language the request asks for: only these negotiate,
   * never a request passed on to Gogs. `say` picks the title and the message from the catalogue.
   */
  const sendPage = (
    res: ServerResponse,
    status: number,
    say: (t: Catalogue) => { title: string; message: string },
    extra: Record<string, string | string[]> = {},
    next: Next = 'sign-in',
  ): void => {
    const lang = languageFor(res.req.headers['accept-language']);
    const t = strings(lang);
    const body = messagePage({ ...say(t), action: nextStep(res.req, next, t.actions), site, lang });
    // A client still waiting for "100 Continue" never sends its body here: the connection goes with the answer.
    const close = res.req[EXPECTS_CONTINUE] ? { connection: 'close' } : {};
    res.writeHead(status, { ...PAGE_HEADERS, ...security, ...languageHeaders(lang), ...extra, ...close, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  /** A signed-in browser's unsafe request from another site (the CSRF defence, http/same-origin.ts). */
  const refuseCrossSite = (res: ServerResponse): void =>
    sendPage(res, 403, (t) => ({ title: t.titles.requestRefused, message: t.proxy.crossSite }), {}, 'gogs');
  const redirect = (res: ServerResponse, location: string, extra: Record<string, string | string[]> = {}): void => {
    res.writeHead(303, {
      location,
      'cache-control': 'no-store',
      ...security,
      'content-length': 0,
      ...extra,
      ...(res.req[EXPECTS_CONTINUE] ? { connection: 'close' } : {}),
    });
    res.end();
  };
  const authorizationPolicy = { allowPasswords: config.allowGitPasswords };
  const clearCookies = [expiredCookie(config.sessionCookieName, config), gogsSessionExpiry(config)];

  const unreachable = (res: ServerResponse, err: Error): void => {
    if (err instanceof UnsendableRequest) {
      log.info({ err: err.message }, 'request not passed on');
      res.req.resume();
      sendPage(res, 400, (t) => ({ title: t.titles[400], message: t.proxy.cannotPassOn }));
      return;
    }
    if (err instanceof UpstreamTimeout) {
      log.warn({ phase: err.phase }, 'gogs too slow');
      sendPage(res, 504, (t) => ({ title: t.titles[504], message: t.proxy.gogsSlow }), {}, 'try-again');
      return;
    }
    log.warn({ err: err.message }, 'gogs unreachable');
    sendPage(res, 502, (t) => ({ title: t.titles[502], message: t.proxy.gogsUnreachable }), {}, 'try-again');
  };

  /**
   * Gogs sent a signed-in person to its own sign-in page: it has no account of that name (and no
   * auto-registration), or does not trust Keygate's address. A page that says so, instead of a
   * loop between the two sign-in pages; a warning, and one audit row per Keygate session.
   */
  const audited = new Set<string>();
  const gogsDoesNotKnow = (res: ServerResponse, identity: Identity): void => {
    const req = res.req;
    const username = identity.auth.username;
    if (!audited.has(identity.key)) {
      log.warn(
        { user: username, path: req.url },
        'gogs sent a signed-in person to its sign-in page: no Gogs account of that name, or Gogs does not trust this address',
      );
      if (audited.size >= 10_000) audited.clear();
      audited.add(identity.key);
      recordEvent(deps.db, {
        event: 'gogs_account_missing',
        outcome: 'failure',
        actor: `user:${username}`,
        subjectUserId: identity.auth.userId,
        subjectUsername: username,
        ip: peerAddress(req, config.trustProxy),
        userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
        requestId: assignRequestId(req, config.trustProxy),
        details: { path: req.url?.slice(0, 512) ?? null },
      }).catch((err: unknown) => log.error({ err }, 'could not audit gogs_account_missing'));
    }
    sendPage(res, 403, (t) => ({ title: t.titles.gogsAccountMissing, message: t.proxy.gogsAccountMissing(username) }), {}, 'account');
  };

  const send = (req: IncomingMessage, res: ServerResponse, upstream: Upstream, identity: Identity | null, authorization: string | undefined): void => {
    if (req[EXPECTS_CONTINUE]) res.writeContinue();
    const keygateSid = identity?.key ?? null;
    const headers = upstreamHeaderList(
      plan,
      req.headers,
      { ip: peerAddress(req, config.trustProxy) ?? undefined, requestId: assignRequestId(req, config.trustProxy) },
      { identity: identity?.auth.username ?? null, keygateSid, authorization },
    );
    upstream.forward(req, res, headers, unreachable, keygateSid, identity ? (r) => gogsDoesNotKnow(r, identity) : null);
  };

  /** Git, LFS and the API: Gogs authenticates them itself, from credentials Keygate rebuilt. */
  const passThrough = (req: IncomingMessage, res: ServerResponse): void => {
    // Passwords stay out of git and the API: by default only an access token gets through, and
    // Gogs reads only what Keygate understood (authorization.ts).
    const verdict = judgeAuthorization(req.headers.authorization, authorizationPolicy);
    if (!verdict.ok) {
      req.resume();
      sendPage(res, 401, (t) => ({ title: t.titles[401], message: t.proxy.authorization[verdict.reason] }), { 'www-authenticate': 'Basic realm="."' });
      return;
    }
    if (!passthroughPerClient.enter(rateLimitSubject(peerAddress(req, config.trustProxy) ?? ''), res)) {
      req.resume();
      sendPage(res, 429, (t) => ({ title: t.titles.tooManyRequests, message: t.proxy.tooManyInFlight }), { 'retry-after': '5' });
      return;
    }
    send(req, res, passthroughUpstream, null, verdict.header);
  };

  async function handleWithSession(req: IncomingMessage, res: ServerResponse, route: 'page' | 'gogs-logout', path: string): Promise<void> {
    const identity = await resolveIdentity(req.headers.cookie);
    if (route === 'page') {
      servePage(req, res, identity, path);
      return;
    }
    if (identity && !isSafeMethod(req.method) && !isSameOrigin(req, config.origin)) {
      refuseCrossSite(res);
      return;
    }
    // Gogs' own sign-out ends the Keygate session too.
    if (identity) {
      await endSession(deps.db, identity.key, 'signed_out');
      deps.sessionCache.forget(identity.key);
      const { auth } = identity;
      await recordEvent(deps.db, {
        event: 'sign_out',
        outcome: 'success',
        actor: `user:${auth.username}`,
        subjectUserId: auth.userId,
        subjectUsername: auth.username,
        ip: peerAddress(req, config.trustProxy),
        userAgent: req.headers['user-agent'] ?? null,
        requestId: assignRequestId(req, config.trustProxy),
        details: { via: 'gogs' },
      });
    }
    redirect(res, '/-/login?signed_out', { 'set-cookie': clearCookies });
  }

  /** A Gogs page: only for a signed-in session, and unsafe methods only from Keygate's origin. */
  function servePage(req: IncomingMessage, res: ServerResponse, identity: Identity | null, path: string): void {
    if (identity && !isSafeMethod(req.method) && !isSameOrigin(req, config.origin)) {
      refuseCrossSite(res);
      return;
    }
    if (identity && changesStateOnGet(path) && !isOwnNavigation(req, config.origin)) {
      // A link from another site to a Gogs GET that changes something: the person confirms first.
      req.resume();
      const lang = languageFor(req.headers['accept-language']);
      const t = strings(lang);
      const body = messagePage({
        site,
        lang,
        title: t.titles.continueToGogs,
        message: t.proxy.followedLink(path),
        // The same request again, from this page; never a link that leaves the origin (`//host`).
        action: { href: /^\/(?![/\\])/.test(req.url ?? '') ? req.url! : path, label: t.actions.continue },
      });
      res.writeHead(200, { ...PAGE_HEADERS, ...security, ...languageHeaders(lang), 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (!identity) {
      if (req.method === 'GET' || req.method === 'HEAD') {
        redirect(res, `/-/login?return_to=${encodeURIComponent(req.url ?? '/')}`);
      } else {
        sendPage(res, 401, (t) => ({ title: t.titles[401], message: t.proxy.signInFirst }));
      }
      return;
    }
    // A signed-in page: Keygate asserts who this is; the browser's Authorization means nothing here.
    send(req, res, signedInUpstream, identity, undefined);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    // A pipelined request's response waits for those before it on the connection. Until it owns
    // the socket nothing is forwarded or counted: a client that leaves meanwhile never gets a
    // 'close' for it, and a request sent to Gogs for it would hold a pooled connection for good.
    if (!res.socket) {
      res.once('socket', () => handle(req, res));
      return;
    }
    const path = normalizePath(req.url ?? '/');
    if (path === null) {
      observe?.(res, 'blocked');
      sendPage(res, 400, (t) => ({ title: t.titles[400], message: t.proxy.badAddress }));
      return;
    }
    const route = classifyPath(path, req.method ?? 'GET');
    // "Expect: 100-continue" (see Gateway.attach): a body is asked for only where it will be read,
    // Keygate's own routes (unless refused for its size) here, a request forwarded to Gogs in send().
    if (req[EXPECTS_CONTINUE] && route === 'keygate' && !declaresTooMuch(req)) res.writeContinue();
    if (observe && route !== 'keygate') observe(res, route === 'passthrough' || route === 'blocked' ? route : 'page');
    switch (route) {
      case 'keygate':
        if (limitKeygateBody(req, res, config.clientBodyTimeoutMs, deps.onOversizedBody)) deps.keygate(req, res);
        return;
      case 'blocked':
        // Gogs' password sign-in, sign-up, reset and activation never reach Gogs.
        req.resume();
        redirect(res, '/-/login');
        return;
      case 'passthrough':
        passThrough(req, res);
        return;
      default: {
        // The common case, a cached valid session (or no session cookie), needs no database
        // statement and no promise.
        if (route === 'page') {
          const known = resolveIdentity.cached(req.headers.cookie);
          if (known !== undefined) {
            servePage(req, res, known, path);
            return;
          }
        }
        handleWithSession(req, res, route, path).catch((err) => {
          // Fail closed: without the session store, nobody is let through.
          log.error({ err }, 'session lookup failed');
          if (!res.headersSent)
            sendPage(res, 503, (t) => ({ title: t.titles[503], message: t.proxy.sessionCheckUnavailable }), { 'retry-after': '5' }, 'try-again');
          else res.destroy();
        });
      }
    }
  }

  return {
    handle,
    close: async () => {
      await Promise.all([signedInUpstream.close(), passthroughUpstream.close()]);
    },
  };
}

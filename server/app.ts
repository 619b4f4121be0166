/**
 * createApp(deps): Keygate's own pages and API (Express, under /-/) and the lean proxy for
 * everything else, combined into one Node request handler. No listening here.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import express from 'express';
import helmet from 'helmet';
import { accountRouter } from './account/routes.js';
import { auditOversizedCeremonyBody } from './audit/unreadable-body.js';
import { adminRouter } from './admin/routes.js';
import type { AppDeps, RouterDeps } from './deps.js';
import { enrollmentRouter } from './enrollment/routes.js';
import { afterKeygate, errorHandler, forbidden, notFound, type Said } from './errors.js';
import { assignRequestId } from './http/context.js';
import { crossOriginMessage, isSafeMethod, isSameOrigin } from './http/same-origin.js';
import { loginRouter, takesLoginCeremony } from './login/routes.js';
import { createMailer, MAIL_FLUSH_MS } from './mail/mailer.js';
import { stepUpRouter } from './stepup/routes.js';
import { AuthenticatorMetadata, reloadMetadata } from './policy/metadata.js';
import { AuthenticatorPolicy } from './policy/policy.js';
import { AssetCache } from './proxy/asset-cache.js';
import { limitConnectionsPerClient } from './proxy/client-limits.js';
import { createProxyHandler, EXPECTS_CONTINUE } from './proxy/handler.js';
import { HSTS_MAX_AGE_SECONDS, PAGE_CSP_DIRECTIVES } from './proxy/response-headers.js';
import { createRateLimits } from './ratelimit/limits.js';
import { ROOT } from './root.js';
import { createHealth } from './ops/health.js';
import { Metrics } from './ops/metrics.js';
import { keygateObserver, noteFailure, proxyObserver } from './ops/observe.js';
import { SessionCache, startSessionListener } from './session/cache.js';
import { createIdentityResolver } from './session/identity.js';
import { createSessionMiddleware, createSessionStore } from './session/middleware.js';
import { siteOf } from './http/site.js';

const STATIC_DIR = path.join(ROOT, 'web', 'dist');

function createKeygateApp(deps: RouterDeps): express.Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // One hop: req.ip is the address the TLS terminator saw (the last X-Forwarded-For entry), never
  // the first entry, which the client writes itself.
  app.set('trust proxy', config.trustProxy ? 1 : false);
  app.set('etag', false);

  app.use((req, _res, next) => {
    assignRequestId(req, config.trustProxy);
    next();
  });
  app.use(keygateObserver(deps.metrics, deps.log));
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP_DIRECTIVES },
      // Referer only to this origin: enrolment tokens in URLs never leave it, and same-origin
      // POSTs keep a real Origin header for the CSRF check.
      referrerPolicy: { policy: 'same-origin' },
      strictTransportSecurity: config.https ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false } : false,
    }),
  );
  app.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    // Every unsafe request to Keygate must come from Keygate's own pages.
    if (!isSafeMethod(req.method) && !isSameOrigin(req, config.origin)) {
      next(
        forbidden(
          crossOriginMessage<Said>(req, config.origin, (t) => t.errors.crossSite),
          'cross_origin',
        ),
      );
      return;
    }
    next();
  });
  app.use('/-/static', express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h' }));
  const logo = config.logo;
  if (logo) {
    // The organisation's logo (LOGO_FILE). An SVG opened on its own must not run script in this
    // origin: it is served sandboxed, with nothing allowed but its own inline styles.
    app.get('/-/brand/logo', (_req, res) => {
      res.set({
        'Content-Type': logo.type,
        'Cache-Control': 'public, max-age=3600',
        'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      });
      res.send(logo.bytes);
    });
  }
  const sessions = createSessionMiddleware(config, createSessionStore(deps.db, deps.sessionCache, config), deps.secret, {
    takesCeremony: takesLoginCeremony,
  });
  app.use(sessions.everyRequest);
  app.use(loginRouter(deps, sessions));
  app.use(enrollmentRouter(deps));
  app.use(stepUpRouter(deps));
  app.use(accountRouter(deps));
  app.use(adminRouter(deps));
  app.use((_req, _res, next) => next(notFound()));
  app.use(noteFailure);
  app.use(errorHandler(deps.log, siteOf(config)));
  return app;
}

export interface Gateway {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Options for http.createServer that can only be given there (the rest is set by attach). */
  serverOptions: http.ServerOptions;
  /** Applies the client bounds to the server that serves `handle`: header timeout, connections per client, "100 Continue". */
  attach: (server: http.Server) => void;
  /** Resolves once the session-invalidation channel is listening (until then the cache is bypassed). */
  ready: Promise<void>;
  /** Resolves once every session change committed before the call has reached this instance. */
  syncSessions: () => Promise<void>;
  sessionCache: SessionCache;
  /** Served by main.ts on METRICS_PORT only (ops/metrics.ts startMetricsServer). */
  metrics: Metrics;
  /** Reads MDS_BLOB again and uses it if it is newer and verifies (SIGHUP, daily; see policy/metadata.ts). */
  reloadMetadata: () => Promise<void>;
  close: () => Promise<void>;
}

export function createApp(deps: AppDeps): Gateway {
  const sessionCache = new SessionCache(deps.config.sessionCacheTtlMs, deps.config.sessionCacheSize);
  const assets = deps.config.gogsAssetCacheBytes > 0 ? new AssetCache(deps.config.gogsAssetCacheBytes) : null;
  const metrics = new Metrics({ db: deps.db, sessionCache, assets });
  const health = createHealth({ db: deps.db, gogsUrl: deps.config.gogsUrl, log: deps.log });
  const policy = new AuthenticatorPolicy(deps.config.policy, deps.metadata ?? AuthenticatorMetadata.none());
  // Rate limits (ratelimit/limits.ts): mounted by each router on its own route lines.
  const limits = createRateLimits(deps);
  limits.events.on('rejected', ({ limit }) => metrics.rateLimitRejections.labels(limit).inc());
  // Never given to the proxy: email is about Keygate's own actions, not about proxied requests.
  const mail = deps.mail ?? createMailer(deps.config, deps.db, deps.log);
  const keygate = createKeygateApp({ ...deps, sessionCache, metrics, policy, limits, mail });
  const listener = startSessionListener(deps.db.options, sessionCache, deps.log);
  const lateErrors = afterKeygate(deps.log);
  const proxy = createProxyHandler({
    config: deps.config,
    secret: deps.secret,
    db: deps.db,
    log: deps.log,
    sessionCache,
    assets,
    resolveIdentity: createIdentityResolver(deps.config, deps.db, deps.secret, sessionCache),
    keygate: (req, res) => keygate(req as never, res as never, lateErrors(req, res)),
    onOversizedBody: auditOversizedCeremonyBody(deps.db, deps.log, deps.config.trustProxy, (req) => limits.countRefusedBody(req)),
    observe: proxyObserver(metrics, deps.log),
  });
  return {
    // Health probes first: no session, no Express.
    handle: (req, res) => {
      if (!health.handle(req, res)) proxy.handle(req, res);
    },
    serverOptions: {
      keepAliveTimeout: 65_000,
      // How often Node looks for connections past the header timeout (its default is 30 s).
      connectionsCheckingInterval: 1000,
    },
    attach(server) {
      server.headersTimeout = deps.config.clientHeaderTimeoutMs;
      // Whole requests are not timed: a large push may take long. Bodies that stall are cut (proxy/client-limits.ts).
      server.requestTimeout = 0;
      if (!deps.config.trustProxy) limitConnectionsPerClient(server, deps.config.maxConnectionsPerClient);
      // Node would answer "100 Continue" before Keygate sees the request; the handler decides instead.
      server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
        req[EXPECTS_CONTINUE] = true;
        server.emit('request', req, res);
      });
    },
    ready: listener.ready,
    syncSessions: () => listener.sync(deps.db),
    sessionCache,
    metrics,
    async reloadMetadata() {
      policy.useMetadata(await reloadMetadata(deps.config, deps.log, policy.metadata));
    },
    async close() {
      await proxy.close();
      await listener.stop();
      // Queued email gets a bounded time to leave; the database is still open for its lookups.
      await mail.close(Math.min(deps.config.shutdownTimeoutMs, MAIL_FLUSH_MS));
    },
  };
}

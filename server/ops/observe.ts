/**
 * What each request leaves behind: an access log line (info for Keygate's pages and API, debug for
 * proxied requests) and metrics. Paths are logged without their query, and an invite token in a
 * path is replaced by `[token]`; headers are never logged here.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CeremonyType, Metrics, RouteKind } from './metrics.js';

/** The path as logged: no query or fragment, no invite token. */
export function logPath(url: string | undefined): string {
  const path = (url ?? '/').split(/[?#]/, 1)[0] ?? '/';
  return path.replace(/^(\/-\/enroll\/)[^/]+/i, '$1[token]');
}

const START = Symbol('keygate.start');
const KIND = Symbol('keygate.kind');
type Observed = ServerResponse & { [START]: number; [KIND]: RouteKind };

/**
 * For the proxy hot path: two properties and one shared 'close' listener per request, no closure.
 * Responses closed before their headers went out (the client gave up) are not counted.
 */
export function proxyObserver(metrics: Metrics, log: Logger): (res: ServerResponse, kind: RouteKind) => void {
  const debug = log.isLevelEnabled('debug');
  function done(this: Observed): void {
    const seconds = (performance.now() - this[START]) / 1000;
    if (this.headersSent) metrics.proxyRequest(this[KIND], this.statusCode, seconds);
    if (debug) {
      const req = this.req;
      log.debug(
        {
          reqId: req.id,
          method: req.method,
          path: logPath(req.url),
          status: this.statusCode,
          ms: Math.round(seconds * 1000),
          kind: this[KIND],
          completed: this.writableFinished,
        },
        'proxied',
      );
    }
  }
  return (res, kind) => {
    const observed = res as Observed;
    observed[START] = performance.now();
    observed[KIND] = kind;
    res.on('close', done);
  };
}

const CEREMONY_PATHS = new Map<string, CeremonyType>([
  ['/-/api/login/verify', 'sign_in'],
  ['/-/api/enroll/verify', 'enrolment'],
  ['/-/api/account/devices/verify', 'add_device'],
  ['/-/api/step-up/verify', 'step_up'],
]);

/** Express: the access log line and ceremony metrics of every Keygate request. */
export function keygateObserver(metrics: Metrics, log: Logger): RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    const path = logPath(req.originalUrl);
    const ceremony = req.method === 'POST' ? CEREMONY_PATHS.get(path.toLowerCase()) : undefined;
    res.on('close', () => {
      const seconds = (performance.now() - start) / 1000;
      const status = res.statusCode;
      if (ceremony) {
        const failed = status >= 400 || !res.writableFinished;
        const reason = (res.locals.failureReason as string | undefined) ?? (status === 429 ? 'rate_limited' : 'other');
        metrics.ceremony(ceremony, failed ? reason : null, seconds);
      }
      // Static assets are many and dull: debug only.
      const line = { reqId: req.id, method: req.method, path, status, ms: Math.round(seconds * 1000) };
      if (path.startsWith('/-/static/')) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
}

/** Express error middleware (before the error handler): remembers why a request failed, for metrics. */
export const noteFailure: ErrorRequestHandler = (err, _req, res, next) => {
  const e = err as { reason?: unknown; type?: unknown };
  res.locals.failureReason =
    typeof e?.reason === 'string'
      ? e.reason
      : err instanceof AppError
        ? err.code
        : e?.type === 'entity.too.large'
          ? 'body_too_large'
          : e?.type === 'entity.parse.failed'
            ? 'malformed_json'
            : 'internal';
  next(err);
};

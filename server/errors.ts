/**
 * Typed errors and the one error handler. Handlers throw AppError; anything else is an internal
 * error whose cause is logged and never sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { messagePage } from '../web/pages/message.js';
import type { Site } from '../web/pages/layout.js';
import { isDatabaseUnavailable } from './db/pool.js';
import type { Logger } from './log.js';

export class AppError extends Error {
  /**
   * @param code stable machine-readable code, e.g. `unknown_credential`
   * @param status HTTP status
   * @param message safe to show to a person
   * @param cause the hidden reason, logged only
   */
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, code = 'bad_request') => new AppError(code, 400, message);
export const notFound = (message = 'There is nothing at this address.') => new AppError('not_found', 404, message);
export const unauthorized = (message = 'Sign in first.') => new AppError('unauthorized', 401, message);
export const forbidden = (message: string, code = 'forbidden') => new AppError(code, 403, message);

/** PostgreSQL is down or too slow: fail closed, say so, and let the client retry (docs/reliability.md). */
export const databaseUnavailable = (cause?: unknown) =>
  new AppError('unavailable', 503, 'Keygate cannot reach its database right now, so it did not go on. Try again in a moment.', cause);

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign-in needed',
  403: 'Not allowed',
  404: 'Not found',
  410: 'Link no longer valid',
  413: 'Request too large',
  429: 'Too many attempts',
  500: 'Something went wrong',
  502: 'Gogs is unreachable',
  503: 'Temporarily unavailable',
};

/** Converts errors raised by Express's own middleware (body parsing) into AppErrors. */
function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable(err);
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return new AppError('body_too_large', 413, 'The request body is too large.', err);
  if (e?.type === 'entity.parse.failed') return new AppError('malformed_json', 400, 'The request body is not valid JSON.', err);
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') {
    return new AppError('unsupported_encoding', 415, 'The request body encoding is not supported.', err);
  }
  // Other client errors from Express's middleware (a missing static file, a bad range): keep
  // their status, but say it in our own words.
  const status = (e as { status?: number; statusCode?: number })?.status ?? (e as { statusCode?: number })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(
      status === 404 ? 'not_found' : 'bad_request',
      status,
      status === 404 ? 'There is nothing at this address.' : 'This request could not be handled.',
      err,
    );
  }
  return new AppError('internal', 500, 'Something went wrong on our side. Try again; if it keeps happening, tell your administrator.', err);
}

export function wantsJson(req: Request): boolean {
  return req.path.startsWith('/-/api/') || (req.get('accept') ?? '').startsWith('application/json');
}

/**
 * Where an error page sends the person: back to Gogs when they are signed in (sign-in would only
 * send them there again), to sign-in when they are not.
 */
function nextStep(req: Request): { href: string; label: string } {
  return req.session?.auth ? { href: '/', label: 'Back to Gogs' } : { href: '/-/login', label: 'Go to sign-in' };
}

export function errorHandler(log: Logger, site?: Site): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError = toAppError(err);
    if (appError.status >= 500) log.error({ err: appError.cause ?? appError, reqId: req.id }, 'request failed');
    else log.debug({ code: appError.code, cause: appError.cause }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(appError.status);
    if (appError.status === 429 && !res.get('retry-after')) res.set('Retry-After', '60');
    if (appError.status === 503 && !res.get('retry-after')) res.set('Retry-After', '5');
    if (wantsJson(req)) {
      res.json({ error: { code: appError.code, message: appError.message } });
    } else {
      res.type('html').send(messagePage({ title: TITLES[appError.status] ?? 'Error', message: appError.message, action: nextStep(req), site }));
    }
  };
}

/**
 * What Express calls when the stack is done: for an error passed on after the error handler has
 * answered (express-session saving a session once the answer is out, while the database is down).
 * Without it Express prints the raw error and its stack on stderr, bypassing the log's redaction.
 */
export function afterKeygate(log: Logger) {
  const handle = errorHandler(log);
  return (req: IncomingMessage, res: ServerResponse) =>
    (err?: unknown): void => {
      if (err === undefined || err === null) {
        if (!res.headersSent) res.writeHead(404).end();
        return;
      }
      if (!res.headersSent) {
        handle(err, req as Request, res as Response, () => {});
        return;
      }
      const e = err as { message?: unknown; code?: unknown };
      log.warn({ err: { message: typeof e?.message === 'string' ? e.message : 'unknown error', code: e?.code } }, 'error after the response was sent');
      if (!res.writableEnded) res.destroy();
    };
}

/**
 * Typed errors and the one error handler. Handlers throw AppError; anything else is an internal
 * error whose cause is logged and never sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { strings, type Catalogue, type Lang } from '../web/i18n/index.js';
import { messagePage } from '../web/pages/message.js';
import type { Site } from '../web/pages/layout.js';
import { isDatabaseUnavailable } from './db/pool.js';
import { pageLanguage } from './http/language.js';
import type { Logger } from './log.js';
import { isApiPath } from './http/api-path.js';

/**
 * What an error says: a sentence of the catalogue, said in the language of whoever asked
 * (web/i18n), or a fixed English string (for what only the operator sees: the CLI's own
 * refusals, the Gogs admin-flag sync).
 */
export type Said = string | ((t: Catalogue) => string);

export class AppError extends Error {
  /**
   * @param code stable machine-readable code, e.g. `unknown_credential`
   * @param status HTTP status
   * @param said safe to show to a person; `message` is its English
   * @param cause the hidden reason, logged only
   */
  constructor(
    readonly code: string,
    readonly status: number,
    readonly said: Said,
    readonly cause?: unknown,
  ) {
    super(typeof said === 'string' ? said : said(strings('en')));
    this.name = 'AppError';
  }

  /** The message in `lang`. */
  messageIn(lang: Lang): string {
    return typeof this.said === 'string' ? this.said : this.said(strings(lang));
  }
}

/**
 * Something a person typed that cannot be used (an invite's username, lifetime or email): the API
 * says `said` in their language; `message` is its English as a clause, for the CLI's
 * "keygate: …" line.
 */
export class InputError extends Error {
  constructor(readonly said: (t: Catalogue) => string) {
    super(said(strings('en')).replace(/\.$/, ''));
  }
}

export const badRequest = (message: Said, code = 'bad_request') => new AppError(code, 400, message);
export const notFound = (message: Said = (t) => t.errors.notFound) => new AppError('not_found', 404, message);
export const unauthorized = (message: Said = (t) => t.errors.signInFirst) => new AppError('unauthorized', 401, message);
export const forbidden = (message: Said, code = 'forbidden') => new AppError(code, 403, message);

/** PostgreSQL is down or too slow: fail closed, say so, and let the client retry (docs/reliability.md). */
export const databaseUnavailable = (cause?: unknown) => new AppError('unavailable', 503, (t) => t.errors.databaseUnavailable, cause);

/** An error page's title, by its status, in `lang`. */
export function errorTitle(status: number, lang?: Lang): string {
  const titles = strings(lang).titles;
  return status in titles ? titles[status as keyof typeof titles] : titles.error;
}

/** Converts errors raised by Express's own middleware (body parsing) into AppErrors. */
function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable(err);
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return new AppError('body_too_large', 413, (t) => t.errors.bodyTooLarge, err);
  if (e?.type === 'entity.parse.failed') return new AppError('malformed_json', 400, (t) => t.errors.malformedJson, err);
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') {
    return new AppError('unsupported_encoding', 415, (t) => t.errors.unsupportedEncoding, err);
  }
  // Other client errors from Express's middleware (a missing static file, a bad range): keep
  // their status, but say it in our own words.
  const status = (e as { status?: number; statusCode?: number })?.status ?? (e as { statusCode?: number })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(status === 404 ? 'not_found' : 'bad_request', status, (t) => (status === 404 ? t.errors.notFound : t.errors.cannotHandle), err);
  }
  return new AppError('internal', 500, (t) => t.errors.internal, err);
}

export function wantsJson(req: Request): boolean {
  return isApiPath(req.path) || (req.get('accept') ?? '').startsWith('application/json');
}

/**
 * Where an error page sends the person: back to Gogs when they are signed in (sign-in would only
 * send them there again), to sign-in when they are not.
 */
function nextStep(req: Request, lang: Lang): { href: string; label: string } {
  const t = strings(lang).actions;
  return req.session?.auth ? { href: '/', label: t.backToGogs } : { href: '/-/login', label: t.goToSignIn };
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
    const lang = pageLanguage(req, res);
    const message = appError.messageIn(lang);
    if (wantsJson(req)) {
      res.json({ error: { code: appError.code, message } });
    } else {
      res.type('html').send(messagePage({ title: errorTitle(appError.status, lang), message, action: nextStep(req, lang), site, lang }));
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

/**
 * Keygate's own endpoints take small JSON bodies (ceremony responses, names): 64 KiB at most.
 * A request that declares more is refused before a byte of its body is read, and a body must
 * arrive whole within CLIENT_BODY_TIMEOUT, however slowly it trickles.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { strings, type Catalogue } from '../../web/i18n/index.js';
import { languageFor, languageHeaders } from './language.js';
import { isApiPath } from './api-path.js';

export const KEYGATE_BODY_LIMIT_BYTES = 64 * 1024;

/** For express.json. */
export const KEYGATE_BODY_LIMIT = `${KEYGATE_BODY_LIMIT_BYTES / 1024}kb`;

/** Answers before Express: in the language the request asks for, as Keygate's other errors are. */
function refuse(json: boolean, req: IncomingMessage, res: ServerResponse, status: number, code: string, say: (t: Catalogue) => string): void {
  const lang = languageFor(req.headers['accept-language']);
  const message = say(strings(lang));
  const body = json ? JSON.stringify({ error: { code, message } }) : `${message}\n`;
  res.writeHead(status, {
    ...languageHeaders(lang),
    'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The rest of the body is not wanted: the connection goes with the answer.
    connection: 'close',
  });
  res.end(body);
}

const isApi = (req: IncomingMessage): boolean => isApiPath(req.url ?? '');

/** The request declares a body larger than Keygate's endpoints take. */
export function declaresTooMuch(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > KEYGATE_BODY_LIMIT_BYTES;
}

/**
 * Applies the limits to a request for Keygate's own pages and API. Returns false when it has
 * already answered: 413 for a declared size over the limit, before a byte of the body is read
 * (express.json would read the whole body before answering), and without "100 Continue".
 * @param onRefused awaited before a 413 is sent (the ceremony endpoints audit it)
 */
export function limitKeygateBody(req: IncomingMessage, res: ServerResponse, timeoutMs: number, onRefused?: (req: IncomingMessage) => Promise<void>): boolean {
  if (declaresTooMuch(req)) {
    // Audited first, as a refusal inside Express would be: the answer never precedes its trace.
    const answer = () => refuse(isApi(req), req, res, 413, 'body_too_large', (t) => t.errors.bodyTooLargeAtMost(KEYGATE_BODY_LIMIT_BYTES / 1024));
    if (onRefused) onRefused(req).then(answer, answer);
    else answer();
    return false;
  }
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return true;
  // Read now: Express rewrites req.url under its mount points.
  const json = isApi(req);
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) refuse(json, req, res, 408, 'body_timeout', (t) => t.errors.bodyTimeout);
    setImmediate(() => req.socket.destroy());
  }, timeoutMs);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
  return true;
}

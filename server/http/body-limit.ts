/**
 * Keygate's own endpoints take small JSON bodies (ceremony responses, names): 64 KiB at most.
 * A request that declares more is refused before a byte of its body is read, and a body must
 * arrive whole within CLIENT_BODY_TIMEOUT, however slowly it trickles.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const KEYGATE_BODY_LIMIT_BYTES = 64 * 1024;

/** For express.json. */
export const KEYGATE_BODY_LIMIT = `${KEYGATE_BODY_LIMIT_BYTES / 1024}kb`;

function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const json = (req.url ?? '').startsWith('/-/api/');
  const body = json ? JSON.stringify({ error: { code, message } }) : `${message}\n`;
  res.writeHead(status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The rest of the body is not wanted: the connection goes with the answer.
    connection: 'close',
  });
  res.end(body);
}

/**
 * Applies the limits to a request for Keygate's own pages and API. Returns false when it has
 * already answered (413 for a declared size over the limit).
 */
export function limitKeygateBody(req: IncomingMessage, res: ServerResponse, timeoutMs: number): boolean {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > KEYGATE_BODY_LIMIT_BYTES) {
    refuse(req, res, 413, 'body_too_large', `The request body is too large (at most ${KEYGATE_BODY_LIMIT_BYTES / 1024} KiB).`);
    return false;
  }
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return true;
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) refuse(req, res, 408, 'body_timeout', 'The request body did not arrive in time.');
    setImmediate(() => req.socket.destroy());
  }, timeoutMs);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
  return true;
}

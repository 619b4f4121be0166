/** Per-request facts Keygate records: client address, browser, request id. */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { RequestContext } from '../audit/record.js';

declare module 'node:http' {
  interface IncomingMessage {
    /** Request id: from a trusted front proxy's X-Request-Id, or generated. Sent to Gogs and written to audit rows. */
    id?: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Assigns req.id once. A client-supplied X-Request-Id is only kept when a trusted proxy is in front. */
export function assignRequestId(req: IncomingMessage, trustProxy: boolean): string {
  if (req.id) return req.id;
  const given = req.headers['x-request-id'];
  req.id = trustProxy && typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  return req.id;
}

/**
 * The client's address outside Express, as Express's `trust proxy = 1` computes req.ip: the TCP
 * peer, or with TRUST_PROXY the last X-Forwarded-For entry (the one the front proxy wrote).
 */
export function peerAddress(req: IncomingMessage, trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',').pop()?.trim();
    if (last && isIP(last)) return last;
  }
  return req.socket.remoteAddress ?? null;
}

export function requestContext(req: Request): RequestContext {
  return {
    ip: req.ip ?? null,
    userAgent: req.get('user-agent') ?? null,
    requestId: req.id ?? null,
  };
}

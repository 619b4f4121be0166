/**
 * Streams a request to Gogs and its response back, on a pooled keep-alive client. Bodies are piped
 * in both directions with backpressure: a git push of hundreds of MB is never buffered.
 *
 * This runs for every proxied request, so it allocates as little as it can: the listeners are
 * module-level functions that find their request through a symbol property (no closures per
 * request), the upstream headers go to http.request as a flat list (no header map), and the
 * connect timeout lives on the pooled socket (set once per new connection, not per request).
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { downstreamHeaders } from './headers.js';

/** Gogs did not connect, or did not start answering, in time: the request gets a 504. */
export class UpstreamTimeout extends Error {
  constructor(readonly phase: 'connect' | 'response') {
    super(`gogs ${phase} timeout`);
    this.name = 'UpstreamTimeout';
  }
}

export interface Upstream {
  /** @param headers a flat [name, value, …] list (see headers.ts upstreamHeaderList) */
  forward(req: IncomingMessage, res: ServerResponse, headers: Array<string | string[]>, onUnreachable: (res: ServerResponse, err: Error) => void): void;
  close(): void;
}

const EXCHANGE = Symbol('keygate.exchange');
const UPSTREAM = Symbol('keygate.upstream');

/** One proxied request: what its listeners need. */
interface Exchange {
  req: IncomingMessage;
  headers: Array<string | string[]>;
  /** Sends the request again on another connection (see onUpstreamError); null once used. */
  retry: ((x: Exchange) => void) | null;
  res: ServerResponse;
  hsts: boolean;
  responseMs: number;
  timer: NodeJS.Timeout | undefined;
  /** Gogs' response headers have arrived (or the exchange is over): no response timeout any more. */
  settled: boolean;
  onUnreachable: (res: ServerResponse, err: Error) => void;
}

type UpstreamRequest = ClientRequest & { [EXCHANGE]: Exchange };
type Downstream = ServerResponse & { [UPSTREAM]?: UpstreamRequest };

function responseTimedOut(upstreamReq: UpstreamRequest): void {
  upstreamReq.destroy(new UpstreamTimeout('response'));
}

/** The request (and its body) has gone out: Gogs now has responseMs to start answering. */
function onRequestSent(this: UpstreamRequest): void {
  const x = this[EXCHANGE];
  // Gogs may answer before the last of the request has been flushed (a small POST): then there is
  // nothing left to wait for, and a timer armed now would keep this exchange alive until it fired.
  if (x.settled) return;
  x.timer = setTimeout(responseTimedOut, x.responseMs, this);
}

function onRequestClose(this: UpstreamRequest): void {
  const x = this[EXCHANGE];
  // A stale connection's request closes after its retry has been sent: the exchange goes on.
  if ((x.res as Downstream)[UPSTREAM] !== this) return;
  x.settled = true;
  clearTimeout(x.timer);
}

function onUpstreamResponse(this: UpstreamRequest, upstreamRes: IncomingMessage): void {
  const x = this[EXCHANGE];
  x.settled = true;
  clearTimeout(x.timer);
  // One writeHead with the raw list and nothing set before it: repeated headers survive.
  x.res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, downstreamHeaders(upstreamRes.rawHeaders, x.hsts));
  upstreamRes.pipe(x.res);
  upstreamRes.on('error', onUpstreamResponseError);
}

function onUpstreamResponseError(this: IncomingMessage): void {
  (this as IncomingMessage & { req: UpstreamRequest }).req[EXCHANGE].res.destroy();
}

/**
 * A pooled keep-alive connection that Gogs closed just as this request went out on it: the request
 * never reached Gogs. A request without a body that cannot change anything is sent once more, on a
 * fresh connection (what Node's documentation advises for `reusedSocket`); anything else gets the 502.
 */
function isStaleConnection(upstreamReq: UpstreamRequest, err: Error): boolean {
  const x = upstreamReq[EXCHANGE];
  const method = x.req.method;
  return (
    x.retry !== null &&
    upstreamReq.reusedSocket &&
    (err as NodeJS.ErrnoException).code === 'ECONNRESET' &&
    !x.res.headersSent &&
    (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') &&
    x.req.complete &&
    x.req.headers['content-length'] === undefined &&
    x.req.headers['transfer-encoding'] === undefined
  );
}

function onUpstreamError(this: UpstreamRequest, err: Error): void {
  const x = this[EXCHANGE];
  clearTimeout(x.timer);
  if (isStaleConnection(this, err)) {
    const retry = x.retry!;
    x.retry = null;
    retry(x);
    return;
  }
  x.settled = true;
  if (!x.res.headersSent) x.onUnreachable(x.res, err);
  else x.res.destroy(err);
}

/** If the client goes away, stop the upstream transfer too. */
function onDownstreamClose(this: Downstream): void {
  if (!this.writableFinished) this[UPSTREAM]?.destroy();
}

/**
 * @param hsts add HSTS to Gogs' responses that lack it (PUBLIC_URL is https)
 * @param timeouts connect: until the TCP connection is up; response: from the end of the request
 *   body until Gogs' response headers. Neither limits a body that is flowing, so a long git
 *   transfer is never cut while data moves.
 */
export function createUpstream(target: URL, hsts: boolean, timeouts: { connectMs: number; responseMs: number }): Upstream {
  const secure = target.protocol === 'https:';
  // LIFO: the most recently used connection is the warmest; idle ones beyond the pool close.
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const, noDelay: true };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  // The connect timeout belongs to a new connection, not to each request: a pooled keep-alive
  // socket is already connected. An error destroying the socket reaches the request as 'error'.
  const createConnection = agent.createConnection.bind(agent) as (options: object, callback?: unknown) => Duplex & { connecting?: boolean };
  (agent as unknown as { createConnection: typeof createConnection }).createConnection = (options, callback) => {
    const socket = createConnection(options, callback);
    if (socket.connecting !== false) {
      const timer = setTimeout(() => socket.destroy(new UpstreamTimeout('connect')), timeouts.connectMs);
      const clear = () => clearTimeout(timer);
      socket.once('connect', clear);
      socket.once('close', clear);
    }
    return socket;
  };
  const request = secure ? https.request : http.request;
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port ? Number(target.port) : secure ? 443 : 80;

  /** Opens the upstream request for an exchange and wires its listeners. */
  const send = (x: Exchange): UpstreamRequest => {
    const upstreamReq = request({ hostname, port, method: x.req.method, path: x.req.url, headers: x.headers as unknown as http.OutgoingHttpHeaders, agent, setHost: false }) as UpstreamRequest;
    upstreamReq[EXCHANGE] = x;
    upstreamReq.on('finish', onRequestSent);
    upstreamReq.on('close', onRequestClose);
    upstreamReq.on('response', onUpstreamResponse);
    upstreamReq.on('error', onUpstreamError);
    (x.res as Downstream)[UPSTREAM] = upstreamReq;
    return upstreamReq;
  };
  // The second attempt of a bodyless request whose pooled connection was stale: nothing to pipe.
  const resend = (x: Exchange): void => {
    send(x).end();
  };

  return {
    forward(req, res, headers, onUnreachable) {
      const upstreamReq = send({ req, headers, retry: resend, res, hsts, responseMs: timeouts.responseMs, timer: undefined, settled: false, onUnreachable });
      res.on('close', onDownstreamClose);
      req.pipe(upstreamReq);
    },
    close() {
      agent.destroy();
    },
  };
}

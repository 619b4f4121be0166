/**
 * Bounds on what one client can hold, so one anonymous client cannot starve everyone else
 * (docs/security.md, "Bounded resources"):
 *
 * - open connections per client address (MAX_CONNECTIONS_PER_CLIENT), counted at accept time. With
 *   TRUST_PROXY every connection comes from the front proxy, whose own limits apply instead (the
 *   deploy/ recipes set them); the per-request bound below still counts the real client;
 * - requests forwarded to Gogs without a Keygate session (git, LFS, API) in flight per client
 *   address (MAX_PASSTHROUGH_PER_CLIENT): a client trickling hundreds of slow bodies holds at most
 *   this many of the pass-through pool's connections, and signed-in pages have a pool of their own;
 * - a request body that stops moving for CLIENT_BODY_TIMEOUT while Keygate reads it is cut (slow clients).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rateLimitSubject } from '../ratelimit/client-address.js';

const TOO_MANY_CONNECTIONS = (() => {
  const body = 'Too many connections from your address. Close some and try again.\n';
  return `HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n${body}`;
})();

/** Refuses a client's connections beyond `max` open at once with a 429 and closes them. */
export function limitConnectionsPerClient(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const who = rateLimitSubject(socket.remoteAddress ?? '');
    const n = (open.get(who) ?? 0) + 1;
    if (n > max) {
      socket.end(TOO_MANY_CONNECTIONS);
      // A client that never reads its answer does not keep the socket either.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open.set(who, n);
    socket.once('close', () => {
      const left = (open.get(who) ?? 1) - 1;
      if (left <= 0) open.delete(who);
      else open.set(who, left);
    });
  });
}

/** Counts requests in flight per client address; `enter` says whether one more may start. */
export class InFlightLimit {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts the request until its response closes; false (and nothing counted) when over the bound. */
  enter(who: string, res: ServerResponse): boolean {
    const n = (this.counts.get(who) ?? 0) + 1;
    if (n > this.max) return false;
    this.counts.set(who, n);
    res.once('close', () => {
      const left = (this.counts.get(who) ?? 1) - 1;
      if (left <= 0) this.counts.delete(who);
      else this.counts.set(who, left);
    });
    return true;
  }

  /** For tests and metrics: requests in flight for this client. */
  current(who: string): number {
    return this.counts.get(who) ?? 0;
  }
}

/**
 * Cuts the connection if the request body stops moving for `ms` while Keygate is reading it. Call
 * it once the body is being read (the request has a connection to Gogs, forward.ts): before that,
 * Keygate is not reading, and a client whose body waits for its turn is not stalling. The socket's
 * own inactivity timer does the counting, and Node's HTTP server hands its expiry to the request
 * and its response ('timeout'), which decide here instead of the server destroying the socket:
 * - the body is still coming and Keygate is reading it: the client stalled, and is cut. Once
 *   Keygate reads again after a pause, the client has `ms` from then;
 * - Keygate has paused the body (Gogs takes it more slowly than the client sends it:
 *   backpressure) and Gogs has not answered yet: the client is not stalling, and the count starts
 *   again. Gogs not reading at all is judged by GOGS_RESPONSE_TIMEOUT (undici's wait for Gogs'
 *   answer, which only a write Gogs took moves on). Once Gogs has answered, nothing else bounds
 *   the body, so a pause counts as a stall;
 * - the body has arrived (Keygate may still be passing its last bytes on): never cut.
 * Once the body has been read, the watch ends (its listeners, and its timer if it is still the
 * connection's), so Gogs taking its time to answer is judged by GOGS_RESPONSE_TIMEOUT too, and a
 * later request on the connection (pipelined, or kept alive) is judged by its own watch or by the
 * server alone.
 */
export function cutStalledBody(req: IncomingMessage, res: ServerResponse, ms: number): void {
  if (req.complete || WATCHED.has(req)) return;
  WATCHED.add(req);
  const socket = req.socket;
  let resumedAt = 0;
  const resumed = () => (resumedAt = performance.now());
  const judge = () => {
    // Another request's body is the one watched on this connection now (pipelining).
    if (WATCHING.get(socket) !== req) return;
    if (req.complete) {
      socket.setTimeout(0);
      return;
    }
    // A read would restart the count, but none comes while the body is paused.
    if (req.isPaused() && !res.headersSent) {
      socket.setTimeout(ms);
      return;
    }
    // Reading again since less than `ms`: the client's bytes may not even have been read yet.
    const sinceResumed = performance.now() - resumedAt;
    if (sinceResumed < ms) socket.setTimeout(Math.max(1, Math.ceil(ms - sinceResumed)));
    else socket.destroy();
  };
  const stop = () => {
    req.off('timeout', judge);
    res.off('timeout', judge);
    req.off('resume', resumed);
    if (WATCHING.get(socket) === req) {
      WATCHING.delete(socket);
      // Once the answer is out, the server has set the connection's keep-alive timeout: kept.
      if (!res.writableFinished) socket.setTimeout(0);
    }
  };
  // The server gives the expiry to the request while its body is incomplete, and to the response
  // on the connection: either one listening keeps the server from destroying the socket itself.
  req.on('timeout', judge);
  res.on('timeout', judge);
  req.on('resume', resumed);
  req.once('end', stop);
  req.once('close', stop);
  WATCHING.set(socket, req);
  socket.setTimeout(ms);
}

const WATCHED = new WeakSet<IncomingMessage>();
/** The request whose body a connection's timer counts for (the last one cutStalledBody watched). */
const WATCHING = new WeakMap<Socket, IncomingMessage>();

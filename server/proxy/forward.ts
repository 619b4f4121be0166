/**
 * Streams a request to Gogs and its response back, on a pooled keep-alive client. Bodies are piped
 * in both directions with backpressure: a git push of hundreds of MB is never buffered.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { downstreamHeaders } from './headers.js';

/** Gogs did not connect, or did not start answering, in time: the request gets a 504. */
export class UpstreamTimeout extends Error {
  constructor(readonly phase: 'connect' | 'response') {
    super(`gogs ${phase} timeout`);
    this.name = 'UpstreamTimeout';
  }
}

export interface Upstream {
  forward(req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, onUnreachable: (err: Error) => void): void;
  close(): void;
}

/**
 * @param hsts add HSTS to Gogs' responses that lack it (PUBLIC_URL is https)
 * @param timeouts connect: until the TCP connection is up; response: from the end of the request
 *   body until Gogs' response headers. Neither limits a body that is flowing, so a long git
 *   transfer is never cut while data moves.
 */
export function createUpstream(target: URL, hsts: boolean, timeouts: { connectMs: number; responseMs: number }): Upstream {
  const secure = target.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port ? Number(target.port) : secure ? 443 : 80;

  return {
    forward(req, res, headers, onUnreachable) {
      const upstreamReq = request({ hostname, port, method: req.method, path: req.url, headers, agent });
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (phase: 'connect' | 'response') => () => upstreamReq.destroy(new UpstreamTimeout(phase));
      upstreamReq.on('socket', (socket) => {
        // A pooled keep-alive socket is already connected; only a new one can hang in connect.
        if (!socket.connecting) return;
        const connecting = setTimeout(giveUp('connect'), timeouts.connectMs);
        socket.once('connect', () => clearTimeout(connecting));
        socket.once('close', () => clearTimeout(connecting));
      });
      upstreamReq.on('finish', () => {
        timer = setTimeout(giveUp('response'), timeouts.responseMs);
      });
      upstreamReq.on('close', () => clearTimeout(timer));
      upstreamReq.on('response', (upstreamRes) => {
        clearTimeout(timer);
        // One writeHead with the raw list and nothing set before it: repeated headers survive.
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, downstreamHeaders(upstreamRes.rawHeaders, hsts));
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      });
      upstreamReq.on('error', (err) => {
        if (!res.headersSent) onUnreachable(err);
        else res.destroy(err);
      });
      // If the client goes away, stop the upstream transfer too.
      res.on('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      req.pipe(upstreamReq);
    },
    close() {
      agent.destroy();
    },
  };
}

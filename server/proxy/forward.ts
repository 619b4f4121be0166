/**
 * Streams a request to Gogs and its response back, on a pooled keep-alive client. Bodies are piped
 * in both directions with backpressure: a git push of hundreds of MB is never buffered.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { downstreamHeaders } from './headers.js';

export interface Upstream {
  forward(req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, onUnreachable: (err: Error) => void): void;
  close(): void;
}

/** @param hsts add HSTS to Gogs' responses that lack it (PUBLIC_URL is https) */
export function createUpstream(target: URL, hsts: boolean): Upstream {
  const secure = target.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port ? Number(target.port) : secure ? 443 : 80;

  return {
    forward(req, res, headers, onUnreachable) {
      const upstreamReq = request({ hostname, port, method: req.method, path: req.url, headers, agent });
      upstreamReq.on('response', (upstreamRes) => {
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

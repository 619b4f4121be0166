/** A long request body streamed through Keygate in 64 KiB chunks (a git push, a large upload). */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { sleep } from './net.js';

export const CHUNK = 64 * 1024;

export interface StreamingPost {
  /** The answer, once it has arrived in full (rejects if the connection is cut). */
  response: Promise<{ status: number; body: string }>;
  /** Writes `chunks` random chunks, with backpressure and a pause of `pauseMs` after each. */
  send(chunks: number): Promise<void>;
  end(): void;
  /** What was sent so far: bytes and SHA-256 (call once, after the last send). */
  sent(): { bytes: number; sha256: string };
}

/** Opens a POST to `url` with these headers; the body is written with send() and end(). */
export function streamingPost(url: string, headers: http.OutgoingHttpHeaders, pauseMs: number): StreamingPost {
  const hash = createHash('sha256');
  let bytes = 0;
  const req = http.request(url, { method: 'POST', headers });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  response.catch(() => {});
  return {
    response,
    async send(chunks: number) {
      for (let i = 0; i < chunks; i++) {
        const chunk = randomBytes(CHUNK);
        hash.update(chunk);
        bytes += chunk.length;
        if (!req.write(chunk)) await once(req, 'drain');
        await sleep(pauseMs);
      }
    },
    end: () => req.end(),
    sent: () => ({ bytes, sha256: hash.digest('hex') }),
  };
}

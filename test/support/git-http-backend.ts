/**
 * Git smart HTTP served by the real `git http-backend`, run as a CGI script: what the fake Gogs
 * (./gogs.ts) does for git paths when it is given a `gitRoot`, so that a test can push with real
 * git through Keygate and check the repository git wrote.
 *
 * CGI (RFC 3875) as git http-backend reads it: GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, PATH_INFO,
 * REQUEST_METHOD, QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH (only when the request had one: git
 * then reads a chunked body until end of input), HTTP_CONTENT_ENCODING, REMOTE_USER (which also
 * turns on receive-pack, http.receivepack's default), HTTP_GIT_PROTOCOL and REMOTE_ADDR. The request body streams into
 * its stdin as it arrives (through `observe`, which sees every chunk, then `observed`), its stdout streams back.
 *
 * Like Gogs (internal/route/repo/http.go runs `git <service> --stateless-rpc` with the response
 * as its stdout, and Go writes the header at the first byte), the response header is written only
 * when the first body byte arrives, not as soon as the CGI prints its header block: a push is
 * answered after its pack has been read.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface GitBackendRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** GIT_PROJECT_ROOT: the directory holding `<owner>/<repo>.git`. */
  gitRoot: string;
  /** PATH_INFO: `/<owner>/<repo>.git/<info/refs | git-upload-pack | git-receive-pack>`. */
  pathInfo: string;
  /** QUERY_STRING without the `?`. */
  query: string;
  /** REMOTE_USER: who the server decided the request is from. */
  remoteUser: string;
  /** Sees every chunk of the request body on its way into the CGI. */
  observe(chunk: Buffer): void;
  /**
   * Called once the last chunk has been observed. Not the request's 'end': that comes as soon as
   * the request has handed its last chunk on, while chunks may still wait in the pipe to git.
   */
  observed(): void;
}

/** Most of a CGI header block git http-backend could print before giving up on it. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Runs one request through `git http-backend`. Resolves when the response is over; a CGI that
 * fails before its header block is answered with a 500 carrying its stderr.
 */
export async function serveWithGitHttpBackend(r: GitBackendRequest): Promise<void> {
  const { req, res } = r;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // Nothing from the machine's or the user's git configuration.
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    HOME: r.gitRoot,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    GIT_PROJECT_ROOT: r.gitRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: r.pathInfo,
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: r.query,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: r.remoteUser,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (typeof req.headers['git-protocol'] === 'string') env.HTTP_GIT_PROTOCOL = req.headers['git-protocol'];

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 16 * 1024) stderr += chunk.toString('utf8');
  });
  // The client went away: stop git.
  res.once('close', () => {
    if (!res.writableFinished) child.kill('SIGKILL');
  });

  const counting = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      r.observe(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      r.observed();
      callback();
    },
  });
  // git may stop reading early (e.g. a refused push): EPIPE then only ends the upload.
  const upload = pipeline(req, counting, child.stdin).catch(() => undefined);

  let head = Buffer.alloc(0);
  let headerDone = false;
  let status = 200;
  const headers: [string, string][] = [];
  const writeHead = () => {
    if (res.headersSent || res.destroyed) return;
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    res.writeHead(status, flat);
  };
  const download = (async () => {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      if (res.destroyed) continue;
      if (headerDone) {
        writeHead();
        if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
        continue;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
      if (end < 0) {
        if (head.length > MAX_HEADER_BYTES) throw new Error('git http-backend: header block too long');
        continue;
      }
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
        else headers.push([name, value]);
      }
      headerDone = true;
      const rest = head.subarray(end);
      if (rest.length > 0) {
        writeHead();
        res.write(rest);
      }
    }
  })();

  const [code] = await Promise.all([exited, download.catch(() => undefined), upload]);
  if (res.destroyed) return;
  if (!headerDone) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`git http-backend failed (exit ${code}): ${stderr}`);
    return;
  }
  writeHead();
  res.end();
}

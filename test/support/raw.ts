/**
 * One HTTP/1.1 request to Keygate with nothing normalised on the way: the path is sent as given,
 * and headers are a flat [name, value, name, value, ...] list, so repeated headers and any
 * spelling of a name arrive as written (TestClient, like a browser, would merge or refuse them).
 * A raw header list gets no Host from node: it is added here.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { ANSWER_BOUND_MS } from './client.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body's bytes (text is them read as UTF-8). */
  body: Buffer;
}

/**
 * What a browser is given, for comparing two answers: status, headers less Date and Connection
 * (they differ from one answer to the next) and the body's bytes (base64).
 */
export function asGiven(res: RawResponse): { status: number; headers: Record<string, unknown>; body: string } {
  const { date: _date, connection: _connection, ...headers } = res.headers;
  return { status: res.status, headers, body: res.body.toString('base64') };
}

export function sendRaw(
  baseUrl: string,
  opts: {
    method?: string;
    path: string;
    headers?: string[];
    body?: string | Readable;
    /** The address to connect from (a loopback address Gogs does or does not trust). */ localAddress?: string;
  },
): Promise<RawResponse> {
  const { port, host } = new URL(baseUrl);
  const headers = ['Host', host, ...(opts.headers ?? [])];
  if (typeof opts.body === 'string') headers.push('Content-Length', String(Buffer.byteLength(opts.body)));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers, agent: false, localAddress: opts.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: body.toString('utf8'), body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A connection silent this long fails the test, naming the request.
    req.setTimeout(ANSWER_BOUND_MS, () =>
      req.destroy(new Error(`${opts.method ?? 'GET'} ${opts.path}: the connection was silent for ${ANSWER_BOUND_MS / 1000} s`)),
    );
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

/**
 * Every value of a header in a raw [name, value, …] list (node's rawHeaders), the name compared
 * case-insensitively, as Go's server compares it. With `underscores`, `_` also counts as `-`: any
 * spelling a framework might read as the same header.
 */
export function rawValues(rawHeaders: string[], name: string, opts: { underscores?: boolean } = {}): string[] {
  const spell = (n: string) => (opts.underscores ? n.toLowerCase().replace(/_/g, '-') : n.toLowerCase());
  const wanted = spell(name);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (spell(rawHeaders[i]) === wanted) out.push(rawHeaders[i + 1]);
  }
  return out;
}

/**
 * A fake Gogs for tests: a real HTTP server on 127.0.0.1 that decides who a request is
 * from the way Gogs 0.14 does (internal/context/auth.go, authenticatedUser: API token, session
 * uid, the proxy header from a trusted peer, then Basic)
 * and records exactly what it received, so tests can prove what Keygate forwarded.
 *
 * Deliberate simplifications (a fake, not a Gogs):
 * - Reverse-proxy auto-registration is on: any non-empty header value is a user.
 * - Every repository is private: git smart HTTP and LFS always need Basic credentials.
 * - No CSRF, no templates, no database; users exist through setPassword/addToken/sessions,
 *   addUser, auto-registration and the admin API.
 * - The admin API Keygate uses (GOGS_ADMIN_TOKEN) as Gogs 0.14 routes it: `GET /api/v1/users/:name`
 *   (public; 404 with an empty body when unknown), `POST /api/v1/admin/users` (reqAdmin: a bare
 *   403 for anonymous callers, unknown tokens and non-admins alike; binding errors 422 as a list;
 *   taken name, used email or reserved name 422 `{"message"}`; 201 with the user), and the site
 *   administration page `GET /admin` (302 to sign-in when anonymous, 403 unless site admin).
 * - Its public folder holds only the files in STATIC_FILES and those a test adds (setStaticFile),
 *   served ahead of everything else as Gogs' macaron.Static does: an ETag of the file's size, name
 *   and (built-in files) zero time, a 304 to that ETag in If-None-Match; no Range.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { serveWithGitHttpBackend } from './git-http-backend.js';
import { rawValues } from './raw.js';

/** One request as the fake Gogs saw it. */
export interface RecordedRequest {
  method: string;
  /** Raw request target as received. */
  url: string;
  /** Exactly as received (node's req.rawHeaders): duplicates and original case kept. */
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
  /** TCP peer address (req.socket.remoteAddress). */
  peer: string;
  /** TCP peer port (req.socket.remotePort): equal ports on successive requests mean one reused connection. */
  peerPort: number;
  /** Who Gogs decided the request is from; null = anonymous. */
  identity: string | null;
  identitySource: 'token' | 'session' | 'header' | 'basic' | null;
  /** Every value of the configured auth header in rawHeaders (name compared case-insensitively). */
  authHeaderValues: string[];
  /** Bytes of request body received. */
  bodyBytes: number;
  /** Hex sha256 of the request body, computed while streaming. */
  bodySha256: string;
  /** Resolves when Gogs' response is over: true if it was sent whole, false if the connection went first. */
  responded: Promise<boolean>;
  /** Bytes of a `/download/<n>` body written so far: a write waits for the one before to drain. */
  downloadSent: number;
}

/** Configuration mirroring the relevant Gogs app.ini settings. */
export interface FakeGogsOptions {
  /** `[auth] REVERSE_PROXY_AUTHENTICATION_HEADER`; default 'X-WEBAUTH-USER'. */
  authHeader?: string;
  /**
   * `[auth] TRUSTED_PROXY_IPS`: the header is honoured only from these TCP peers.
   * Entries are exact addresses or CIDR ranges ('127.0.0.0/8').
   * Default ['127.0.0.1', '::1', '::ffff:127.0.0.1'].
   */
  trustedProxyIps?: string[];
  /** `[session] COOKIE_NAME`; default 'i_like_gogs'. */
  sessionCookieName?: string;
  /**
   * Opt-in real git: git smart HTTP (`info/refs`, `git-upload-pack`, `git-receive-pack`) from an
   * authenticated client is served by the real `git http-backend` (./git-http-backend.ts) for the
   * bare repository `<gitRoot>/<owner>/<repo>.git`, with REMOTE_USER the identity resolved here.
   * The request body streams into git and is still counted and hashed in `requests`, recorded
   * once it has ended (the response may have begun). Authentication, LFS and every other path
   * are unchanged. Unset (the default): the canned empty-repository answers below.
   */
  gitRoot?: string;
  /**
   * How long an idle keep-alive connection stays open (Node's server.keepAliveTimeout); default
   * Node's 5 s. 0: for as long as the client keeps it, as Gogs' Go server does (it sets no idle
   * timeout), so a connection Keygate never finishes with is never closed for it.
   */
  keepAliveTimeoutMs?: number;
}

export interface StaticFileOptions {
  etag?: boolean;
  headers?: Record<string, string>;
  chunked?: boolean;
  cutAfter?: number;
  /** Sends that many bytes, then the rest half a second later. */
  pauseAfter?: number;
}

interface StaticFile extends StaticFileOptions {
  body: Buffer;
  type: string;
}

/** The files the stand-in's public folder starts with (the real Gogs has them too). */
const STATIC_FILES: ReadonlyArray<[string, string, string]> = [
  ['/img/favicon.png', 'image/png', 'PNG: the stand-in favicon\n'],
  ['/css/gogs.min.css', 'text/css; charset=utf-8', 'body { margin: 0 }\n'],
];

/** macaron's GenerateETag (static.go): base64 of size, base name and modification time (zero for files built into Gogs). */
function macaronEtag(path: string, size: number): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return `"${Buffer.from(`${size}${name}Mon, 01 Jan 0001 00:00:00 GMT`).toString('base64')}"`;
}

/** A Gogs account as the fake's admin API knows it. */
export interface FakeGogsAccount {
  name: string;
  email: string;
  /** As given when created ('' for an auto-registered user: Gogs' empty-password trap). */
  password: string;
  isAdmin: boolean;
  /** Created by reverse-proxy auto-registration (first sight of the header). */
  autoRegistered: boolean;
  /** The body of the admin API call that created it, if it was created that way. */
  createdWith?: Record<string, unknown>;
}

/** Handle on a running fake Gogs. */
export interface FakeGogs {
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  /** In arrival order; a request is recorded once its body has ended (before the response). */
  requests: RecordedRequest[];
  /** The most recently recorded request. */
  last(): RecordedRequest | undefined;
  /** Forget all recorded requests. */
  clear(): void;
  /**
   * Simulates Gogs' own password sign-in having written a uid to the Gogs session: returns a
   * cookie value; a request carrying `<sessionCookieName>=<value>` is that user, and this beats
   * the header (as in Gogs).
   */
  createGogsSession(username: string): string;
  /**
   * Registers an access token (40 hex chars) for a user, accepted as `Authorization: token <t>`
   * on /api/ and as Basic username or password on git paths.
   */
  addToken(username: string, token: string): void;
  /** Users with a password (for Basic auth with a password, incl. empty password for auto-registered users). */
  setPassword(username: string, password: string): void;
  /**
   * Adds a Gogs account (as `gogs admin create-user` would), e.g. a site admin whose token
   * Keygate uses as GOGS_ADMIN_TOKEN. Accounts are also made by setPassword, addToken,
   * createGogsSession, reverse-proxy auto-registration and `POST /api/v1/admin/users`.
   */
  addUser(username: string, opts?: { email?: string; password?: string; admin?: boolean }): FakeGogsAccount;
  /** Gogs' "site administrator" flag. */
  setSiteAdmin(username: string, admin: boolean): void;
  /** The account of that name (case-insensitive), if any. */
  account(username: string): FakeGogsAccount | undefined;
  /** Make every response wait this many ms before headers (for timeout tests); 0 = off. */
  setDelay(ms: number): void;
  /**
   * Puts a file in Gogs' public folder (`path` as requested, e.g. /css/app.css), or takes it out
   * (null). `etag: false` serves it as Gogs' custom/public folder does, with no ETag; `headers` are
   * added to its answers; `chunked` sends it without Content-Length; `cutAfter` sends that many bytes
   * of it and then drops the connection; `pauseAfter` sends that many, and the rest 500 ms later.
   */
  setStaticFile(path: string, body: Buffer | string | null, opts?: StaticFileOptions): void;
  /** Stop listening, drop open (keep-alive) connections and cancel pending delays. */
  close(): Promise<void>;
}

type Source = RecordedRequest['identitySource'];
interface Who {
  identity: string | null;
  source: Source;
}
const ANONYMOUS: Who = { identity: null, source: null };

const DOWNLOAD_CHUNK = 64 * 1024;
/** Only this much of a body is kept in memory, for the small sign-in form; the rest is only hashed. */
const FORM_LIMIT = 64 * 1024;

const PASSWORD_PAGES = new Set([
  '/user/login',
  '/user/sign_up',
  '/user/forget_password',
  '/user/reset_password',
  '/user/activate',
  '/user/sign-in',
  '/user/sign-up',
  '/user/reset-password',
]);

/** Gogs 0.14 remember-me cookies; its sign-out expires them along with the session. */
const REMEMBER_COOKIES = ['gogs_awesome', 'gogs_incredible'];

/** The git smart HTTP endpoints `gitRoot` hands to git http-backend. */
const GIT_SERVICES = new Set(['info/refs', 'git-upload-pack', 'git-receive-pack']);

// /{owner}/{repo}[.git]/(info/refs | git-upload-pack | git-receive-pack | info/lfs[/...])
const GIT_PATH = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/(info\/refs|git-upload-pack|git-receive-pack|info\/lfs(?:\/.*)?)$/;

/**
 * The body `GET /download/<n>` sends: byte k is `k % 251`. 251 is prime, so the pattern does
 * not line up with the 64 KiB chunks and a reordered or repeated chunk changes the hash.
 */
const PATTERN = Buffer.alloc(DOWNLOAD_CHUNK + 251, 0);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % 251;

function downloadChunk(offset: number, length: number): Buffer {
  const start = offset % 251;
  return PATTERN.subarray(start, start + length);
}

/** Hex sha256 of the body `GET /download/<n>` returns, for asserting a proxied download is intact. */
export function downloadSha256(n: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < n; offset += DOWNLOAD_CHUNK) {
    hash.update(downloadChunk(offset, Math.min(DOWNLOAD_CHUNK, n - offset)));
  }
  return hash.digest('hex');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** All values of one header, by case-insensitive name, in the order received (Go keeps them all too). */

/** Go's `Request.Cookie(name)`: the first cookie of that name across all Cookie headers. */
function firstCookie(rawHeaders: string[], name: string): string | undefined {
  for (const header of rawValues(rawHeaders, 'cookie')) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === name)
        return part
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1');
    }
  }
  return undefined;
}

/**
 * Splits `Authorization` like Gogs does (`strings.Fields`, exactly two fields, scheme compared
 * case-sensitively). Go's `Header.Get` takes the first value; node keeps only the first
 * `authorization` in req.headers as well, but read rawHeaders to be explicit about it.
 */
function authorization(rawHeaders: string[]): { scheme: string; value: string } | undefined {
  const first = rawValues(rawHeaders, 'authorization')[0];
  if (first === undefined) return undefined;
  const fields = first.trim().split(/\s+/);
  if (fields.length !== 2) return undefined;
  return { scheme: fields[0], value: fields[1] };
}

/** Gogs' `tool.BasicAuthDecode`: base64, split at the first colon, a colon is required. */
function basicCredentials(rawHeaders: string[]): { user: string; password: string } | undefined {
  const auth = authorization(rawHeaders);
  if (!auth || auth.scheme !== 'Basic') return undefined;
  const decoded = Buffer.from(auth.value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function pktLine(s: string): string {
  return (s.length + 4).toString(16).padStart(4, '0') + s;
}

/** Start a fake Gogs on 127.0.0.1 at a random port. */
export async function startFakeGogs(options: FakeGogsOptions = {}): Promise<FakeGogs> {
  const authHeader = options.authHeader ?? 'X-WEBAUTH-USER';
  const cookieName = options.sessionCookieName ?? 'i_like_gogs';
  const trustedExact = new Set<string>();
  const trustedRanges = new BlockList();
  for (const entry of options.trustedProxyIps ?? ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    const slash = entry.indexOf('/');
    if (slash < 0) {
      trustedExact.add(entry);
      continue;
    }
    const net = entry.slice(0, slash);
    const family = isIP(net) === 6 ? 'ipv6' : 'ipv4';
    trustedRanges.addSubnet(net, Number(entry.slice(slash + 1)), family);
  }
  const isTrusted = (peer: string): boolean => {
    if (trustedExact.has(peer)) return true;
    const family = isIP(peer);
    return family !== 0 && trustedRanges.check(peer, family === 6 ? 'ipv6' : 'ipv4');
  };

  // Gogs looks usernames up case-insensitively, so key by lower case but keep the spelling given.
  const passwords = new Map<string, { name: string; password: string }>();
  const tokens = new Map<string, string>();
  const sessions = new Map<string, string | null>(); // session id -> username (null: no uid)
  const requests: RecordedRequest[] = [];
  const accounts = new Map<string, FakeGogsAccount>();
  let nextUserId = 1;
  const ensureAccount = (name: string, init: Partial<FakeGogsAccount> = {}): FakeGogsAccount => {
    const existing = accounts.get(name.toLowerCase());
    if (existing) return existing;
    const account: FakeGogsAccount = {
      name,
      email: `${randomBytes(8).toString('hex')}@localhost`,
      password: '',
      isAdmin: false,
      autoRegistered: false,
      ...init,
    };
    accounts.set(name.toLowerCase(), account);
    userIds.set(account, nextUserId++);
    return account;
  };
  const userIds = new Map<FakeGogsAccount, number>();
  const apiUser = (a: FakeGogsAccount, showEmail: boolean) => ({
    id: userIds.get(a),
    username: a.name,
    login: a.name,
    full_name: '',
    email: showEmail ? a.email : '',
    avatar_url: '',
  });
  let delayMs = 0;
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  const newSession = (username: string | null): string => {
    // macaron's session ids are 16 hex characters.
    const sid = randomBytes(8).toString('hex');
    sessions.set(sid, username);
    return sid;
  };

  const passwordUser = (user: string, password: string): string | undefined => {
    const entry = passwords.get(user.toLowerCase());
    return entry && entry.password === password ? entry.name : undefined;
  };

  /** Gogs' `authenticatedUser` for web and API paths. */
  const resolveWeb = (req: IncomingMessage, path: string, peer: string): Who => {
    const raw = req.rawHeaders;
    let tokenPresented = false;
    if (path.startsWith('/api/')) {
      // ?token= was removed in 0.14.2, so only the header form counts.
      const auth = authorization(raw);
      if (auth && auth.scheme === 'token') {
        tokenPresented = true;
        const user = tokens.get(auth.value);
        if (user !== undefined) return { identity: user, source: 'token' };
        // An unknown token skips the session but still falls through to header and Basic, as in Gogs.
      }
    }
    if (!tokenPresented) {
      const sid = firstCookie(raw, cookieName);
      const user = sid === undefined ? undefined : sessions.get(sid);
      if (user) return { identity: user, source: 'session' };
    }
    if (isTrusted(peer)) {
      // Go's Header.Get: first value wins, used as-is; an empty value means "no header".
      const first = rawValues(raw, authHeader)[0];
      // A non-empty header ends the search in Gogs even if it names nobody; with
      // auto-registration on (as here) it always names somebody.
      if (first !== undefined && first.length > 0) return { identity: first, source: 'header' };
    }
    const basic = basicCredentials(raw);
    if (basic) {
      const user = passwordUser(basic.user, basic.password);
      if (user !== undefined) return { identity: user, source: 'basic' };
    }
    return ANONYMOUS;
  };

  /** Git smart HTTP and LFS: Basic only; the header and the session are ignored. */
  const resolveGit = (req: IncomingMessage): Who => {
    const basic = basicCredentials(req.rawHeaders);
    if (!basic || basic.user === '') return ANONYMOUS;
    const user = passwordUser(basic.user, basic.password);
    if (user !== undefined) return { identity: user, source: 'basic' };
    const byToken = tokens.get(basic.user) ?? tokens.get(basic.password);
    if (byToken !== undefined) return { identity: byToken, source: 'token' };
    return ANONYMOUS;
  };

  /** Waits the configured delay; resolves early (and harmlessly) when the server closes. */
  const staticFiles = new Map<string, StaticFile>(STATIC_FILES.map(([path, type, body]) => [path, { body: Buffer.from(body), type }]));
  const serveStatic = async (req: IncomingMessage, res: ServerResponse, path: string, file: StaticFile): Promise<void> => {
    await delay();
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...file.headers };
    if (file.etag !== false) {
      headers.ETag = macaronEtag(path, file.body.length);
      if (req.headers['if-none-match'] === headers.ETag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
    }
    res.writeHead(200, {
      'Accept-Ranges': 'bytes',
      ...(file.chunked ? {} : { 'Content-Length': String(file.body.length) }),
      'Content-Type': file.type,
      ...headers,
    });
    if (req.method === 'HEAD') return void res.end();
    if (file.cutAfter !== undefined) {
      res.write(file.body.subarray(0, file.cutAfter));
      setTimeout(() => res.destroy(), 50);
      return;
    }
    if (file.pauseAfter !== undefined) {
      res.write(file.body.subarray(0, file.pauseAfter));
      setTimeout(() => res.end(file.body.subarray(file.pauseAfter)), 500);
      return;
    }
    res.end(file.body);
  };
  const delay = (): Promise<void> => {
    if (delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          resolve();
        }, delayMs),
        done: resolve,
      };
      pendingDelays.add(entry);
    });
  };

  const send = async (res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: string): Promise<void> => {
    await delay();
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const html = (res: ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}) =>
    send(res, status, { 'Content-Type': 'text/html; charset=utf-8', ...headers }, `<!DOCTYPE html><html><body>${body}</body></html>\n`);
  const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string | string[]> = {}) =>
    send(res, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
  const notFound = (res: ServerResponse, path: string) => send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, `Not found: ${path}`);
  const page = (res: ServerResponse, who: Who) => html(res, 200, who.identity === null ? 'Not signed in' : `Signed in as ${escapeHtml(who.identity)}`);
  const loginPage = (res: ServerResponse, message = '') => html(res, 200, `GOGS PASSWORD LOGIN PAGE${message ? ` <p>${escapeHtml(message)}</p>` : ''}`);
  const expire = (name: string) => `${name}=; Path=/; Max-Age=0; HttpOnly`;

  const download = async (res: ServerResponse, n: number, record: RecordedRequest): Promise<void> => {
    await delay();
    if (res.destroyed) return;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n });
    for (let offset = 0; offset < n && !res.destroyed; offset += DOWNLOAD_CHUNK) {
      const chunk = downloadChunk(offset, Math.min(DOWNLOAD_CHUNK, n - offset));
      const ok = res.write(chunk);
      record.downloadSent += chunk.length;
      if (!ok) {
        // Respect backpressure so a slow proxy really sees a streamed body, not one big buffer.
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('X-Fake-Gogs', '1');
    const method = req.method ?? 'GET';
    const peer = req.socket.remoteAddress ?? '';

    let target: URL;
    try {
      target = new URL(req.url ?? '/', 'http://fake-gogs.invalid');
    } catch {
      target = new URL('http://fake-gogs.invalid/');
    }
    // Go routes on the decoded path, so /%2D/x is /-/x to Gogs as well.
    let path = target.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep the raw path when it is not valid percent-encoding
    }

    const git = GIT_PATH.exec(path);
    // /api/ is routed before repositories in Gogs, and "-" is never an owner.
    const isGit = git !== null && git[1] !== '-' && !path.startsWith('/api/');
    const who = isGit ? resolveGit(req) : resolveWeb(req, path, peer);

    if (options.gitRoot !== undefined && git && isGit && who.identity !== null && GIT_SERVICES.has(git[3])) {
      return serveGit(req, res, { owner: git[1], repo: git[2], action: git[3], query: target.search.slice(1), who, peer });
    }

    // Read the whole body before answering: it is hashed as it streams and only a small
    // prefix is kept, for the sign-in form.
    const hash = createHash('sha256');
    let bodyBytes = 0;
    const prefix: Buffer[] = [];
    let prefixBytes = 0;
    const complete = await new Promise<boolean>((resolve) => {
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bodyBytes += chunk.length;
        if (prefixBytes < FORM_LIMIT) {
          prefix.push(chunk.subarray(0, FORM_LIMIT - prefixBytes));
          prefixBytes += Math.min(chunk.length, FORM_LIMIT - prefixBytes);
        }
      });
      req.once('end', () => resolve(true));
      req.once('error', () => resolve(false));
      req.once('close', () => resolve(req.readableEnded));
    });
    const bodySha256 = hash.digest('hex');

    // Recorded before the response is written, so a test that has its response can rely on it.
    const record: RecordedRequest = {
      method,
      url: req.url ?? '',
      rawHeaders: [...req.rawHeaders],
      headers: req.headers,
      peer,
      peerPort: req.socket.remotePort ?? 0,
      identity: who.identity,
      identitySource: who.source,
      authHeaderValues: rawValues(req.rawHeaders, authHeader),
      bodyBytes,
      bodySha256,
      responded: new Promise<boolean>((resolve) => res.once('close', () => resolve(res.writableFinished))),
      downloadSent: 0,
    };
    requests.push(record);
    if (!complete || res.destroyed) return;

    const isRead = method === 'GET' || method === 'HEAD';

    // Gogs' public folder comes first, for everyone (macaron.Static ahead of sessions and sign-in).
    const file = isRead ? staticFiles.get(target.pathname) : undefined;
    if (file) return serveStatic(req, res, target.pathname, file);
    // No such file: Gogs' router finds no route under these reserved names, and renders its 404 page for the person.
    if (isRead && /^\/(?:assets|css|img|js|plugins)\//.test(path)) {
      return html(res, 404, `Page not found. ${who.identity === null ? 'Not signed in' : `Signed in as ${escapeHtml(who.identity)}`}`);
    }

    // Keygate owns /-/ (the Gogs username "-" is reserved), so nothing there is Gogs.
    if (path === '/-' || path.startsWith('/-/')) return notFound(res, path);

    if (git && isGit) {
      if (who.identity === null) {
        return send(res, 401, { 'WWW-Authenticate': 'Basic realm="."', 'Content-Type': 'text/plain; charset=utf-8' }, 'Unauthorized\n');
      }
      const action = git[3];
      if (action === 'info/refs') {
        const service = target.searchParams.get('service');
        if (!isRead) return notFound(res, path);
        if (service !== 'git-upload-pack' && service !== 'git-receive-pack') {
          return send(res, 403, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Unsupported service\n');
        }
        // An empty repository's advertisement, enough for a real git client to clone.
        const body =
          pktLine(`# service=${service}\n`) +
          '0000' +
          pktLine(`${'0'.repeat(40)} capabilities^{}\0report-status delete-refs side-band-64k ofs-delta agent=fake-gogs\n`) +
          '0000';
        return send(res, 200, { 'Content-Type': `application/x-${service}-advertisement`, 'Cache-Control': 'no-cache' }, body);
      }
      if (action === 'git-upload-pack' || action === 'git-receive-pack') {
        if (method !== 'POST') return notFound(res, path);
        return send(
          res,
          200,
          { 'Content-Type': `application/x-${action}-result`, 'Cache-Control': 'no-cache' },
          JSON.stringify({ service: action, user: who.identity, bytes: bodyBytes, sha256: bodySha256 }),
        );
      }
      // LFS batch and object endpoints: authenticated, otherwise a stub.
      return json(res, 200, { objects: [], user: who.identity }, { 'Content-Type': 'application/vnd.git-lfs+json' });
    }

    // REQUIRE_SIGNIN_VIEW (deploy/gogs/app.ini): an anonymous API call is refused before routing;
    // /api/v1/user then wants a token (reqToken), not a password nor the header. (Other anonymous
    // /api/ paths echo below: a simplification; the contract suite covers these two.)
    const userInfo = /^\/api\/v1\/users\/([^/]+)$/.exec(path);
    if (who.identity === null && (path === '/api/v1/user' || userInfo)) {
      return json(res, 403, { message: 'Only authenticated user is allowed to call APIs.' });
    }
    if (path === '/api/v1/user' && isRead) {
      if (who.source === 'token') return json(res, 200, { username: who.identity });
      return send(res, 401, {}, '');
    }
    // Reverse-proxy auto-registration: the first sight of a name creates the account (empty password).
    if (who.source === 'header' && who.identity !== null) ensureAccount(who.identity, { autoRegistered: true });

    // Gogs' admin API, as internal/route/api/v1 routes it (0.14).
    if (userInfo && userInfo[1] !== 'search' && isRead) {
      // Any signed-in caller may look a user up (anonymous ones were refused above).
      const account = accounts.get(userInfo[1].toLowerCase());
      if (!account) return send(res, 404, {}, '');
      return json(res, 200, apiUser(account, true));
    }
    if (path === '/api/v1/admin/users' && method === 'POST') {
      // reqAdmin(): anonymous (no or unknown token) and non-admins alike get a bare 403.
      if (who.identity === null || !accounts.get(who.identity.toLowerCase())?.isAdmin) return send(res, 403, {}, '');
      return createUser(res, Buffer.concat(prefix).toString('utf8'));
    }
    if (path.startsWith('/api/v1/')) return json(res, 200, { path, identity: who.identity });

    if ((path === '/user/logout' || path === '/api/web/user/sign-out') && method === 'POST') {
      const sid = firstCookie(req.rawHeaders, cookieName);
      if (sid !== undefined) sessions.delete(sid);
      return send(res, 302, { Location: '/', 'Set-Cookie': [cookieName, ...REMEMBER_COOKIES].map(expire) }, '');
    }
    if (path.startsWith('/api/')) return notFound(res, path);

    if (path === '/user/login' && method === 'POST') {
      const form = new URLSearchParams(Buffer.concat(prefix).toString('utf8'));
      const user = passwordUser(form.get('user_name') ?? '', form.get('password') ?? '');
      if (user === undefined) return loginPage(res, 'Username or password is not correct.');
      const sid = newSession(user);
      return send(res, 302, { Location: '/', 'Set-Cookie': `${cookieName}=${sid}; Path=/; HttpOnly` }, '');
    }
    if (PASSWORD_PAGES.has(path)) return loginPage(res);

    if (path.startsWith('/download/') && isRead) {
      const n = /^\/download\/(\d+)$/.exec(path);
      if (!n) return notFound(res, path);
      return download(res, Number(n[1]), record);
    }
    if (path === '/upload' && method === 'POST') return json(res, 200, { bytes: bodyBytes, sha256: bodySha256 });
    if (path === '/set-cookie' && isRead) {
      // ?user=<name> makes it a signed-in session; without it the session has no uid.
      const sid = newSession(target.searchParams.get('user'));
      return send(
        res,
        200,
        { 'Content-Type': 'text/plain; charset=utf-8', 'Set-Cookie': [`${cookieName}=${sid}; Path=/; HttpOnly`, 'lang=en-US; Path=/'] },
        'cookies set\n',
      );
    }

    // The site administration pages: context.Toggle{SignInRequired, AdminRequired}.
    if ((path === '/admin' || path.startsWith('/admin/')) && isRead) {
      if (who.identity === null) return send(res, 302, { Location: '/user/login' }, '');
      if (!accounts.get(who.identity.toLowerCase())?.isAdmin) return send(res, 403, {}, '');
      return html(res, 200, `Site administration (${escapeHtml(who.identity)})`);
    }

    if (isRead) return page(res, who);
    return notFound(res, path);
  };

  /** `gitRoot` set: one git smart HTTP request through the real git http-backend, recorded like any other. */
  const serveGit = async (
    req: IncomingMessage,
    res: ServerResponse,
    r: { owner: string; repo: string; action: string; query: string; who: Who; peer: string },
  ): Promise<void> => {
    const hash = createHash('sha256');
    let bodyBytes = 0;
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      requests.push({
        method: req.method ?? 'GET',
        url: req.url ?? '',
        rawHeaders: [...req.rawHeaders],
        headers: req.headers,
        peer: r.peer,
        peerPort: req.socket.remotePort ?? 0,
        identity: r.who.identity,
        identitySource: r.who.source,
        authHeaderValues: rawValues(req.rawHeaders, authHeader),
        bodyBytes,
        bodySha256: hash.digest('hex'),
        responded,
        downloadSent: 0,
      });
    };
    const responded = new Promise<boolean>((resolve) => res.once('close', () => resolve(res.writableFinished)));
    // Recorded when git has been handed the whole body (observed), or when the request closes
    // without ending (cut off). Not at the request's 'end': chunks may still be on their way to git.
    req.once('close', () => {
      if (!req.readableEnded) record();
    });
    await serveWithGitHttpBackend({
      req,
      res,
      gitRoot: options.gitRoot!,
      pathInfo: `/${r.owner}/${r.repo}.git/${r.action}`,
      query: r.query,
      remoteUser: r.who.identity!,
      observe: (chunk) => {
        if (recorded) return;
        hash.update(chunk);
        bodyBytes += chunk.length;
      },
      observed: record,
    });
    // git stopped reading early (a refused push): what it was handed is what it got.
    record();
  };

  /** admin.CreateUser behind binding.Bind(api.CreateUserOption{}). */
  const createUser = (res: ServerResponse, text: string): Promise<void> => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      return json(res, 400, [{ classification: 'DeserializationError', message: 'invalid JSON' }]);
    }
    const str = (k: string) => (typeof body[k] === 'string' ? body[k] : '');
    const username = str('username');
    const email = str('email');
    const password = str('password');
    // Binding rules: Username Required;AlphaDashDot;MaxSize(35), Email Required;Email;MaxSize(254), Password MaxSize(255).
    const errors: { fieldNames: string[]; classification: string; message: string }[] = [];
    if (username === '') errors.push({ fieldNames: ['username'], classification: 'RequiredError', message: 'Required' });
    else if (!/^[\w.-]+$/.test(username)) errors.push({ fieldNames: ['username'], classification: 'AlphaDashDotError', message: 'AlphaDashDot' });
    else if (username.length > 35) errors.push({ fieldNames: ['username'], classification: 'MaxSizeError', message: 'MaxSize' });
    if (email === '') errors.push({ fieldNames: ['email'], classification: 'RequiredError', message: 'Required' });
    else if (!/^[\w.%+-]+@[\w.-]+\.[a-z]{2,}$/i.test(email)) errors.push({ fieldNames: ['email'], classification: 'EmailError', message: 'Email' });
    else if (email.length > 254) errors.push({ fieldNames: ['email'], classification: 'MaxSizeError', message: 'MaxSize' });
    if (password.length > 255) errors.push({ fieldNames: ['password'], classification: 'MaxSizeError', message: 'MaxSize' });
    if (errors.length) return json(res, 422, errors);
    const docs = 'https://github.com/gogs/docs-api';
    if (['-', '.', '..', 'api', 'user', 'org', 'explore', 'new', 'install'].includes(username.toLowerCase())) {
      return json(res, 422, { message: `name is not allowed [name: ${username}]`, url: docs });
    }
    if (accounts.has(username.toLowerCase())) return json(res, 422, { message: `user already exists [name: ${username}]`, url: docs });
    for (const a of accounts.values()) {
      if (a.email.toLowerCase() === email.toLowerCase()) return json(res, 422, { message: `email has been used [email: ${email}]`, url: docs });
    }
    const account = ensureAccount(username, { email, password, createdWith: body });
    if (password !== '') passwords.set(username.toLowerCase(), { name: username, password });
    return json(res, 201, apiUser(account, true));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the fake must fail the test loudly rather than hang it.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`fake gogs error: ${String(err)}`);
      } else {
        res.destroy();
      }
    });
  });

  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    last: () => requests[requests.length - 1],
    clear: () => {
      requests.length = 0;
    },
    createGogsSession: (username) => {
      ensureAccount(username);
      return newSession(username);
    },
    addToken: (username, token) => {
      if (!/^[0-9a-f]{40}$/.test(token)) throw new Error(`fake gogs: token must be 40 lower-case hex characters: ${token}`);
      ensureAccount(username);
      tokens.set(token, username);
    },
    setPassword: (username, password) => {
      ensureAccount(username).password = password;
      passwords.set(username.toLowerCase(), { name: username, password });
    },
    addUser: (username, opts = {}) => {
      const account = ensureAccount(username);
      if (opts.email !== undefined) account.email = opts.email;
      if (opts.admin !== undefined) account.isAdmin = opts.admin;
      if (opts.password !== undefined) {
        account.password = opts.password;
        passwords.set(username.toLowerCase(), { name: username, password: opts.password });
      }
      return account;
    },
    setSiteAdmin: (username, admin) => {
      ensureAccount(username).isAdmin = admin;
    },
    account: (username) => accounts.get(username.toLowerCase()),
    setStaticFile(path, body, opts = {}) {
      if (body === null) staticFiles.delete(path);
      else staticFiles.set(path, { ...opts, body: Buffer.from(body), type: staticFiles.get(path)?.type ?? 'application/octet-stream' });
    },
    setDelay: (ms) => {
      delayMs = Math.max(0, ms);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const entry of pendingDelays) {
          clearTimeout(entry.timer);
          entry.done();
        }
        pendingDelays.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

/**
 * Streams a request to Gogs and its response back, on a pooled keep-alive client (undici, Node's
 * own HTTP client: about 60% of the CPU per request of `http.request` with an Agent, measured in
 * docs/performance.md). Bodies are streamed in both directions with backpressure: a git push of
 * hundreds of MB is never buffered.
 *
 * This runs for every proxied request, so it allocates as little as it can: one small handler
 * object per request whose methods live on its prototype (no closures per request), and the
 * upstream headers go to the client as a flat list (no header map).
 *
 * On the signed-in pool, Gogs' static files go by the asset cache (asset-cache.ts): a request for
 * a kept file asks Gogs with its ETag, and Gogs' 304 is answered with the kept body.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { AssetCache, Fill, StoredAsset } from './asset-cache.js';
import { cutStalledBody } from './client-limits.js';
import { downstreamHeaders } from './headers.js';

/** Gogs did not connect, or did not start answering, in time: the request gets a 504. */
export class UpstreamTimeout extends Error {
  constructor(readonly phase: 'connect' | 'response') {
    super(`gogs ${phase} timeout`);
    this.name = 'UpstreamTimeout';
  }
}

/** Gogs' Set-Cookie lines as the browser may have them (gogs-session.ts rewriteSetCookies). */
export type SetCookieRewriter = (lines: string[], keygateSid: string | null) => string[];

export interface Upstream {
  /**
   * @param headers a flat [name, value, …] list (see headers.ts upstreamHeaderList)
   * @param keygateSid the request's Keygate session, for Gogs' Set-Cookie (null: none)
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    headers: Array<string | string[]>,
    onUnreachable: (res: ServerResponse, err: Error) => void,
    keygateSid: string | null,
    /** A signed-in request that Gogs sends to its own sign-in page: answered here instead (see isGogsSignInRedirect). */
    onGogsSignIn?: ((res: ServerResponse) => void) | null,
  ): void;
  close(): Promise<void>;
}

/** Gogs' password sign-in pages (0.14 and 0.15), where Gogs sends whoever it does not know. */
const GOGS_SIGN_IN_PATHS = new Set(['/user/login', '/user/sign-in']);

/**
 * Gogs answering a request that carried Keygate's identity header with a redirect to its own
 * sign-in page: it does not know the person Keygate named (no Gogs account of that name, and no
 * auto-registration), or does not trust Keygate's address. Passed on, the browser would loop
 * between Gogs' sign-in (which Keygate blocks, sending it to /-/login) and Keygate's (where it is
 * signed in, sending it back). Location may be relative or absolute (EXTERNAL_URL).
 */
export function isGogsSignInRedirect(statusCode: number, location: string | string[] | undefined): boolean {
  if ((statusCode !== 302 && statusCode !== 303) || typeof location !== 'string') return false;
  const path = location.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/, 1)[0]!;
  return GOGS_SIGN_IN_PATHS.has(path.toLowerCase());
}

const EXCHANGE = Symbol('keygate.exchange');
type Downstream = ServerResponse & { [EXCHANGE]?: Exchange };

/** Keygate would not send this request as it stands (a header undici refuses): the browser's 400. */
export class UnsendableRequest extends Error {
  constructor(cause: Error) {
    super(`request not sendable to gogs: ${cause.message}`);
    this.name = 'UnsendableRequest';
  }
}

/** What the browser's connection may hold unsent before Gogs' answer is paused (backpressure). */
const RESPONSE_BUFFER = 64 * 1024;

/** Socket-level failures of a pooled connection (as opposed to timeouts or refusals). */
const DROPPED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

/** One proxied request: the undici handler, and what it needs to answer the browser. */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  /** Gogs' response has started: errors from now on can only cut the response. */
  started = false;
  /** The bodyless safe request may be sent once more if its pooled connection was dropped. */
  retried = false;
  /** Gogs' answer was replaced by Keygate's (onGogsSignIn, or a stored asset): its body is read and dropped. */
  replaced = false;
  /** A static file's answer being kept for the asset cache as it passes (asset-cache.ts), or null. */
  keeping: Fill | null = null;
  /** Armed whenever Gogs' answer is paused for a browser that is not reading (see paused), or null: never paused. */
  stalledReader: NodeJS.Timeout | null = null;
  /** What the browser's connection had not taken when the answer was last paused or judged (unsent). */
  unsentAtPause = 0;

  constructor(
    readonly upstream: UndiciUpstream,
    readonly req: IncomingMessage,
    readonly res: Downstream,
    readonly options: Dispatcher.DispatchOptions,
    readonly onUnreachable: (res: ServerResponse, err: Error) => void,
    readonly keygateSid: string | null,
    readonly onGogsSignIn: ((res: ServerResponse) => void) | null,
    /** Where this request's answer is kept in the asset cache, or null: no part in it. */
    readonly assetKey: string | null,
    /** The stored answer Gogs was asked about (If-None-Match), or undefined. */
    readonly stored: StoredAsset | undefined,
  ) {}

  setCookies(lines: string[]): string[] {
    return this.upstream.rewriteSetCookies(lines, this.keygateSid);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The browser left while this request waited for a connection to Gogs, or for its session
    // lookup: its 'close' came before anyone could abort. Not sent: sent, its answer would pause
    // on the closed response with nothing to resume it, holding a pooled connection for good.
    if (this.res.destroyed) {
      controller.abort(new Error('the client went away'));
      return;
    }
    // The body is read from now on: only now can it stall (client-limits.ts).
    if (this.options.body !== null) cutStalledBody(this.req, this.res, this.upstream.stalledBodyMs);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    // 1xx are interim (100 Continue is Keygate's own business with the browser): wait for the final one.
    if (statusCode < 200) return;
    this.started = true;
    if (this.onGogsSignIn && isGogsSignInRedirect(statusCode, headers.location)) {
      this.replaced = true;
      this.onGogsSignIn(this.res);
      return;
    }
    if (this.assetKey !== null && this.assetStart(statusCode, headers)) return;
    // One writeHead with the whole list and nothing set before it: repeated headers survive.
    const list = downstreamHeaders(headers, this.upstream.hsts, this);
    if (this.keeping) this.keeping.headers = list;
    this.res.writeHead(statusCode, statusMessage || undefined, list);
  }

  /**
   * A static file's answer (asset-cache.ts): Gogs confirmed the stored body (304 to our
   * If-None-Match), which the browser gets whole, or sent the file, which is kept as it passes if
   * it may be stored. Returns whether the browser was answered here.
   */
  private assetStart(statusCode: number, headers: IncomingHttpHeaders): boolean {
    const cache = this.upstream.assets!;
    if (statusCode === 304 && this.stored) {
      this.replaced = true;
      cache.hits++;
      const { headers: stored, body } = this.stored;
      this.res.writeHead(200, undefined, [...stored, 'content-length', String(body.length)]);
      this.res.end(body);
      return true;
    }
    // Not a 304: the stored file, if any, is not Gogs' file any more.
    if (this.stored) cache.delete(this.assetKey!);
    this.keeping = cache.begin(this.assetKey!, statusCode, headers);
    return false;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici hands over an empty piece each time it resumes a paused body: written on, it would be
    // an empty write to the browser's socket, and another pause while that socket is full.
    if (this.replaced || chunk.length === 0) return;
    if (this.res.destroyed) {
      controller.abort(new Error('the client went away'));
      return;
    }
    if (this.keeping && !this.keeping.add(chunk)) this.keeping = null;
    // Node's write says "wait" for any piece over its 16 KiB mark, even one the kernel then takes
    // whole: Gogs' answer is paused only once the browser's connection holds more than
    // RESPONSE_BUFFER unsent. Otherwise every page of more than 16 KiB paused and resumed undici
    // once, and the end of a chunked page, which undici then read only after the resume, left in a
    // write of its own about half a millisecond later (strace, one page at a time). Now the end
    // joins the page's last piece in Node's one write per tick when Gogs sent them together.
    if (!this.res.write(chunk) && this.res.writableLength > RESPONSE_BUFFER) this.paused(controller);
  }

  /**
   * The browser's connection is full: Gogs' answer waits, and holds its pooled connection, until
   * the browser has taken what is buffered (onDownstreamDrain resumes it). A browser whose
   * connection takes nothing for CLIENT_SEND_TIMEOUT is cut, and the connection to Gogs freed:
   * otherwise a few clients that never read could hold every connection of the pool for good. As
   * nginx's send_timeout, the time is counted from the last write the connection accepted, not from
   * the last time all was taken: one timer per exchange, armed again at each pause, and again when
   * it finds that the connection took something since (cutStalledReader).
   */
  private paused(controller: Dispatcher.DispatchController): void {
    controller.pause();
    this.unsentAtPause = unsent(this.res);
    if (this.stalledReader) this.stalledReader.refresh();
    else this.stalledReader = setTimeout(cutStalledReader, this.upstream.stalledReaderMs, this).unref();
  }

  /** The answer is over, one way or another: its pause is no longer judged. */
  private settled(): void {
    if (this.stalledReader) clearTimeout(this.stalledReader);
    this.stalledReader = null;
  }

  onResponseEnd(): void {
    this.settled();
    if (this.replaced) return;
    this.keeping?.finish();
    this.keeping = null;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.settled();
    this.keeping?.abandon();
    this.keeping = null;
    const res = this.res;
    if (res.destroyed || this.replaced) return;
    if (this.started || res.headersSent) {
      res.destroy(err);
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      this.onUnreachable(res, new UpstreamTimeout('connect'));
      return;
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      this.onUnreachable(res, new UpstreamTimeout('response'));
      return;
    }
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
      this.onUnreachable(res, new UnsendableRequest(err));
      return;
    }
    if (this.mayRetry(code)) {
      // A pooled keep-alive connection that Gogs closed just as this request went out on it. A
      // request without a body that cannot change anything is sent once more, on another
      // connection; anything else gets the 502 (it may have reached Gogs).
      this.retried = true;
      this.controller = null;
      this.upstream.dispatch(this);
      return;
    }
    this.onUnreachable(res, err);
  }

  private mayRetry(code: string | undefined): boolean {
    const method = this.req.method;
    return (
      !this.retried && code !== undefined && DROPPED.has(code) && this.options.body === null && (method === 'GET' || method === 'HEAD' || method === 'OPTIONS')
    );
  }
}

/**
 * The bytes written to the browser's connection that it has not taken yet: those in Node's buffer
 * and those libuv still holds because the kernel would not accept them (the socket's
 * writeQueueSize, which moves whenever the kernel takes part of a write).
 */
function unsent(res: ServerResponse): number {
  // _handle is the socket's libuv stream: internal to Node, but its writeQueueSize is the only
  // measure of a write the kernel has taken part of.
  const socket = res.socket as { writableLength: number; _handle?: { writeQueueSize?: number } | null } | null;
  return socket ? socket.writableLength + (socket._handle?.writeQueueSize ?? 0) : 0;
}

/**
 * CLIENT_SEND_TIMEOUT after a pause (or after the last judgement): a browser whose connection took
 * something since is given the time again; one that took nothing is cut.
 */
export function cutStalledReader(x: Pick<Exchange, 'controller' | 'res' | 'unsentAtPause' | 'stalledReader'>): void {
  const controller = x.controller;
  if (!controller?.paused || controller.aborted || x.res.destroyed) return;
  const now = unsent(x.res);
  if (now !== x.unsentAtPause) {
    x.unsentAtPause = now;
    x.stalledReader?.refresh();
    return;
  }
  const err = new Error('the client stopped reading');
  controller.abort(err);
  x.res.destroy(err);
}

/** The browser can take more: let Gogs' response flow again. */
function onDownstreamDrain(this: Downstream): void {
  const controller = this[EXCHANGE]?.controller;
  if (controller?.paused) controller.resume();
}

/** If the browser goes away, stop the upstream transfer too. */
function onDownstreamClose(this: Downstream): void {
  if (this.writableFinished) return;
  const controller = this[EXCHANGE]?.controller;
  if (controller && !controller.aborted) controller.abort(new Error('the client went away'));
}

class UndiciUpstream implements Upstream {
  private readonly pool: Pool;
  private readonly origin: string;

  readonly stalledBodyMs: number;
  readonly stalledReaderMs: number;

  constructor(
    target: URL,
    readonly hsts: boolean,
    readonly rewriteSetCookies: SetCookieRewriter,
    opts: UpstreamOptions,
    /** Gogs' static files' bodies (asset-cache.ts), or null: no cache on this pool. */
    readonly assets: AssetCache | null,
  ) {
    this.origin = target.origin;
    this.stalledBodyMs = opts.stalledBodyMs;
    this.stalledReaderMs = opts.stalledReaderMs;
    this.pool = new Pool(target.origin, {
      connections: opts.connections,
      // Client's own option: undici's connector overrides a `connect.localAddress` with this one.
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      pipelining: 1,
      connectTimeout: opts.connectMs,
      // From the end of the request body until Gogs' response headers ("while not sending the
      // request"): an upload that takes longer is not cut.
      headersTimeout: opts.responseMs,
      // No limit once the response flows: a long clone is never cut while data moves.
      bodyTimeout: 0,
    });
  }

  dispatch(x: Exchange): void {
    this.pool.dispatch(x.options, x);
  }

  forward(
    req: IncomingMessage,
    res: ServerResponse,
    headers: Array<string | string[]>,
    onUnreachable: (res: ServerResponse, err: Error) => void,
    keygateSid: string | null,
    onGogsSignIn: ((res: ServerResponse) => void) | null = null,
  ): void {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const assetKey = this.assets && !hasBody ? this.assets.keyFor(req) : null;
    const stored = assetKey === null ? undefined : this.assets!.get(assetKey);
    // Gogs is asked whether the stored file is still current.
    if (stored) headers = [...headers, 'if-none-match', stored.etag];
    const options: Dispatcher.DispatchOptions = {
      origin: this.origin,
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: headers as string[],
      body: hasBody ? req : null,
    };
    const x = new Exchange(this, req, res, options, onUnreachable, keygateSid, onGogsSignIn, assetKey, stored);
    (res as Downstream)[EXCHANGE] = x;
    res.on('drain', onDownstreamDrain);
    res.on('close', onDownstreamClose);
    // Errors, including a request undici will not send, arrive at x.onResponseError.
    this.dispatch(x);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

export interface UpstreamOptions {
  /** Connect: until the TCP connection is up. Neither limits a body that is flowing, so a long git transfer is never cut while data moves. */
  connectMs: number;
  /** From the end of the request body until Gogs' response headers. */
  responseMs: number;
  /** Most connections to Gogs this pool opens; requests beyond wait in line. */
  connections: number;
  /** A request body that stops moving this long, once Keygate reads it, is cut (CLIENT_BODY_TIMEOUT). */
  stalledBodyMs: number;
  /** A browser that takes none of the answer for this long is cut (CLIENT_SEND_TIMEOUT). */
  stalledReaderMs: number;
  /** Source address of connections to Gogs (GOGS_SOURCE_ADDRESS), for Gogs' TRUSTED_PROXY_IPS. */
  localAddress?: string;
}

/**
 * @param hsts add HSTS to Gogs' responses that lack it (PUBLIC_URL is https)
 * @param assets the cache of Gogs' static files for this pool's requests, or null
 */
export function createUpstream(
  target: URL,
  hsts: boolean,
  rewriteSetCookies: SetCookieRewriter,
  opts: UpstreamOptions,
  assets: AssetCache | null = null,
): Upstream {
  return new UndiciUpstream(target, hsts, rewriteSetCookies, opts, assets);
}

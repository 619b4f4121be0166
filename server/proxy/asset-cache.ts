/**
 * The bodies of Gogs' static files (its stylesheets, scripts, images and fonts), kept in memory so
 * that a page's assets cross Keygate without their bytes crossing from Gogs again. Gogs stays the
 * authority on every request: each one is still sent to Gogs, asking with the stored ETag whether
 * the file changed (If-None-Match); Gogs answers 304 (Keygate sends the stored body) or the file
 * (Keygate sends it, and stores it). Nothing is ever served that Gogs has not just confirmed.
 *
 * What may be stored, and why it is the same for everyone (Gogs 0.14.3, internal/cmd/web.go and
 * macaron's static.go): Gogs serves /assets, /css, /img, /js and /plugins from its public folder by
 * macaron.Static middleware, ahead of its session and sign-in middleware, so the answer does not
 * depend on who asks. Those names are reserved usernames, so no user or repository page lives
 * under them; a path with no such file falls through to Gogs' 404 page, which is rendered for the
 * person, and is never stored: only a 200 with an ETag and no Set-Cookie is. Gogs' own public
 * folder is served with ETags; the custom/public folder that overrides it is not, so an override
 * is never stored, and replaces a stored file at its next request.
 *
 * Gogs' ETag is the file's size, name and modification time; for the files built into its binary
 * the time is zero, so a changed file of the same size would keep its ETag (for browsers too). An
 * entry is therefore also dropped after MAX_AGE_MS and fetched whole again. Requests that already
 * ask Gogs something of their own (conditional, ranged, `no-store`) pass by the cache untouched.
 *
 * Memory is bounded whatever signed-in people ask for: entries (body, key and 1 KiB for headers)
 * within the configured size, no key longer than MAX_URL + MAX_ENCODING, and the files being kept
 * as they pass (a slow reader can hold one for long) within the same size again, one fill per key.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';

/**
 * Gogs' static folders, and a path of plain segments under one: no dot segment, no
 * percent-encoding, nothing Gogs' router would read otherwise; a query (gogs.css?v=…) may follow.
 * The query is part of the key: Gogs changes it when a file changes with a release.
 */
const STATIC_PATH = /^\/(?:assets|css|img|js|plugins)(?:\/(?!\.\.?(?:[/?]|$))[\w.~+-]+)+(?:\?[^#]*)?$/;

/** Longer request targets and Accept-Encoding values are passed by (Gogs' own are far shorter). */
const MAX_URL = 512;
const MAX_ENCODING = 128;

/** Counted for an entry beside its body and key: its header list and the cache's own bookkeeping. */
const ENTRY_OVERHEAD = 1024;

/** An entry is fetched whole again after this long, whatever Gogs' ETag says (see above). */
export const MAX_AGE_MS = 10 * 60_000;

/** The largest file stored is this fraction of the whole cache. */
const ENTRY_SHARE = 8;

export interface StoredAsset {
  etag: string;
  /** Response headers as the browser gets them (downstreamHeaders), without Date and Content-Length (set when sent). */
  headers: Array<string | string[]>;
  body: Buffer;
}

/** A clock in milliseconds (performance by default; tests pass their own). */
export interface Clock {
  now(): number;
}

export class AssetCache {
  private readonly entries: LRUCache<string, StoredAsset>;
  /** Bodies larger than this are passed on and not stored. */
  readonly maxEntryBytes: number;
  /** Answers given from a stored body after Gogs' 304, since start (keygate_asset_cache_hits_total). */
  hits = 0;
  /** Keys whose file is being kept as it passes, and the bytes held for them. */
  private readonly filling = new Set<string>();
  private fillingBytes = 0;

  constructor(
    private readonly maxBytes: number,
    clock?: Clock,
  ) {
    this.maxEntryBytes = Math.floor(maxBytes / ENTRY_SHARE);
    this.entries = new LRUCache<string, StoredAsset>({
      maxSize: maxBytes,
      sizeCalculation: (a, key) => a.body.length + key.length + ENTRY_OVERHEAD,
      ttl: MAX_AGE_MS,
      // The clock is read on each lookup (its default caches it for 1 ms with a timer per lookup).
      ttlResolution: 0,
      ...(clock ? { perf: clock } : {}),
    });
  }

  /**
   * The key this request's answer is stored under, or null when the cache has no part in it. The
   * encoding the browser accepts is part of the key, since Gogs compresses when ENABLE_GZIP is on.
   */
  keyFor(req: IncomingMessage): string | null {
    if (req.method !== 'GET') return null;
    const url = req.url!;
    if (url.length > MAX_URL || !STATIC_PATH.test(url)) return null;
    const h = req.headers;
    if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-match'] !== undefined) return null;
    if (h['if-unmodified-since'] !== undefined || h.range !== undefined || h['if-range'] !== undefined) return null;
    if (h['cache-control']?.includes('no-store')) return null;
    const encoding = h['accept-encoding'] ?? '';
    if (encoding.length > MAX_ENCODING) return null;
    return `${url}\n${encoding}`;
  }

  get(key: string): StoredAsset | undefined {
    return this.entries.get(key);
  }

  /**
   * Starts keeping Gogs' answer for `key` as it passes, or returns null when it may not be stored:
   * not a 200 with an ETag, a cookie, varying by more than the encoding, marked private, no-store
   * or no-cache, declared larger than an entry may be, of a length that cannot be told whole
   * (neither Content-Length nor chunked), or already being kept for another request.
   */
  begin(key: string, statusCode: number, headers: IncomingHttpHeaders): Fill | null {
    if (statusCode !== 200 || typeof headers.etag !== 'string' || headers['set-cookie'] !== undefined) return null;
    const vary = headers.vary;
    if (vary !== undefined && (typeof vary !== 'string' || vary.trim().toLowerCase() !== 'accept-encoding')) return null;
    const cc = headers['cache-control'];
    if (cc !== undefined && (typeof cc !== 'string' || /no-store|private|no-cache/i.test(cc))) return null;
    const declared = headers['content-length'];
    let length: number;
    if (declared !== undefined) {
      length = Number(declared);
      if (!(length <= this.maxEntryBytes)) return null;
    } else if (/\bchunked\b/i.test(String(headers['transfer-encoding'] ?? ''))) {
      length = -1;
    } else return null; // ends when the connection closes: a cut would look whole
    if (this.filling.has(key)) return null;
    this.filling.add(key);
    return new Fill(this, key, headers.etag, length);
  }

  /** Takes room for n more bytes being kept; false when the files being kept already fill the cache's size. */
  reserve(n: number): boolean {
    if (this.fillingBytes + n > this.maxBytes) return false;
    this.fillingBytes += n;
    return true;
  }

  /** A fill is over (stored or not): its key and bytes are free again. */
  release(key: string, bytes: number): void {
    this.filling.delete(key);
    this.fillingBytes -= bytes;
  }

  set(key: string, etag: string, headers: Array<string | string[]>, body: Buffer): void {
    const kept: Array<string | string[]> = [];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name !== 'date' && name !== 'content-length') kept.push(name, headers[i + 1]!);
    }
    this.entries.set(key, { etag, headers: kept, body });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Files stored now (keygate_asset_cache_entries). */
  get entryCount(): number {
    return this.entries.size;
  }

  /** Memory they are counted as taking: body, key and ENTRY_OVERHEAD each (keygate_asset_cache_bytes). */
  get byteCount(): number {
    return this.entries.calculatedSize;
  }

  /** Bytes held now by files being kept as they pass. */
  get fillingByteCount(): number {
    return this.fillingBytes;
  }
}

/** One file being kept as it passes to the browser: stored if it arrives whole. */
export class Fill {
  /** The browser's header list (downstreamHeaders), set once written. */
  headers: Array<string | string[]> = [];
  private chunks: Buffer[] = [];
  private bytes = 0;
  private over = false;

  constructor(
    private readonly cache: AssetCache,
    readonly key: string,
    readonly etag: string,
    /** Content-Length as Gogs declared it; -1 for a chunked body. */
    private readonly length: number,
  ) {}

  /** Keeps a piece; false when the file turned out too large to keep (the fill is then abandoned). */
  add(chunk: Buffer): boolean {
    if (this.over) return false;
    if (this.bytes + chunk.length > this.cache.maxEntryBytes || !this.cache.reserve(chunk.length)) {
      this.abandon();
      return false;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    return true;
  }

  /** Gogs' answer ended: stored if every byte arrived (its own memory, not slices of the socket's reads). */
  finish(): void {
    if (this.over) return;
    if (this.length === -1 || this.length === this.bytes) {
      const body = Buffer.allocUnsafeSlow(this.bytes);
      let at = 0;
      for (const chunk of this.chunks) at += chunk.copy(body, at);
      this.cache.set(this.key, this.etag, this.headers, body);
    }
    this.abandon();
  }

  /** Gogs' answer failed or was cut, or the file is too large: nothing stored. */
  abandon(): void {
    if (this.over) return;
    this.over = true;
    this.chunks = [];
    this.cache.release(this.key, this.bytes);
  }
}

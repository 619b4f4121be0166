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
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';

/**
 * Gogs' static folders, and a path of plain segments under one: no dot segment, no
 * percent-encoding, nothing Gogs' router would read otherwise; a query (gogs.css?v=…) may follow.
 */
const STATIC_PATH = /^\/(?:assets|css|img|js|plugins)(?:\/(?!\.\.?(?:[/?]|$))[\w.~+-]+)+(?:\?[^#]*)?$/;

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

export class AssetCache {
  private readonly entries: LRUCache<string, StoredAsset>;
  /** Bodies larger than this are passed on and not stored. */
  readonly maxEntryBytes: number;
  /** Answers given from a stored body after Gogs' 304, since start (keygate_asset_cache_hits_total). */
  hits = 0;

  constructor(maxBytes: number) {
    this.maxEntryBytes = Math.floor(maxBytes / ENTRY_SHARE);
    this.entries = new LRUCache<string, StoredAsset>({
      maxSize: maxBytes,
      maxEntrySize: this.maxEntryBytes,
      sizeCalculation: (a) => a.body.length + 512,
      ttl: MAX_AGE_MS,
    });
  }

  /**
   * The key this request's answer is stored under, or null when the cache has no part in it. The
   * encoding the browser accepts is part of the key, since Gogs compresses when ENABLE_GZIP is on.
   */
  keyFor(req: IncomingMessage): string | null {
    if (req.method !== 'GET') return null;
    const url = req.url!;
    if (!STATIC_PATH.test(url)) return null;
    const h = req.headers;
    if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined || h['if-match'] !== undefined) return null;
    if (h['if-unmodified-since'] !== undefined || h.range !== undefined || h['if-range'] !== undefined) return null;
    if (h['cache-control']?.includes('no-store')) return null;
    return `${url}\n${h['accept-encoding'] ?? ''}`;
  }

  get(key: string): StoredAsset | undefined {
    return this.entries.get(key);
  }

  /**
   * Whether Gogs' answer may be stored: a 200 with an ETag, no cookie, varying at most by encoding,
   * not marked private or no-store, and not declared larger than an entry may be.
   */
  storable(statusCode: number, headers: IncomingHttpHeaders): boolean {
    if (statusCode !== 200 || typeof headers.etag !== 'string' || headers['set-cookie'] !== undefined) return false;
    const vary = headers.vary;
    if (vary !== undefined && (typeof vary !== 'string' || vary.trim().toLowerCase() !== 'accept-encoding')) return false;
    const cc = headers['cache-control'];
    if (cc !== undefined && (typeof cc !== 'string' || /no-store|private|no-cache/i.test(cc))) return false;
    const length = headers['content-length'];
    return length === undefined || Number(length) <= this.maxEntryBytes;
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

  /** Memory they are counted as taking: their bodies, and 512 bytes each for the rest (keygate_asset_cache_bytes). */
  get byteCount(): number {
    return this.entries.calculatedSize;
  }
}

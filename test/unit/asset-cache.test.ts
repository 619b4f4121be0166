/**
 * The asset cache's rules on their own (server/proxy/asset-cache.ts): which requests it takes
 * part in, which answers it keeps, and the bounds on its memory whatever signed-in people ask for.
 * Through Keygate: test/asset-cache.test.ts (stand-in) and test/real-gogs-assets.test.ts.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { AssetCache, MAX_AGE_MS } from '../../server/proxy/asset-cache.js';

const MiB = 1024 * 1024;

/** What keyFor reads of a request. */
const request = (url: string, headers: IncomingHttpHeaders = {}, method = 'GET') => ({ method, url, headers }) as IncomingMessage;

const FILE: IncomingHttpHeaders = { etag: '"abc"', 'content-length': '5', 'content-type': 'text/css' };

describe('asset cache: which requests it takes part in', () => {
  const cache = new AssetCache(MiB);

  test("a GET of a plain path under Gogs' static folders, its query and accepted encoding in the key", () => {
    for (const url of [
      '/css/gogs.min.css',
      '/css/gogs.min.css?v=0a1b',
      '/js/libs/clipboard-2.0.4.min.js',
      '/assets/font-awesome-4.6.3/css/font-awesome.min.css',
      '/img/favicon.png',
      '/plugins/highlight-9.18.0/github.css',
    ]) {
      assert.equal(cache.keyFor(request(url, { 'accept-encoding': 'gzip' })), `${url}\ngzip`, url);
    }
    assert.notEqual(cache.keyFor(request('/js/a.js', { 'accept-encoding': 'gzip' })), cache.keyFor(request('/js/a.js')));
  });

  test('not other methods, other folders, other spellings, dot segments, empty segments or percent-encoding', () => {
    assert.equal(cache.keyFor(request('/js/a.js', {}, 'HEAD')), null);
    assert.equal(cache.keyFor(request('/js/a.js', {}, 'POST')), null);
    for (const url of [
      '/',
      '/js',
      '/js/',
      '/JS/a.js',
      '/Css/a.css',
      '/less/a.less',
      '/avatars/1',
      '/ana/repo/raw/master/a.js',
      '/js/./a.js',
      '/js/../a.js',
      '/js/x/../a.js',
      '/js/..',
      '/js//a.js',
      '/js/%61.js',
      '/js/a.js#x',
      '/js\\a.js',
      '/jsx/a.js',
      '/css/a b.css',
    ]) {
      assert.equal(cache.keyFor(request(url)), null, url);
    }
  });

  test('not a request that asks Gogs something of its own: conditional, ranged, no-store', () => {
    for (const [name, value] of [
      ['if-none-match', '"x"'],
      ['if-modified-since', 'Mon, 01 Jan 2024 00:00:00 GMT'],
      ['if-match', '"x"'],
      ['if-unmodified-since', 'Mon, 01 Jan 2024 00:00:00 GMT'],
      ['range', 'bytes=0-1'],
      ['if-range', '"x"'],
      ['cache-control', 'no-store'],
    ]) {
      assert.equal(cache.keyFor(request('/js/a.js', { [name]: value })), null, name);
    }
    assert.notEqual(cache.keyFor(request('/js/a.js', { 'cache-control': 'no-cache' })), null, 'no-cache: every answer is Gogs-confirmed anyway');
  });

  test('not a request target over 512 characters or an Accept-Encoding over 128 (no key outgrows the bound on memory)', () => {
    const target = (length: number) => `/js/a.js?v=${'x'.repeat(length - '/js/a.js?v='.length)}`;
    assert.notEqual(cache.keyFor(request(target(512))), null);
    assert.equal(cache.keyFor(request(target(513))), null);
    assert.notEqual(cache.keyFor(request('/js/a.js', { 'accept-encoding': 'g'.repeat(128) })), null);
    assert.equal(cache.keyFor(request('/js/a.js', { 'accept-encoding': 'g'.repeat(129) })), null);
  });
});

describe('asset cache: which answers it keeps', () => {
  test("only a 200 with an ETag, no cookie, varying at most by encoding, not private/no-store/no-cache, whose end can be told (Content-Length or chunked) and within an entry's size", () => {
    const cache = new AssetCache(MiB);
    const refused: IncomingHttpHeaders[] = [
      { ...FILE, etag: undefined },
      { ...FILE, 'set-cookie': ['a=b'] },
      { ...FILE, vary: 'Cookie' },
      { ...FILE, vary: 'Accept-Encoding, Cookie' },
      { ...FILE, 'cache-control': 'private' },
      { ...FILE, 'cache-control': 'no-store' },
      { ...FILE, 'cache-control': 'max-age=0, no-cache' },
      { ...FILE, 'content-length': String(MiB / 8 + 1) },
      { ...FILE, 'content-length': undefined },
    ];
    for (const headers of refused) assert.equal(cache.begin('k', 200, headers), null, JSON.stringify(headers));
    assert.equal(cache.begin('k', 404, FILE), null);
    assert.equal(cache.begin('k', 206, FILE), null);
    for (const headers of [
      FILE,
      { ...FILE, vary: 'accept-encoding' },
      { ...FILE, 'content-length': String(MiB / 8) },
      { ...FILE, 'content-length': undefined, 'transfer-encoding': 'chunked' },
    ]) {
      const fill = cache.begin('k', 200, headers);
      assert.ok(fill, JSON.stringify(headers));
      fill.abandon();
    }
  });

  test('a body is stored only whole, in memory of its own (not a slice of a socket read or a shared slab)', () => {
    const cache = new AssetCache(MiB);
    const short = cache.begin('short', 200, { ...FILE, 'content-length': '10' })!;
    short.add(Buffer.from('12345'));
    short.finish();
    assert.equal(cache.get('short'), undefined, 'fewer bytes than declared: not stored');

    const fill = cache.begin('whole', 200, FILE)!;
    const read = Buffer.from('..abcde..');
    fill.add(read.subarray(2, 4));
    fill.add(read.subarray(4, 7));
    fill.headers = ['content-type', 'text/css', 'date', 'then', 'content-length', '5', 'etag', '"abc"'];
    fill.finish();
    const stored = cache.get('whole')!;
    assert.equal(stored.body.toString(), 'abcde');
    assert.equal(stored.etag, '"abc"');
    assert.deepEqual(stored.headers, ['content-type', 'text/css', 'etag', '"abc"'], 'Date and Content-Length are set when sent');
    assert.equal(stored.body.byteOffset, 0);
    assert.equal(stored.body.buffer.byteLength, 5, 'its own memory');
    read.fill(0);
    assert.equal(cache.get('whole')!.body.toString(), 'abcde', 'not a view of the read');
  });

  test('a file found too large as it passes (chunked) is abandoned, and a key is kept by one request at a time', () => {
    const cache = new AssetCache(MiB);
    const fill = cache.begin('big', 200, { ...FILE, 'content-length': undefined, 'transfer-encoding': 'chunked' })!;
    assert.equal(cache.begin('big', 200, FILE), null, 'another request for the same key passes by meanwhile');
    assert.equal(fill.add(Buffer.alloc(MiB / 8)), true);
    assert.equal(fill.add(Buffer.alloc(1)), false, 'one byte over an eighth of the cache');
    assert.equal(cache.fillingByteCount, 0, 'its bytes are let go at once');
    fill.finish();
    assert.equal(cache.get('big'), undefined);
    const left = cache.begin('left', 200, FILE)!;
    left.add(Buffer.from('ab'));
    left.abandon();
    assert.equal(left.add(Buffer.from('cde')), false, 'nothing more is taken once abandoned');
    assert.equal(cache.fillingByteCount, 0);
    assert.ok(cache.begin('big', 200, FILE), 'the key is free again');
  });

  test('files being kept as they pass hold at most the cache size between them (slow readers cannot pile them up)', () => {
    const cache = new AssetCache(MiB);
    const fills = Array.from({ length: 9 }, (_, i) => cache.begin(`slow-${i}`, 200, { ...FILE, 'content-length': String(MiB / 8) })!);
    const eighth = Buffer.alloc(MiB / 8);
    const kept = fills.map((f) => f.add(eighth));
    assert.deepEqual(kept, [true, true, true, true, true, true, true, true, false]);
    assert.equal(cache.fillingByteCount, MiB);
    fills[0].abandon();
    assert.equal(cache.fillingByteCount, MiB - MiB / 8);
    fills[0].abandon();
    assert.equal(cache.fillingByteCount, MiB - MiB / 8, 'abandoning twice releases once');
    fills[1].finish();
    assert.equal(cache.fillingByteCount, MiB - MiB / 4);
    assert.ok(cache.get('slow-1'), 'a finished fill is stored');
  });
});

describe('asset cache: memory and age', () => {
  test('entries count their key and a fixed 1 KiB for their headers as well as their body, and never exceed the size together', () => {
    const cache = new AssetCache(MiB);
    const key = `/js/a.js?v=${'x'.repeat(500)}\n${'g'.repeat(128)}`;
    cache.set(key, '"e"', [], Buffer.alloc(100));
    assert.equal(cache.byteCount, 100 + key.length + 1024);
    for (let i = 0; i < 10_000; i++) cache.set(`${key}${i}`, '"e"', [], Buffer.alloc(1));
    assert.ok(cache.byteCount <= MiB, `${cache.byteCount} bytes`);
    assert.ok(cache.entryCount < 1000, `${cache.entryCount} entries of tiny bodies in 1 MiB`);
  });

  test('an entry is dropped after 10 minutes, whatever Gogs would say of its ETag', () => {
    let now = 1_000_000;
    const cache = new AssetCache(MiB, { now: () => now });
    cache.set('k', '"e"', [], Buffer.from('x'));
    now += MAX_AGE_MS - 1;
    assert.ok(cache.get('k'), 'still kept just before');
    now += 2;
    assert.equal(cache.get('k'), undefined, 'fetched whole again after');
    assert.equal(MAX_AGE_MS, 600_000);
  });
});

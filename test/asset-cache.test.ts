/**
 * The asset cache (server/proxy/asset-cache.ts) against the stand-in Gogs, whose public folder
 * behaves as Gogs' does (test/gogs-contract.test.ts checks it against the real one): what Gogs is
 * asked on each request (its recorded requests), and what the browser gets. The real Gogs behind
 * it: test/real-gogs-assets.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enrolledUser } from './support/flows.js';
import type { RecordedRequest } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { asGiven, rawValues, sendRaw } from './support/raw.js';

/** A metric of the asset cache's, as a scrape reads it. */
async function metric(kg: TestKeygate, name: 'entries' | 'bytes' | 'hits_total'): Promise<number> {
  const text = await kg.gateway.metrics.registry.metrics();
  const m = new RegExp(`^keygate_asset_cache_${name} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `keygate_asset_cache_${name} is scraped`);
  return Number(m[1]);
}

/** The If-None-Match Keygate sent Gogs with this request, if any. */
const asked = (rec: RecordedRequest | undefined) => rawValues(rec?.rawHeaders ?? [], 'if-none-match');

describe('asset cache', () => {
  let kg: TestKeygate;
  let ana: TestClient;
  let bob: TestClient;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_ASSET_CACHE_MB: '1' } });
    ana = new TestClient(kg.url);
    bob = new TestClient(kg.url);
    await enrolledUser(kg, ana, new SoftwareAuthenticator(), 'ana');
    await enrolledUser(kg, bob, new SoftwareAuthenticator(), 'bob');
  });
  after(() => kg?.close());
  beforeEach(() => kg.gogs.clear());

  const get = (client: TestClient, path: string, headers: string[] = [], method = 'GET') =>
    sendRaw(kg.url, { method, path, headers: ['Cookie', client.cookieHeader()!, ...headers] });

  test("a static file's bytes cross from Gogs once: later requests ask Gogs with its ETag, get a 304, and the browser gets the same 200 and bytes", async () => {
    kg.gogs.setStaticFile('/js/once.js', 'console.log("once");\n'.repeat(50));
    const [entries, hits] = [await metric(kg, 'entries'), await metric(kg, 'hits_total')];
    const first = await get(ana, '/js/once.js');
    assert.equal(await metric(kg, 'entries'), entries + 1);
    assert.equal(first.status, 200);
    assert.deepEqual(asked(kg.gogs.last()), [], 'the first request asks Gogs nothing of its own');
    for (const client of [ana, bob, ana]) {
      const next = await get(client, '/js/once.js');
      assert.deepEqual(asGiven(next), asGiven(first), 'the stored answer is the one Gogs gave');
      assert.ok(next.headers.date, 'with a Date of its own');
      assert.deepEqual(asked(kg.gogs.last()), [String(first.headers.etag)], "Gogs is asked with the stored file's ETag");
    }
    assert.equal(kg.gogs.requests.length, 4, 'every request still reaches Gogs');
    assert.equal(await metric(kg, 'hits_total'), hits + 3, 'three answers from the kept body');
    assert.ok((await metric(kg, 'bytes')) >= Buffer.byteLength('console.log("once");\n') * 50);
  });

  test('a query is part of the address: each version of gogs.css?v= is stored on its own', async () => {
    kg.gogs.setStaticFile('/css/versioned.css', 'a { color: red }');
    await get(ana, '/css/versioned.css?v=1');
    const other = await get(ana, '/css/versioned.css?v=2');
    assert.equal(other.status, 200);
    assert.deepEqual(asked(kg.gogs.last()), [], 'another query is another entry');
    await get(ana, '/css/versioned.css?v=1');
    assert.equal(asked(kg.gogs.last()).length, 1);
  });

  test('a file that changed in Gogs (another ETag) is sent whole at the next request, and replaces the stored one', async () => {
    kg.gogs.setStaticFile('/js/changes.js', 'version 1');
    await get(ana, '/js/changes.js');
    kg.gogs.setStaticFile('/js/changes.js', 'version 2, longer');
    const changed = await get(ana, '/js/changes.js');
    assert.equal(changed.status, 200);
    assert.equal(changed.text, 'version 2, longer');
    const again = await get(bob, '/js/changes.js');
    assert.equal(again.text, 'version 2, longer');
    assert.deepEqual(asked(kg.gogs.last()), [String(changed.headers.etag)]);
  });

  test("a file Gogs serves without an ETag (Gogs' custom/public folder) is never stored, and replaces a stored one at once", async () => {
    kg.gogs.setStaticFile('/img/custom.png', 'built in');
    await get(ana, '/img/custom.png');
    const entries = await metric(kg, 'entries');
    kg.gogs.setStaticFile('/img/custom.png', 'overridden by the admin', { etag: false });
    for (let i = 0; i < 2; i++) {
      const res = await get(ana, '/img/custom.png');
      assert.equal(res.text, 'overridden by the admin');
      assert.equal(res.headers.etag, undefined);
    }
    assert.deepEqual(asked(kg.gogs.last()), [], 'nothing stored to ask about');
    assert.equal(await metric(kg, 'entries'), entries - 1, 'the built-in file is dropped, the override not kept');
  });

  test('a page Gogs renders under a static folder (no such file) is rendered for each person, never stored', async () => {
    for (const [client, name] of [
      [ana, 'ana'],
      [bob, 'bob'],
      [ana, 'ana'],
    ] as const) {
      const res = await get(client, '/css/no-such-file.css');
      assert.equal(res.status, 404);
      assert.match(res.text, new RegExp(`Signed in as ${name}\\b`));
      assert.deepEqual(asked(kg.gogs.last()), []);
    }
  });

  test('answers that are not the same for everyone are never stored: a cookie, Cache-Control private or no-store, Vary on anything but the encoding', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['/js/cookie.js', { 'Set-Cookie': 'lang=en-US; Path=/' }],
      ['/js/private.js', { 'Cache-Control': 'private' }],
      ['/js/no-store.js', { 'Cache-Control': 'no-store' }],
      ['/js/vary.js', { Vary: 'Cookie' }],
    ];
    const entries = await metric(kg, 'entries');
    for (const [path, headers] of cases) {
      kg.gogs.setStaticFile(path, `body of ${path}`, { headers });
      for (let i = 0; i < 2; i++) {
        const res = await get(ana, path);
        assert.equal(res.text, `body of ${path}`);
        assert.deepEqual(asked(kg.gogs.last()), [], `${path}: not stored`);
      }
    }
    assert.equal(await metric(kg, 'entries'), entries, 'none of them is kept');
    kg.gogs.setStaticFile('/js/vary-encoding.js', 'varies by encoding', { headers: { Vary: 'Accept-Encoding' } });
    await get(ana, '/js/vary-encoding.js');
    await get(ana, '/js/vary-encoding.js');
    assert.equal(asked(kg.gogs.last()).length, 1, 'Vary: Accept-Encoding is stored (the encoding is part of the key)');
  });

  test("the encoding the browser accepts is part of the key: a stored answer is only given for the same Accept-Encoding (Gogs' ENABLE_GZIP)", async () => {
    kg.gogs.setStaticFile('/js/encoded.js', 'encoded');
    await get(ana, '/js/encoded.js', ['Accept-Encoding', 'gzip']);
    await get(ana, '/js/encoded.js');
    assert.deepEqual(asked(kg.gogs.last()), [], 'no Accept-Encoding: another entry');
    await get(ana, '/js/encoded.js', ['Accept-Encoding', 'gzip']);
    assert.equal(asked(kg.gogs.last()).length, 1);
  });

  test("a browser's own conditional, ranged or no-store request, and a HEAD, go to Gogs as they came", async () => {
    kg.gogs.setStaticFile('/js/own.js', 'own');
    const stored = await get(ana, '/js/own.js');
    const etag = String(stored.headers.etag);
    const notModified = await get(ana, '/js/own.js', ['If-None-Match', etag]);
    assert.equal(notModified.status, 304, "the browser's own If-None-Match gets Gogs' 304");
    assert.deepEqual(asked(kg.gogs.last()), [etag]);
    const other = await get(ana, '/js/own.js', ['If-None-Match', '"something else"']);
    assert.equal(other.status, 200);
    assert.deepEqual(asked(kg.gogs.last()), ['"something else"'], 'not replaced by the stored ETag');
    for (const headers of [
      ['Range', 'bytes=0-1'],
      ['If-Modified-Since', 'Mon, 01 Jan 2024 00:00:00 GMT'],
      ['Cache-Control', 'no-store'],
    ]) {
      await get(ana, '/js/own.js', headers);
      assert.deepEqual(asked(kg.gogs.last()), [], headers[0]);
      assert.deepEqual(rawValues(kg.gogs.last()!.rawHeaders, headers[0]), [headers[1]], `${headers[0]} reaches Gogs`);
    }
    const head = await get(ana, '/js/own.js', [], 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(kg.gogs.last()!.method, 'HEAD');
    assert.deepEqual(asked(kg.gogs.last()), []);
  });

  test('a file whose transfer is cut off is not stored: the browser sees the cut, and the next request gets the file whole from Gogs', async () => {
    const body = 'x'.repeat(20_000);
    kg.gogs.setStaticFile('/js/cut.js', body, { cutAfter: 5000 });
    await assert.rejects(get(ana, '/js/cut.js'), 'the browser sees the answer cut off, not a short file');
    kg.gogs.setStaticFile('/js/cut.js', body);
    const whole = await get(ana, '/js/cut.js');
    assert.equal(whole.text, body);
    assert.deepEqual(asked(kg.gogs.last()), [], 'nothing was stored from the cut transfer');
  });

  test('a browser that leaves in the middle of a file leaves nothing held: the file is kept at a later request as usual', async () => {
    const body = 'y'.repeat(60_000);
    kg.gogs.setStaticFile('/js/left.js', body, { pauseAfter: 1000 });
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${kg.url}/js/left.js`, { headers: { cookie: ana.cookieHeader()! } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });
    // Gogs' side of the abandoned transfer ends (Keygate stops reading it when the browser leaves).
    await kg.gogs.last()!.responded;
    kg.gogs.setStaticFile('/js/left.js', body);
    await get(ana, '/js/left.js');
    assert.deepEqual(asked(kg.gogs.last()), [], 'nothing was stored from the abandoned transfer');
    const again = await get(bob, '/js/left.js');
    assert.equal(again.text, body);
    assert.equal(asked(kg.gogs.last()).length, 1, 'the key was free: the whole file was kept');
  });

  test('a file sent without Content-Length (chunked) is stored once whole, and given with its length', async () => {
    const body = 'chunked body\n'.repeat(1000);
    kg.gogs.setStaticFile('/js/chunked.js', body, { chunked: true });
    const first = await get(ana, '/js/chunked.js');
    assert.equal(first.headers['transfer-encoding'], 'chunked');
    const next = await get(ana, '/js/chunked.js');
    assert.equal(next.text, body);
    assert.equal(next.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(asked(kg.gogs.last()).length, 1);
  });

  test('a file larger than an eighth of GOGS_ASSET_CACHE_MB is passed on whole and not stored', async () => {
    const big = Buffer.alloc(200 * 1024, 7); // over 1 MiB / 8
    const entries = await metric(kg, 'entries');
    kg.gogs.setStaticFile('/plugins/big.js', big);
    for (let i = 0; i < 2; i++) {
      const res = await get(ana, '/plugins/big.js');
      assert.ok(res.body.equals(big));
      assert.deepEqual(asked(kg.gogs.last()), []);
    }
    kg.gogs.setStaticFile('/plugins/big.js', big, { chunked: true });
    for (let i = 0; i < 2; i++) {
      const res = await get(ana, '/plugins/big.js');
      assert.ok(res.body.equals(big), 'chunked: found too large only as it passes, and still passed on whole');
      assert.deepEqual(asked(kg.gogs.last()), []);
    }
    assert.equal(await metric(kg, 'entries'), entries);
  });

  test('only plain paths under the static folders are cached: not other pages, dot segments or encoded paths', async () => {
    kg.gogs.setStaticFile('/js/plain.js', 'plain');
    await get(ana, '/js/plain.js');
    for (const path of ['/js/./plain.js', '/js/x/../plain.js', '/js/%70lain.js', '/JS/plain.js', '/ana/repo/raw/master/plain.js']) {
      await get(ana, path);
      await get(ana, path);
      assert.deepEqual(asked(kg.gogs.last()), [], path);
    }
  });

  test('signed out, a static file is what any Gogs page is: a way to sign in, never the stored file', async () => {
    kg.gogs.setStaticFile('/css/signed-out.css', 'p {}');
    await get(ana, '/css/signed-out.css');
    kg.gogs.clear();
    const res = await sendRaw(kg.url, { path: '/css/signed-out.css' });
    assert.equal(res.status, 303);
    assert.match(String(res.headers.location), /^\/-\/login\?return_to=/);
    assert.equal(kg.gogs.requests.length, 0);
  });
});

describe('a browser that leaves while its request waits for a connection to Gogs or for its session (GOGS_CONNECTIONS=1)', () => {
  let kg: TestKeygate;
  let ana: TestClient;
  before(async () => {
    // Gogs' Go server never closes an idle connection: one Keygate does not finish with stays held.
    kg = await startKeygate({ env: { GOGS_CONNECTIONS: '1' }, gogs: { keepAliveTimeoutMs: 0 } });
    ana = new TestClient(kg.url);
    await enrolledUser(kg, ana, new SoftwareAuthenticator(), 'ana');
  });
  after(() => kg?.close());
  const get = (client: TestClient, path: string) => sendRaw(kg.url, { path, headers: ['Cookie', client.cookieHeader()!] });

  test('its request is never sent, and holds neither the connection nor the file: both serve the next requests', async () => {
    kg.gogs.setStaticFile('/js/busy.js', 'b'.repeat(10_000), { pauseAfter: 100 });
    kg.gogs.setStaticFile('/js/queued.js', 'q'.repeat(10_000));
    kg.gogs.clear();
    const cookie = ana.cookieHeader()!;
    // The one connection is busy for half a second with this file.
    const busy = sendRaw(kg.url, { path: '/js/busy.js', headers: ['Cookie', cookie] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // This one waits in line behind it; its browser gives up meanwhile.
    await new Promise<void>((resolve) => {
      const req = http.get(`${kg.url}/js/queued.js`, { headers: { cookie } });
      req.on('error', () => resolve());
      setTimeout(() => req.destroy(), 100);
    });
    assert.equal((await busy).status, 200);

    const held = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no answer in 10 s: the one connection to Gogs is held by the request of the browser that left')), 10_000).unref(),
    );
    const next = await Promise.race([get(ana, '/js/queued.js'), held]);
    assert.equal(next.status, 200, 'the connection serves the next request');
    const again = await get(ana, '/js/queued.js');
    assert.equal(again.text, 'q'.repeat(10_000));
    assert.equal(asked(kg.gogs.last()).length, 1, 'and the file was kept');
    const page = await get(ana, '/');
    assert.equal(page.status, 200);
    assert.deepEqual(
      kg.gogs.requests.map((r) => r.url),
      ['/js/busy.js', '/js/queued.js', '/js/queued.js', '/'],
      'the request of the browser that left never reached Gogs',
    );
  });

  test('while its session is being looked up: its request is never sent, and holds no connection to Gogs', async () => {
    kg.gogs.clear();
    const cookie = ana.cookieHeader()!;
    // The session is read from PostgreSQL, not the cache, and that read waits on a lock held here.
    kg.gateway.sessionCache.goDark();
    const locker = new pg.Client({ connectionString: kg.database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE session IN ACCESS EXCLUSIVE MODE');
      const req = http.get(`${kg.url}/ana/repo`, { headers: { cookie } });
      req.on('error', () => {});
      const waiting = async () =>
        (
          await locker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM session WHERE sid%'`,
          )
        ).rows[0].n;
      const deadline = Date.now() + 10_000;
      while ((await waiting()) === 0) {
        if (Date.now() > deadline) assert.fail('the session lookup never waited on the lock');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The browser gives up while its session is being read.
      req.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await locker.query('COMMIT');
    } finally {
      await locker.end();
      kg.gateway.sessionCache.goLive();
    }
    const held = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no answer in 10 s: the one connection to Gogs is held by the request of the browser that left')), 10_000).unref(),
    );
    const next = await Promise.race([get(ana, '/ana/other'), held]);
    assert.equal(next.status, 200, 'the connection serves the next request');
    assert.deepEqual(
      kg.gogs.requests.map((r) => r.url),
      ['/ana/other'],
      'the request of the browser that left never reached Gogs',
    );
  });
});

describe('asset cache off (GOGS_ASSET_CACHE_MB=0)', () => {
  let kg: TestKeygate;
  let ana: TestClient;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_ASSET_CACHE_MB: '0' } });
    ana = new TestClient(kg.url);
    await enrolledUser(kg, ana, new SoftwareAuthenticator(), 'ana');
  });
  after(() => kg?.close());

  test('every request is sent to Gogs as it came and answered with what Gogs sends', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await sendRaw(kg.url, { path: '/img/favicon.png', headers: ['Cookie', ana.cookieHeader()!] });
      assert.equal(res.status, 200);
      assert.deepEqual(asked(kg.gogs.last()), []);
    }
    assert.equal(await metric(kg, 'entries'), 0);
    assert.equal(await metric(kg, 'hits_total'), 0);
  });
});

/**
 * The proxy, end to end through the real app: what Gogs receives (kg.gogs records every request
 * exactly as it arrived) and what the browser is told. Requests that must reach Keygate in an
 * exact shape (duplicate headers, odd spellings, paths that fetch() would normalise) go through
 * `send()`, a raw node:http request; ordinary browser traffic goes through TestClient.
 */
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll, enrolledUser, invite, signIn } from './support/flows.js';
import { downloadSha256, type RecordedRequest } from './support/gogs.js';
import { BLOCKED_ROUTES, GOGS_SIGN_OUT_ROUTES } from './support/gogs-routes.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { rawValues, sendRaw, type RawResponse } from './support/raw.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** sendRaw (test/support/raw.ts) against this Keygate. */
const send = (kg: TestKeygate, opts: Parameters<typeof sendRaw>[1]): Promise<RawResponse> => sendRaw(kg.url, opts);

/** Writes raw bytes on a socket and returns the status line: for requests node's client refuses to send. */
function sendBytes(kg: TestKeygate, bytes: string): Promise<string> {
  const { port } = new URL(kg.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(bytes));
    let data = '';
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.on('close', () => resolve(data.split('\r\n', 1)[0]));
    socket.on('error', reject);
  });
}

/** Header names that tell a web framework who the user is, read any way a framework might read them. */
const IDENTITY_NAMES = new Set(['x-webauth-user', 'remote-user', 'x-forwarded-user', 'x-remote-user']);

/** Every identity-like header Gogs received, as `name: value` with the name lower-cased and dashed. */
function identityHeaders(rec: RecordedRequest): string[] {
  const found: string[] = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) {
    const name = rec.rawHeaders[i].toLowerCase().replace(/_/g, '-');
    if (IDENTITY_NAMES.has(name)) found.push(`${name}: ${rec.rawHeaders[i + 1]}`);
  }
  return found;
}

/** All values of a header Gogs received (case-insensitive name), in order. */
function received(rec: RecordedRequest, name: string): string[] {
  return rawValues(rec.rawHeaders, name);
}

/** Names of the cookies Gogs received, across all Cookie headers. */
function cookieNames(rec: RecordedRequest): string[] {
  return received(rec, 'cookie').flatMap((h) => h.split(';').map((p) => p.slice(0, p.indexOf('=')).trim()));
}

function onlyRequest(kg: TestKeygate): RecordedRequest {
  assert.equal(kg.gogs.requests.length, 1, `Gogs received ${kg.gogs.requests.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  return kg.gogs.requests[0];
}

function assertGogsReceivedNothing(kg: TestKeygate, what: string): void {
  assert.deepEqual(
    kg.gogs.requests.map((r) => `${r.method} ${r.url}`),
    [],
    `${what} reached Gogs`,
  );
}

/** No response may show how Keygate is built: stack frames, file paths, node internals. */
function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /\n\s+at\s|\bat (?:async )?[\w.$<>]+ \(|node:internal|node_modules|\/work\/|\.[jt]s:\d+|\bstack\b/i);
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Body bytes k = k % 251, the pattern GET /download/<n> sends, as views of one small buffer (no 200 MB allocation). */
const PATTERN = Buffer.alloc(64 * 1024 + 251);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % 251;
function* patternBody(size: number): Generator<Buffer> {
  for (let offset = 0; offset < size; offset += 64 * 1024) {
    const start = offset % 251;
    yield PATTERN.subarray(start, start + Math.min(64 * 1024, size - offset));
  }
}

/** Samples this process's RSS growth over `base` while `work` runs; returns the peak in bytes. */
async function peakRssGrowth(work: () => Promise<void>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss - base);
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss - base);
}

const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------

describe('proxy', () => {
  let kg: TestKeygate;
  /** Signed in as alice for the whole file; tests that end a session use their own users. */
  let alice: TestClient;
  let aliceCookie: string;
  let userCount = 0;

  /** A freshly enrolled, signed-in user of their own. */
  async function newUser(prefix: string) {
    const name = `${prefix}${++userCount}`;
    const client = new TestClient(kg.url);
    const key = new SoftwareAuthenticator();
    await enrolledUser(kg, client, key, name);
    return { name, client, key, cookie: client.cookieHeader()! };
  }

  before(async () => {
    kg = await startKeygate();
    alice = new TestClient(kg.url);
    await enrolledUser(kg, alice, new SoftwareAuthenticator(), 'alice');
    aliceCookie = alice.cookieHeader()!;
  });
  after(() => kg.close());
  beforeEach(() => kg.gogs.clear());

  // -------------------------------------------------------------------------------------------
  describe('identity header forging', () => {
    /** How a client might try to name a user itself: as a flat raw header list. */
    const FORGED: Array<[string, string[]]> = [
      ['X-WEBAUTH-USER in upper case', ['X-WEBAUTH-USER', 'eve']],
      ['x-webauth-user in lower case', ['x-webauth-user', 'eve']],
      ['X-WebAuth-User in mixed case', ['X-WebAuth-User', 'eve']],
      ['X_WEBAUTH_USER with underscores', ['X_WEBAUTH_USER', 'eve']],
      ['x_webauth-user with mixed separators', ['x_webauth-user', 'eve']],
      ['X-WEBAUTH-USER sent twice', ['X-WEBAUTH-USER', 'eve', 'x-webauth-user', 'eve2']],
      ['X-WEBAUTH-USER empty, then with a value', ['X-WEBAUTH-USER', '', 'X-WEBAUTH-USER', 'eve']],
      ['X-WEBAUTH-USER padded with whitespace', ['X-WEBAUTH-USER', '   eve   ']],
      ['X-WEBAUTH-USER with comma-joined values', ['X-WEBAUTH-USER', 'eve, admin']],
      ['X-WEBAUTH-USER in both spellings at once', ['X_WEBAUTH_USER', 'eve', 'X-WEBAUTH-USER', 'eve2']],
      ['Remote-User', ['Remote-User', 'eve']],
      ['REMOTE_USER', ['REMOTE_USER', 'eve']],
      ['X-Forwarded-User', ['X-Forwarded-User', 'eve']],
      ['X-Remote-User', ['X-Remote-User', 'eve']],
    ];
    const PAGE = '/alice/repo';
    const API = '/api/v1/user';
    const GIT = '/alice/repo.git/info/refs?service=git-upload-pack';

    for (const [label, forged] of FORGED) {
      test(`${label}: Gogs gets no copy from an anonymous client, and exactly the session's user on a signed-in page`, async () => {
        // Anonymous page: sent to sign-in, so Gogs gets nothing at all.
        const anonPage = await send(kg, { path: PAGE, headers: forged });
        assert.equal(anonPage.status, 303);
        assertGogsReceivedNothing(kg, 'an anonymous page request');

        // Anonymous and signed-in API and git requests pass through with no identity header.
        for (const cookie of [[], ['Cookie', aliceCookie]]) {
          for (const path of [API, GIT]) {
            kg.gogs.clear();
            const res = await send(kg, { path, headers: [...forged, ...cookie] });
            const rec = onlyRequest(kg);
            assert.deepEqual(identityHeaders(rec), [], `${path} ${cookie.length ? 'signed in' : 'anonymous'}`);
            assert.equal(rec.identity, null);
            // As Gogs answers nobody: 403 from the API (REQUIRE_SIGNIN_VIEW), 401 from git (gogs-contract).
            assert.equal(res.status, path === API ? 403 : 401, 'Gogs answers as it does for nobody');
          }
        }

        // Signed-in page: one copy, holding the session's username.
        kg.gogs.clear();
        const page = await send(kg, { path: PAGE, headers: [...forged, 'Cookie', aliceCookie] });
        assert.equal(page.status, 200);
        assert.match(page.text, /Signed in as alice/);
        const rec = onlyRequest(kg);
        assert.deepEqual(identityHeaders(rec), ['x-webauth-user: alice']);
        assert.deepEqual(rec.authHeaderValues, ['alice']);
      });
    }

    test('a forged header on a signed-in unsafe request is replaced by the session user too', async () => {
      const body = 'title=hello';
      await send(kg, {
        method: 'POST',
        path: '/alice/repo/issues/new',
        headers: [
          'X-WEBAUTH-USER',
          'eve',
          'x_webauth_user',
          'eve',
          'Cookie',
          aliceCookie,
          'Origin',
          kg.origin,
          'Content-Type',
          'application/x-www-form-urlencoded',
        ],
        body,
      });
      const rec = onlyRequest(kg);
      assert.deepEqual(identityHeaders(rec), ['x-webauth-user: alice']);
      assert.equal(rec.bodySha256, createHash('sha256').update(body).digest('hex'));
    });

    test('header tricks node could misread (folded lines, space before the colon) are refused with 400', async () => {
      for (const bytes of [
        `GET /api/v1/user HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n X-WEBAUTH-USER: eve\r\nConnection: close\r\n\r\n`,
        `GET /api/v1/user HTTP/1.1\r\nHost: x\r\nX-WEBAUTH-USER : eve\r\nConnection: close\r\n\r\n`,
        `GET /api/v1/user HTTP/1.1\r\nHost: x\r\nX-WEBAUTH-USER: e\u0000ve\r\nConnection: close\r\n\r\n`,
      ]) {
        assert.match(await sendBytes(kg, bytes), /^HTTP\/1\.1 400 /, JSON.stringify(bytes));
      }
      assertGogsReceivedNothing(kg, 'a malformed header');
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('git smart HTTP, LFS and /api/v1', () => {
    const GIT_REQUESTS: Array<{ method: string; path: string; body?: string; type?: string }> = [
      { method: 'GET', path: '/alice/repo.git/info/refs?service=git-upload-pack' },
      { method: 'GET', path: '/alice/repo/info/refs?service=git-receive-pack' },
      {
        method: 'POST',
        path: '/alice/repo.git/git-upload-pack',
        body: '0032want 0000000000000000000000000000000000000000\n00000009done\n',
        type: 'application/x-git-upload-pack-request',
      },
      { method: 'POST', path: '/alice/repo.git/git-receive-pack', body: 'PACK-bytes', type: 'application/x-git-receive-pack-request' },
      { method: 'POST', path: '/alice/repo.git/info/lfs/objects/batch', body: '{"operation":"download","objects":[]}', type: 'application/vnd.git-lfs+json' },
    ];

    test('pass through a signed-in session with no identity header; Gogs asks for Basic credentials', async () => {
      for (const r of GIT_REQUESTS) {
        kg.gogs.clear();
        // A cross-site Origin does not matter here: nothing is asserted, so there is nothing to forge.
        const headers = ['Cookie', aliceCookie, 'Origin', 'https://evil.example'];
        if (r.type) headers.push('Content-Type', r.type);
        const res = await send(kg, { method: r.method, path: r.path, headers, body: r.body });
        assert.equal(res.status, 401, `${r.method} ${r.path}`);
        assert.equal(res.headers['www-authenticate'], 'Basic realm="."');
        const rec = onlyRequest(kg);
        assert.equal(rec.url, r.path, 'the request target reaches Gogs unchanged');
        assert.deepEqual(identityHeaders(rec), []);
        assert.equal(
          rec.bodySha256,
          createHash('sha256')
            .update(r.body ?? '')
            .digest('hex'),
        );
        assert.ok(!cookieNames(rec).includes(kg.config.sessionCookieName), "Keygate's cookie stays with Keygate");
      }
    });

    test('anonymous git requests are answered by Gogs (401 with WWW-Authenticate), not redirected to sign-in', async () => {
      for (const r of GIT_REQUESTS) {
        kg.gogs.clear();
        const res = await send(kg, { method: r.method, path: r.path, headers: r.type ? ['Content-Type', r.type] : [], body: r.body });
        assert.equal(res.status, 401, `${r.method} ${r.path}`);
        assert.equal(res.headers.location, undefined);
        assert.equal(res.headers['www-authenticate'], 'Basic realm="."');
        onlyRequest(kg);
      }
    });

    test('an access token in Authorization reaches Gogs untouched, for git and /api/v1', async () => {
      const token = 'c'.repeat(40);
      kg.gogs.addToken('alice', token);
      const clone = await send(kg, { path: '/alice/repo.git/info/refs?service=git-upload-pack', headers: ['Authorization', basic('alice', token)] });
      assert.equal(clone.status, 200);
      assert.equal(kg.gogs.last()?.identity, 'alice');
      const api = await send(kg, { path: '/api/v1/user', headers: ['Authorization', `token ${token}`, 'Cookie', aliceCookie] });
      assert.equal(api.status, 200);
      assert.deepEqual(JSON.parse(api.text), { username: 'alice' });
      assert.deepEqual(identityHeaders(kg.gogs.last()!), []);
    });

    test('/api/v1 from a signed-in browser carries no identity: Gogs needs a token', async () => {
      const res = await alice.get('/api/v1/user');
      // Gogs with REQUIRE_SIGNIN_VIEW refuses an anonymous API call (gogs-contract).
      assert.equal(res.status, 403);
      const rec = onlyRequest(kg);
      assert.deepEqual(identityHeaders(rec), []);
      assert.equal(rec.identity, null);
    });

    test('Basic credentials with an empty password are refused before Gogs; an access token as the username still works', async () => {
      // An auto-registered Gogs user has an empty password: Gogs itself would accept `name:`.
      kg.gogs.setPassword('autoreg', '');
      const direct = await fetch(`${kg.gogs.url}/autoreg/repo.git/info/refs?service=git-upload-pack`, { headers: { authorization: basic('autoreg', '') } });
      assert.equal(direct.status, 200, 'precondition: the fake Gogs accepts an empty password, as Gogs does');
      kg.gogs.clear();

      for (const path of ['/autoreg/repo.git/info/refs?service=git-upload-pack', '/api/v1/user', '/autoreg/repo.git/info/lfs/objects/batch']) {
        for (const authorization of [basic('autoreg', ''), basic('AutoReg', ''), `basic ${Buffer.from('autoreg:').toString('base64')}`]) {
          const res = await send(kg, { path, headers: ['Authorization', authorization] });
          assert.equal(res.status, 401, `${path} ${authorization}`);
          assert.equal(res.headers['www-authenticate'], 'Basic realm="."');
          assertNoStackTrace(res.text);
        }
      }
      assertGogsReceivedNothing(kg, 'an empty-password Basic request');

      const token = 'd'.repeat(40);
      kg.gogs.addToken('alice', token);
      const res = await send(kg, { path: '/alice/repo.git/info/refs?service=git-upload-pack', headers: ['Authorization', basic(token, '')] });
      assert.equal(res.status, 200);
      assert.equal(kg.gogs.last()?.identity, 'alice');
    });

    test('a page is never treated as pass-through, whatever git-like words its path holds', async () => {
      for (const path of [
        '/alice/repo/info/refs/../../settings',
        '/alice/repo/info/refs/%2e%2e/%2e%2e/settings',
        '/alice/repo/src/info/refs',
        '/alice/repo/src/master/info/refs',
        '/alice/repo/raw/master/git-upload-pack',
        '/alice/repo/info/refs/extra',
        '/api/v1/../../alice/repo/settings',
        '/api/v1%2F..%2F..%2Falice',
        '/api/web/user/settings',
      ]) {
        kg.gogs.clear();
        const anon = await send(kg, { path });
        assert.equal(anon.status, 303, `anonymous ${path}`);
        assert.match(anon.headers.location ?? '', /^\/-\/login\?return_to=/);
        assertGogsReceivedNothing(kg, `anonymous ${path}`);

        await send(kg, { path, headers: ['Cookie', aliceCookie] });
        assert.deepEqual(identityHeaders(onlyRequest(kg)), ['x-webauth-user: alice'], path);
      }
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('anonymous visitors and the return path', () => {
    test('an anonymous GET or HEAD of a page is sent to sign-in with the path and query as return_to', async () => {
      const path = '/alice/repo/issues?state=closed&page=2';
      for (const method of ['GET', 'HEAD']) {
        const res = await send(kg, { method, path });
        assert.equal(res.status, 303);
        assert.equal(res.headers.location, `/-/login?return_to=${encodeURIComponent(path)}`);
      }
      assertGogsReceivedNothing(kg, 'an anonymous page view');
    });

    test('an anonymous unsafe request to a page gets a 401 page and never reaches Gogs', async () => {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await send(kg, {
          method,
          path: '/alice/repo/settings',
          headers: ['Origin', kg.origin, 'Content-Type', 'application/x-www-form-urlencoded'],
          body: 'x=1',
        });
        assert.equal(res.status, 401, method);
        assert.match(res.headers['content-type'] ?? '', /^text\/html/);
        assert.match(res.text, /Sign-in needed/);
        assertNoStackTrace(res.text);
      }
      assertGogsReceivedNothing(kg, 'an anonymous unsafe request');
    });

    const GOOD_RETURNS = ['/alice/repo', '/alice/repo/issues?state=closed&page=2', '/alice/repo/src/master/a%20b.txt#L3'];
    const BAD_RETURNS = [
      'https://evil.example/',
      'http://localhost/alice',
      '//evil.example',
      '///evil.example',
      '/\\evil.example',
      '/%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '/%5Cevil.example',
      '/%5C%5Cevil.example',
      '/\t/evil.example',
      '/%09/evil.example',
      '/\n/evil.example',
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      '/..//evil.example',
      '/.//evil.example',
      '/%2e%2e//evil.example',
      '/alice/../..//evil.example',
      '/../../etc/passwd',
      '/-/api/account',
    ];

    test('a signed-in visit to /-/login follows return_to only when it is a relative path on this origin', async () => {
      for (const value of GOOD_RETURNS) {
        const res = await alice.get(`/-/login?return_to=${encodeURIComponent(value)}`);
        assert.equal(res.status, 303);
        assert.equal(res.location, value);
      }
      for (const value of [...BAD_RETURNS, `${kg.origin}/alice`]) {
        const res = await alice.get(`/-/login?return_to=${encodeURIComponent(value)}`);
        assert.equal(res.status, 303, JSON.stringify(value));
        assert.equal(res.location, '/', JSON.stringify(value));
      }
    });

    test('after sign-in the browser is sent to returnTo only when it is a relative path on this origin', async () => {
      const { client, key } = await newUser('rita');
      for (const value of GOOD_RETURNS) {
        const res = await signIn(client, key, { returnTo: value });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.redirect, value);
      }
      for (const value of [...BAD_RETURNS, `${kg.origin}/alice`]) {
        const res = await signIn(client, key, { returnTo: value });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.redirect, '/', JSON.stringify(value));
      }
    });

    test('the sign-in page hands a refused return_to on as /', async () => {
      const res = await new TestClient(kg.url).get(`/-/login?return_to=${encodeURIComponent('/..//evil.example')}`);
      assert.equal(res.status, 200);
      assert.match(res.text, /data-return-to="\/"/);
      assert.doesNotMatch(res.text, /evil\.example/);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('blocked Gogs routes', () => {
    /** The same route, spelled every way a client might try to get it past Keygate. */
    function spellings(path: string): string[] {
      const cut = path.lastIndexOf('/') + 1;
      const head = path.slice(0, cut);
      const last = path.slice(cut);
      const hex = (c: string) => c.charCodeAt(0).toString(16);
      return [
        path,
        path.toUpperCase(),
        path.replace(/(^|\/)(\w)/g, (_m, s: string, c: string) => s + c.toUpperCase()),
        `${path}/`,
        `${path}/.`,
        `/x/..${path}`,
        `/x/%2e%2e${path}`,
        path.replace(/\//g, '//'),
        path.replace(/\//g, '/./'),
        `${head}%${hex(last[0])}${last.slice(1)}`,
        `${head}%${hex(last[0]).toUpperCase()}${last.slice(1).replace(/[a-z]/g, (c) => `%${hex(c)}`)}`,
        `/${path.slice(1).replace(/\//g, '%2F')}`,
        `/${path.slice(1).replace(/\//g, '%5C')}`,
        `/${path.slice(1).replace(/\//g, '\\')}`,
        `${head}%25${hex(last[0])}${last.slice(1)}`, // decoded twice by Gogs' router
        `/${path.slice(1).replace(/\//g, '%252F')}`,
        `${path};jsessionid=1`,
        `${head.slice(0, -1)};x=1/${last}`,
        `${path}?redirect_to=%2F`,
        `${path}/?x=1`,
      ];
    }

    test('never reach Gogs, in any spelling, anonymous or signed in, GET or POST: 303 to /-/login', async () => {
      for (const route of BLOCKED_ROUTES) {
        for (const path of spellings(route)) {
          for (const [method, headers] of [
            ['GET', []],
            ['POST', ['Cookie', aliceCookie, 'Origin', kg.origin, 'Content-Type', 'application/x-www-form-urlencoded']],
          ] as const) {
            const res = await send(kg, { method, path, headers: [...headers], body: method === 'POST' ? 'user_name=alice&password=hunter2' : undefined });
            assert.equal(res.status, 303, `${method} ${path}`);
            assert.equal(res.headers.location, '/-/login', `${method} ${path}`);
          }
        }
      }
      assertGogsReceivedNothing(kg, 'a blocked route');
    });

    test('a path that cannot be normalised gets a 400 page and never reaches Gogs', async () => {
      for (const path of [
        '/%zz',
        '/%',
        '/a%00b',
        '/%0a',
        '/a%09b',
        '/..',
        '/../x',
        '/a/../../b',
        '/%2e%2e/user/login',
        '/%5C..%5C..',
        '/%C0%AF',
        '/%2500',
        '/%252e%252e/x',
        '/%25zz',
        'http://evil.example/alice',
      ]) {
        for (const cookie of [[], ['Cookie', aliceCookie]]) {
          const res = await send(kg, { path, headers: [...cookie] });
          assert.equal(res.status, 400, path);
          assert.match(res.headers['content-type'] ?? '', /^text\/html/);
          assert.match(res.text, /Bad request/);
          assertNoStackTrace(res.text);
        }
      }
      assertGogsReceivedNothing(kg, 'an unreadable path');
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('sign-out', () => {
    /** A Set-Cookie that makes a browser drop the cookie: empty value, and Max-Age=0 or an Expires in 1970. */
    const expires = (setCookies: string[], name: string) =>
      setCookies.some((c) => c.startsWith(`${name}=;`) && /;\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(c));

    for (const route of [...GOGS_SIGN_OUT_ROUTES, '/-/logout']) {
      test(`POST ${route} ends the Keygate session on the server and expires Gogs' session cookie`, async () => {
        const { name, client, cookie } = await newUser('sam');
        const res = await client.request(route, { method: 'POST' });
        assert.equal(res.status, 303);
        assert.equal(res.location, '/-/login?signed_out');
        assert.ok(expires(res.setCookies, 'i_like_gogs'), `i_like_gogs expired: ${res.setCookies.join(' | ')}`);
        assert.ok(expires(res.setCookies, kg.config.sessionCookieName), 'Keygate cookie expired');
        assertGogsReceivedNothing(kg, 'sign-out');

        // The old cookie, replayed, is nobody now.
        const replayed = await send(kg, { path: `/${name}/repo`, headers: ['Cookie', cookie] });
        assert.equal(replayed.status, 303);
        assert.match(replayed.headers.location ?? '', /^\/-\/login\?return_to=/);
        assertGogsReceivedNothing(kg, 'a replayed cookie');
      });
    }

    test("a cross-site POST to Gogs' sign-out is refused and leaves the session alive", async () => {
      const { name, cookie } = await newUser('tom');
      for (const route of GOGS_SIGN_OUT_ROUTES) {
        const res = await send(kg, { method: 'POST', path: route, headers: ['Cookie', cookie, 'Origin', 'https://evil.example'] });
        assert.equal(res.status, 403);
        assert.equal(res.headers['set-cookie'], undefined);
      }
      const still = await send(kg, { path: `/${name}/repo`, headers: ['Cookie', cookie] });
      assert.equal(still.status, 200);
      assert.deepEqual(kg.gogs.last()?.authHeaderValues, [name]);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('cookies', () => {
    test("Gogs' remember-me cookies and Keygate's session cookie never reach Gogs; other cookies do", async () => {
      for (const path of ['/alice/repo', '/api/v1/user', '/alice/repo.git/info/refs?service=git-upload-pack']) {
        kg.gogs.clear();
        await send(kg, {
          path,
          headers: [
            'Cookie',
            `${aliceCookie}; gogs_awesome=alice; lang=en-US; gogs_incredible=0123abcd; my_gogs_awesome=1; keygate_theme=dark`,
            'Cookie',
            ' gogs_awesome=admin ;_csrf=t0k3n',
          ],
        });
        const names = cookieNames(onlyRequest(kg)).sort();
        assert.deepEqual(names, ['_csrf', 'keygate_theme', 'lang', 'my_gogs_awesome'], path);
      }
      // Anonymous too: a remember-me cookie alone would sign Gogs in.
      kg.gogs.clear();
      await send(kg, { path: '/api/v1/user', headers: ['Cookie', 'gogs_awesome=alice; gogs_incredible=x'] });
      assert.deepEqual(received(onlyRequest(kg), 'cookie'), []);
    });

    test('at Keygate sign-in, a leftover Gogs session of another person is expired, so Gogs sees who signed in', async () => {
      const { name, client, key } = await newUser('bea');
      await client.request('/-/logout', { method: 'POST' });

      client.cookies.set('i_like_gogs', kg.gogs.createGogsSession('mallory'));
      const res = await signIn(client, key);
      assert.equal(res.status, 200, res.text);
      assert.ok(
        res.setCookies.some((c) => /^i_like_gogs=;.*max-age=0/i.test(c)),
        res.setCookies.join(' | '),
      );
      assert.equal(client.cookies.has('i_like_gogs'), false);

      kg.gogs.clear();
      const page = await client.get(`/${name}/repo`);
      assert.match(page.text, new RegExp(`Signed in as ${name}`));
      assert.equal(onlyRequest(kg).identity, name);
      assert.equal(kg.gogs.last()?.identitySource, 'header');
    });

    test('at enrolment, a leftover Gogs session is expired as well', async () => {
      const client = new TestClient(kg.url);
      client.cookies.set('i_like_gogs', kg.gogs.createGogsSession('mallory'));
      const res = await enroll(client, new SoftwareAuthenticator(), await invite(kg, 'cleo'));
      assert.equal(res.status, 200, res.text);
      assert.equal(client.cookies.has('i_like_gogs'), false);
      const page = await client.get('/cleo/repo');
      assert.match(page.text, /Signed in as cleo/);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('forwarded headers', () => {
    test("X-Forwarded-For/-Proto/-Host, X-Real-IP and X-Request-Id are Keygate's own, and Host is the upstream's", async () => {
      await send(kg, {
        path: '/alice/repo',
        headers: [
          'Cookie',
          aliceCookie,
          'X-Forwarded-For',
          '6.6.6.6',
          'X-Forwarded-For',
          '7.7.7.7',
          'X-Forwarded-Proto',
          'https',
          'X-Forwarded-Host',
          'evil.example',
          'X-Real-IP',
          '6.6.6.6',
          'Forwarded',
          'for=6.6.6.6;proto=https',
          'X-Request-Id',
          'chosen-by-client',
        ],
      });
      const rec = onlyRequest(kg);
      assert.deepEqual(received(rec, 'x-forwarded-for'), ['127.0.0.1']);
      assert.deepEqual(received(rec, 'x-real-ip'), ['127.0.0.1']);
      assert.deepEqual(received(rec, 'x-forwarded-proto'), ['http']);
      assert.deepEqual(received(rec, 'x-forwarded-host'), [new URL(kg.origin).host]);
      assert.deepEqual(received(rec, 'forwarded'), []);
      const [requestId, ...more] = received(rec, 'x-request-id');
      assert.deepEqual(more, []);
      assert.match(requestId, /^[0-9a-f-]{36}$/);
      assert.deepEqual(received(rec, 'host'), [`127.0.0.1:${kg.gogs.port}`]);
    });

    test("with TRUST_PROXY, Gogs is told the address the front proxy saw (X-Forwarded-For's last entry), never one the client wrote before it", async () => {
      const behindProxy = await startKeygate({ env: { TRUST_PROXY: 'true' } });
      try {
        await send(behindProxy, { path: '/alice/repo.git/info/refs?service=git-upload-pack', headers: ['X-Forwarded-For', '6.6.6.6, 203.0.113.9'] });
        const rec = onlyRequest(behindProxy);
        assert.deepEqual(received(rec, 'x-forwarded-for'), ['203.0.113.9']);
        assert.deepEqual(received(rec, 'x-real-ip'), ['203.0.113.9']);
      } finally {
        await behindProxy.close();
      }
    });

    test('hop-by-hop headers and headers named in Connection are not forwarded', async () => {
      await send(kg, {
        path: '/alice/repo',
        headers: [
          'Cookie',
          aliceCookie,
          'Connection',
          'keep-alive, X-Hop-Secret',
          'X-Hop-Secret',
          'do-not-forward',
          'Keep-Alive',
          'timeout=5',
          'Proxy-Connection',
          'keep-alive',
          'Proxy-Authorization',
          'Basic Zm9vOmJhcg==',
          'TE',
          'trailers',
          'X-Kept',
          'yes',
        ],
      });
      const rec = onlyRequest(kg);
      for (const name of ['x-hop-secret', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te']) assert.deepEqual(received(rec, name), [], name);
      assert.ok(received(rec, 'connection').every((v) => !/x-hop-secret/i.test(v)));
      assert.deepEqual(received(rec, 'x-kept'), ['yes']);
    });

    test('every Set-Cookie from Gogs reaches the browser, its session cookie sealed to the Keygate session', async () => {
      const res = await send(kg, { path: '/set-cookie', headers: ['Cookie', aliceCookie] });
      assert.equal(res.status, 200);
      const cookies = res.headers['set-cookie'] ?? [];
      assert.equal(cookies.length, 2, cookies.join(' | '));
      assert.match(cookies[0], /^i_like_gogs=[0-9a-f]{16}\.[A-Za-z0-9_-]{22};/);
      assert.match(cookies[1], /^lang=en-US;/);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('streaming and connections', () => {
    test('a 200 MB upload reaches Gogs byte for byte and is streamed, not buffered', async () => {
      const size = 200 * MB;
      let res: RawResponse | undefined;
      // RSS of this whole process (client, Keygate and the fake Gogs all live here). Buffering the
      // body anywhere would add at least its 200 MB; streaming holds a few socket and pipe buffers.
      // 128 MB is a generous bound that leaves room for garbage the collector has not reclaimed
      // yet, and still fails if the body were held in memory. No timing is asserted.
      const growth = await peakRssGrowth(async () => {
        res = await send(kg, {
          method: 'POST',
          path: '/upload',
          headers: ['Cookie', aliceCookie, 'Origin', kg.origin, 'Content-Type', 'application/octet-stream', 'Content-Length', String(size)],
          body: Readable.from(patternBody(size)),
        });
      });
      const expected = downloadSha256(size); // the same k % 251 pattern
      assert.equal(res?.status, 200, res?.text);
      assert.deepEqual(JSON.parse(res.text), { bytes: size, sha256: expected });
      const rec = onlyRequest(kg);
      assert.equal(rec.bodyBytes, size);
      assert.equal(rec.bodySha256, expected);
      assert.deepEqual(rec.authHeaderValues, ['alice']);
      assert.ok(growth < 128 * MB, `RSS grew by ${Math.round(growth / MB)} MB during a 200 MB upload`);
    });

    test('a large download streams back intact, and while the browser stops reading Keygate stops reading Gogs (backpressure, not a buffer)', async () => {
      const size = 256 * MB + 12345;
      const hash: Hash = createHash('sha256');
      let bytes = 0;
      let gapDuringStop = -1;
      const growth = await peakRssGrowth(
        () =>
          new Promise<void>((resolve, reject) => {
            const { port } = new URL(kg.url);
            http
              .get({ host: '127.0.0.1', port, path: `/download/${size}`, headers: { cookie: aliceCookie }, agent: false }, (res) => {
                assert.equal(res.statusCode, 200);
                assert.equal(res.headers['content-length'], String(size));
                res.on('data', (c: Buffer) => {
                  hash.update(c);
                  bytes += c.length;
                  // 8 MB in, the browser stops reading for a second (a busy tab, a slow disk). Gogs
                  // writes as fast as it is let: what it sent meanwhile beyond what the browser
                  // took is what sits in the two connections' socket buffers and in Keygate.
                  if (gapDuringStop === -1 && bytes >= 8 * MB) {
                    gapDuringStop = -2;
                    res.pause();
                    setTimeout(() => {
                      gapDuringStop = kg.gogs.requests[0].downloadSent - bytes;
                      res.resume();
                    }, 1000);
                  }
                });
                res.on('end', resolve);
                res.on('error', reject);
              })
              .on('error', reject);
          }),
      );
      assert.equal(bytes, size);
      assert.equal(hash.digest('hex'), downloadSha256(size));
      const rec = onlyRequest(kg);
      assert.equal(rec.downloadSent, size);
      assert.ok(gapDuringStop >= 0, 'the browser never stopped');
      assert.ok(gapDuringStop < 96 * MB, `Gogs got ${Math.round(gapDuringStop / MB)} MB ahead of a browser that stopped reading`);
      assert.ok(growth < 128 * MB, `RSS grew by ${Math.round(growth / MB)} MB during a 256 MB download`);
    });

    test("a download the browser reads slowly waits while the browser's socket is full, and Keygate never writes that socket an empty piece", async () => {
      // undici hands over an empty body piece whenever it resumes a response it paused; written on,
      // each was an empty write() to the browser's socket, and another pause (measured: twice
      // the socket writes per Gogs asset under load, and 2x the bare proxy's CPU).
      const size = 16 * MB + 777;
      const writes = { empty: 0, full: 0, bytes: 0 };
      const spy = (socket: net.Socket) => {
        const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
        socket.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
          // Node ends a response whose bytes are still queued with a '' of its own (a string): body
          // pieces are Buffers.
          if (typeof chunk !== 'string' && chunk.byteLength === 0) writes.empty++;
          writes.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
          const ok = write(chunk, ...rest);
          if (!ok) writes.full++;
          return ok;
        };
      };
      kg.server.on('connection', spy);
      const hash: Hash = createHash('sha256');
      let bytes = 0;
      try {
        await new Promise<void>((resolve, reject) => {
          const { port } = new URL(kg.url);
          http
            .get({ host: '127.0.0.1', port, path: `/download/${size}`, headers: { cookie: aliceCookie }, agent: false }, (res) => {
              assert.equal(res.statusCode, 200);
              res.on('data', (c: Buffer) => {
                hash.update(c);
                bytes += c.length;
                // A slow reader: a short stop every MB fills Keygate's side of the socket.
                if (Math.floor((bytes - c.length) / MB) !== Math.floor(bytes / MB)) {
                  res.pause();
                  setTimeout(() => res.resume(), 5);
                }
              });
              res.on('end', resolve);
              res.on('error', reject);
            })
            .on('error', reject);
        });
      } finally {
        kg.server.off('connection', spy);
      }
      assert.equal(bytes, size);
      assert.equal(hash.digest('hex'), downloadSha256(size));
      assert.ok(writes.full >= 10, `the browser's socket was full only ${writes.full} times: no backpressure was exercised`);
      assert.ok(writes.bytes >= size, 'the download did not go through the spied socket');
      assert.equal(writes.empty, 0, `${writes.empty} empty writes to the browser's socket (it was full ${writes.full} times)`);
    });

    test('a push sent with Expect: 100-continue is continued by Keygate and reaches Gogs whole, without the Expect header', async () => {
      const token = 'e'.repeat(40);
      kg.gogs.addToken('alice', token);
      const body = `PACK-${'p'.repeat(256 * 1024)}`;
      const { port, host } = new URL(kg.url);
      const res = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/alice/repo.git/git-receive-pack',
            headers: {
              Host: host,
              Expect: '100-continue',
              Authorization: basic('alice', token),
              'Content-Type': 'application/x-git-receive-pack-request',
              'Content-Length': String(body.length),
            },
            agent: false,
          },
          (r) => {
            r.resume();
            r.on('end', () => resolve({ status: r.statusCode ?? 0, continued }));
          },
        );
        // Like curl (git's HTTP transport), the body waits for the 100 Continue.
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('error', reject);
      });
      assert.equal(res.continued, true, 'Keygate answered 100 Continue');
      assert.equal(res.status, 200);
      const rec = onlyRequest(kg);
      assert.equal(rec.identity, 'alice', 'Gogs authenticated the token');
      assert.equal(rec.bodySha256, createHash('sha256').update(body).digest('hex'));
      assert.deepEqual(received(rec, 'expect'), [], 'Expect is between the browser and Keygate');
    });

    test("a browser that gives up on a large download stops Gogs' transfer too", { timeout: 30_000 }, async () => {
      const size = 512 * MB;
      const { port } = new URL(kg.url);
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: `/download/${size}`, headers: { cookie: aliceCookie }, agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (c: Buffer) => {
            got += c.length;
            // A few MB in, the browser goes away (tab closed, clone interrupted).
            if (got >= 4 * MB && !req.destroyed) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => {});
        });
        req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
      });
      const rec = onlyRequest(kg);
      assert.equal(await rec.responded, false, "Gogs' response was cut, not sent whole into the void");
      assert.ok(got < size);
    });

    test("a signed-in HEAD gets Gogs' headers and no body, and the connection carries on", async () => {
      const { port, host } = new URL(kg.url);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const head = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }>((resolve, reject) => {
        http
          .request({ host: '127.0.0.1', port, method: 'HEAD', path: '/alice/repo', headers: { Host: host, Cookie: aliceCookie }, agent }, (r) => {
            let bytes = 0;
            r.on('data', (c: Buffer) => (bytes += c.length));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, bytes }));
          })
          .on('error', reject)
          .end();
      });
      assert.equal(head.status, 200);
      assert.match(String(head.headers['content-type']), /text\/html/);
      assert.equal(head.bytes, 0);
      const rec = onlyRequest(kg);
      assert.equal(rec.method, 'HEAD');
      assert.equal(rec.identity, 'alice');
      // The next request on the same keep-alive connection is answered normally.
      const page = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/alice/repo', headers: { Host: host, Cookie: aliceCookie }, agent }, (r) => {
            let text = '';
            r.on('data', (c: Buffer) => (text += c));
            r.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      agent.destroy();
      assert.match(page, /Signed in as alice/);
    });

    test('a chunked upload (no Content-Length) reaches Gogs byte for byte', async () => {
      const size = 3 * MB + 7;
      const res = await send(kg, {
        method: 'POST',
        path: '/upload',
        // No Content-Length: node's client sends the stream chunked.
        headers: ['Cookie', aliceCookie, 'Origin', kg.origin, 'Content-Type', 'application/octet-stream'],
        body: Readable.from(patternBody(size)),
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), { bytes: size, sha256: downloadSha256(size) });
      assert.deepEqual(received(onlyRequest(kg), 'content-length'), [], 'sent on chunked, as it came');
    });

    test('sequential proxied requests reuse one keep-alive connection to Gogs: one for signed-in pages, one for pass-through', async () => {
      for (const path of [
        '/alice/repo',
        '/api/v1/user',
        '/alice/repo.git/info/refs?service=git-upload-pack',
        '/alice/repo/issues',
        '/alice',
        '/api/v1/repos',
      ]) {
        await alice.get(path);
      }
      const ports = (kind: 'page' | 'passthrough') =>
        kg.gogs.requests.filter((r) => (r.url.startsWith('/api/') || r.url.includes('.git/')) === (kind === 'passthrough')).map((r) => r.peerPort);
      assert.equal(kg.gogs.requests.length, 6);
      assert.equal(new Set(ports('page')).size, 1, `pages: upstream peer ports ${ports('page').join(', ')}`);
      assert.equal(new Set(ports('passthrough')).size, 1, `pass-through: upstream peer ports ${ports('passthrough').join(', ')}`);
      assert.notEqual(ports('page')[0], ports('passthrough')[0], 'signed-in pages have a pool of their own');
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('cross-site requests (CSRF)', () => {
    const crossSite = (kg: TestKeygate): Array<[string, string[]]> => [
      ['a foreign Origin', ['Origin', 'https://evil.example']],
      ['another origin on the same host', ['Origin', `http://127.0.0.1:${new URL(kg.url).port}`]],
      ['this host over https', ['Origin', kg.origin.replace('http:', 'https:')]],
      ['a foreign Origin despite Sec-Fetch-Site: same-origin', ['Origin', 'https://evil.example', 'Sec-Fetch-Site', 'same-origin']],
      ['Origin: null alone', ['Origin', 'null']],
      ['no Origin and Sec-Fetch-Site: cross-site', ['Sec-Fetch-Site', 'cross-site']],
      ['no Origin and Sec-Fetch-Site: same-site', ['Sec-Fetch-Site', 'same-site']],
      ['neither Origin nor Sec-Fetch-Site', []],
    ];

    test('a signed-in unsafe request to a Gogs page from another site gets a 403 page and never reaches Gogs', async () => {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        for (const [label, headers] of crossSite(kg)) {
          const res = await send(kg, {
            method,
            path: '/alice/repo/settings',
            headers: ['Cookie', aliceCookie, 'Content-Type', 'application/x-www-form-urlencoded', ...headers],
            body: 'action=delete',
          });
          assert.equal(res.status, 403, `${method} with ${label}`);
          assert.match(res.headers['content-type'] ?? '', /^text\/html/);
          assert.match(res.text, /Request refused/);
          assertNoStackTrace(res.text);
        }
      }
      assertGogsReceivedNothing(kg, 'a cross-site request');
    });

    test("a same-origin unsafe request is forwarded with the session's identity", async () => {
      for (const headers of [
        ['Origin', kg.origin],
        ['Sec-Fetch-Site', 'same-origin'],
        ['Origin', 'null', 'Sec-Fetch-Site', 'same-origin'],
      ]) {
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
          kg.gogs.clear();
          await send(kg, {
            method,
            path: '/alice/repo/settings',
            headers: ['Cookie', aliceCookie, 'Content-Type', 'application/x-www-form-urlencoded', ...headers],
            body: 'action=rename',
          });
          const rec = onlyRequest(kg);
          assert.equal(rec.method, method);
          assert.deepEqual(rec.authHeaderValues, ['alice']);
          assert.equal(rec.bodySha256, createHash('sha256').update('action=rename').digest('hex'));
        }
      }
    });

    test("Keygate's own endpoints refuse cross-site POSTs with 403 (JSON for /-/api)", async () => {
      for (const [label, headers] of crossSite(kg)) {
        const res = await send(kg, { method: 'POST', path: '/-/api/login/options', headers: ['Content-Type', 'application/json', ...headers], body: '{}' });
        assert.equal(res.status, 403, label);
        assert.match(res.headers['content-type'] ?? '', /^application\/json/);
        assert.equal(JSON.parse(res.text).error.code, 'cross_origin');
      }
      // Sign-out is not forgeable either: the session survives.
      const out = await send(kg, { method: 'POST', path: '/-/logout', headers: ['Cookie', aliceCookie, 'Origin', 'https://evil.example'] });
      assert.equal(out.status, 403);
      assertNoStackTrace(out.text);
      const page = await alice.get('/alice/repo');
      assert.match(page.text, /Signed in as alice/);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('errors', () => {
    test('malformed or oversized JSON, unknown API routes and static traversal give plain errors, never a stack trace', async () => {
      const malformed = await send(kg, {
        method: 'POST',
        path: '/-/api/login/verify',
        headers: ['Origin', kg.origin, 'Content-Type', 'application/json'],
        body: '{"response": {',
      });
      assert.equal(malformed.status, 400);
      assert.equal(JSON.parse(malformed.text).error.code, 'malformed_json');
      assertNoStackTrace(malformed.text);

      const large = await send(kg, {
        method: 'POST',
        path: '/-/api/login/verify',
        headers: ['Origin', kg.origin, 'Content-Type', 'application/json'],
        body: JSON.stringify({ x: 'a'.repeat(200_000) }),
      });
      assert.equal(large.status, 413);
      assertNoStackTrace(large.text);

      const unknown = await send(kg, { path: '/-/api/nothing-here' });
      assert.equal(unknown.status, 404);
      assertNoStackTrace(unknown.text);

      // Traversal out of /-/static/: either resolved to a Gogs page (anonymous: sign-in) or refused
      // by the static server; never the file.
      for (const path of ['/-/static/..%2f..%2fpackage.json', '/-/static/%2e%2e%2fpackage.json', '/-/static/..%5cpackage.json', '/-/static/nope.js']) {
        const res = await send(kg, { path });
        assert.notEqual(res.status, 200, path);
        assert.doesNotMatch(res.text, /"dependencies"/);
        assertNoStackTrace(res.text);
      }
      assertGogsReceivedNothing(kg, 'a Keygate error');
    });

    test('a missing or traversing /-/static/ file is a 4xx, not a 500', async () => {
      for (const path of ['/-/static/nope.js', '/-/static/%2e%2e%2fpackage.json']) {
        const res = await send(kg, { path });
        assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('proxy with Gogs unreachable', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_URL: 'http://127.0.0.1:1' } });
  });
  after(() => kg.close());

  test("a proxied request gets a clear 502 page without internals, and Keygate's own pages keep working", async () => {
    const client = new TestClient(kg.url);
    // Keygate's own pages and API do not need Gogs: enrolment and sign-in work.
    const enrolled = await enroll(client, new SoftwareAuthenticator(), await invite(kg, 'ursula'));
    assert.equal(enrolled.status, 200, enrolled.text);
    const login = await new TestClient(kg.url).get('/-/login');
    assert.equal(login.status, 200);
    assert.match(login.text, /Sign in/);

    for (const res of [
      await send(kg, { path: '/api/v1/version' }),
      await send(kg, { path: '/ursula/repo.git/info/refs?service=git-upload-pack' }),
      await client.get('/ursula/repo'),
      await client.request('/ursula/repo/settings', { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    ]) {
      assert.equal(res.status, 502);
      const type = res.headers instanceof Headers ? res.headers.get('content-type') : res.headers['content-type'];
      assert.match(type ?? '', /^text\/html/);
      assert.match(res.text, /Gogs is unreachable/);
      assert.doesNotMatch(res.text, /ECONNREFUSED|127\.0\.0\.1:1\b/);
      assertNoStackTrace(res.text);
    }
  });
});

describe('proxy with GOGS_SOURCE_ADDRESS', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_SOURCE_ADDRESS: '127.0.0.3' } });
  });
  after(() => kg.close());

  test("every connection to Gogs, for signed-in pages and pass-through alike, comes from GOGS_SOURCE_ADDRESS (what Gogs' TRUSTED_PROXY_IPS names)", async () => {
    const client = new TestClient(kg.url);
    await enrolledUser(kg, client, new SoftwareAuthenticator(), 'sourced');
    kg.gogs.clear();
    assert.equal((await client.get('/sourced/repo')).status, 200);
    assert.equal((await send(kg, { path: '/api/v1/version' })).status, 200);
    const peers = kg.gogs.requests.map((r) => r.peer.replace(/^::ffff:/, ''));
    assert.equal(peers.length, 2);
    assert.deepEqual(new Set(peers), new Set(['127.0.0.3']));
    assert.deepEqual(kg.gogs.requests[0]?.authHeaderValues, ['sourced']);
  });
});

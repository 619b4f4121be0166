/**
 * One contract, two Gogs: the behaviours of Gogs that Keygate's security rests on, asserted with
 * the same words against the real Gogs 0.14.3 (test/support/real-gogs, the shipped app.ini) and
 * against the fast stand-in the other suites use (test/support/gogs.ts), so the stand-in cannot
 * drift from what it stands in for. Each Gogs is reached straight, as an attacker past Keygate or
 * as Keygate itself would: the identity header is trusted from 127.0.0.3 only.
 *
 * Where the two differ on purpose (the stand-in's simplifications, listed in its header), the
 * contract leaves that behaviour out rather than assert less; the README says which.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { sendRaw, type RawResponse } from './support/raw.js';
import { startRealGogs, type RealGogs } from './support/real-gogs/start.js';

const TRUSTED = '127.0.0.3';
const UNTRUSTED = '127.0.0.2';

/** What a contract test needs of a Gogs, made the way each Gogs makes it. */
interface ContractGogs {
  url: string;
  /** A person with a password; returns the password. */
  addUser(name: string): Promise<string>;
  /** An access token of that person. */
  addToken(name: string, password: string): Promise<string>;
  /** A repository of theirs (private: with REQUIRE_SIGNIN_VIEW, git always asks for credentials). */
  addRepo(owner: string, name: string): Promise<void>;
  /** Gogs' own password sign-in: the value of its session cookie, i_like_gogs. */
  passwordSession(name: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/** The cookie values a response sets, by name. */
function setCookies(res: RawResponse): Map<string, string> {
  const out = new Map<string, string>();
  const lines = res.headers['set-cookie'] ?? [];
  for (const line of lines) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function realContractGogs(): Promise<ContractGogs> {
  const gogs: RealGogs = await startRealGogs({ publicUrl: 'http://localhost:1', trustedProxyIps: `${TRUSTED}/32` });
  return {
    url: gogs.url,
    addUser: (name) => gogs.createUser(name),
    async addToken(name, password) {
      const res = await sendRaw(gogs.url, {
        method: 'POST',
        path: `/api/v1/users/${name}/tokens`,
        headers: ['Authorization', basic(name, password), 'Content-Type', 'application/json'],
        body: JSON.stringify({ name: `t${randomBytes(4).toString('hex')}` }),
      });
      assert.equal(res.status, 201, res.text);
      return (JSON.parse(res.text) as { sha1: string }).sha1;
    },
    async addRepo(owner, name) {
      const res = await sendRaw(gogs.url, {
        method: 'POST',
        path: `/api/v1/admin/users/${owner}/repos`,
        headers: ['Authorization', `token ${gogs.adminToken}`, 'Content-Type', 'application/json'],
        body: JSON.stringify({ name, private: true, auto_init: true, readme: 'Default' }),
      });
      assert.equal(res.status, 201, res.text);
    },
    passwordSession: (name, password) => gogs.passwordSession(name, password),
    close: () => gogs.stop(),
  };
}

async function fakeContractGogs(): Promise<ContractGogs> {
  const gogs: FakeGogs = await startFakeGogs({ trustedProxyIps: [TRUSTED] });
  return {
    url: gogs.url,
    async addUser(name) {
      const password = randomBytes(12).toString('hex');
      gogs.addUser(name, { password });
      gogs.setPassword(name, password);
      return password;
    },
    async addToken(name) {
      const token = randomBytes(20).toString('hex');
      gogs.addToken(name, token);
      return token;
    },
    async addRepo() {
      // Every repository of the stand-in exists and is private.
    },
    async passwordSession(name, password) {
      const res = await sendRaw(gogs.url, {
        method: 'POST',
        path: '/user/login',
        headers: ['Content-Type', 'application/x-www-form-urlencoded'],
        body: new URLSearchParams({ user_name: name, password }).toString(),
      });
      assert.equal(res.status, 302);
      return setCookies(res).get('i_like_gogs')!;
    },
    close: () => gogs.close(),
  };
}

/**
 * Who Gogs says a page is for: "Signed in as <name>" in the page (the real Gogs in its menu, the
 * stand-in in its body), or nobody (the real Gogs then sends a visitor to /user/login).
 */
function signedInAs(res: RawResponse): string | null {
  if (res.status === 302 || res.status === 303) return null;
  assert.equal(res.status, 200, res.text.slice(0, 300));
  return /Signed in as (?:<strong>)?([^<\s]+)/.exec(res.text)?.[1] ?? null;
}

for (const [which, start] of [
  ['the real Gogs 0.14.3', realContractGogs],
  ['the stand-in', fakeContractGogs],
] as const) {
  describe(`Gogs contract: ${which}`, () => {
    let gogs: ContractGogs;
    const people: Record<string, { password: string; token: string }> = {};
    before(async () => {
      gogs = await start();
      for (const name of ['ana', 'bob']) {
        const password = await gogs.addUser(name);
        people[name] = { password, token: await gogs.addToken(name, password) };
      }
      await gogs.addRepo('ana', 'code');
    });
    after(() => gogs?.close());

    const page = (headers: string[], localAddress = TRUSTED) => sendRaw(gogs.url, { path: '/', headers, localAddress });

    test('the identity header from the trusted proxy address is that person; from any other address it is nobody', async () => {
      assert.equal(signedInAs(await page(['X-WEBAUTH-USER', 'ana'])), 'ana');
      assert.equal(signedInAs(await page(['X-WEBAUTH-USER', 'ana'], UNTRUSTED)), null);
      assert.equal(signedInAs(await page(['X-WEBAUTH-USER', 'ana'], '127.0.0.1')), null);
      assert.equal(signedInAs(await page([])), null);
    });

    test('the header name is read case-insensitively, the first copy wins, and X_WEBAUTH_USER is another header', async () => {
      assert.equal(signedInAs(await page(['x-webauth-user', 'ana'])), 'ana');
      assert.equal(signedInAs(await page(['X-WEBAUTH-USER', 'ana', 'X-WEBAUTH-USER', 'bob'])), 'ana');
      assert.equal(signedInAs(await page(['X_WEBAUTH_USER', 'ana'])), null);
    });

    test("a Gogs session from Gogs' own password sign-in beats the identity header (why Keygate seals Gogs' session cookie)", async () => {
      const sid = await gogs.passwordSession('ana', people.ana.password);
      assert.equal(signedInAs(await page(['Cookie', `i_like_gogs=${sid}`])), 'ana');
      assert.equal(signedInAs(await page(['Cookie', `i_like_gogs=${sid}`, 'X-WEBAUTH-USER', 'bob'])), 'ana');
    });

    test('git over HTTP ignores the identity header and the session: it asks for Basic credentials', async () => {
      const sid = await gogs.passwordSession('ana', people.ana.password);
      for (const headers of [[], ['X-WEBAUTH-USER', 'ana'], ['Cookie', `i_like_gogs=${sid}`]]) {
        const res = await sendRaw(gogs.url, { path: '/ana/code.git/info/refs?service=git-upload-pack', headers, localAddress: TRUSTED });
        assert.equal(res.status, 401, `${headers.join(': ')} → ${res.status}`);
        assert.equal(res.headers['www-authenticate'], 'Basic realm="."');
      }
    });

    test("git over HTTP takes the password, and an access token as Basic username or password (the empty-password trap's door)", async () => {
      const refs = (authorization: string) =>
        sendRaw(gogs.url, { path: '/ana/code.git/info/refs?service=git-upload-pack', headers: ['Authorization', authorization], localAddress: UNTRUSTED });
      assert.equal((await refs(basic('ana', people.ana.password))).status, 200);
      assert.equal((await refs(basic(people.ana.token, 'x-oauth-basic'))).status, 200);
      assert.equal((await refs(basic('ana', people.ana.token))).status, 200);
      assert.equal((await refs(basic('ana', 'wrong'))).status, 401);
      assert.equal((await refs(basic('ana', ''))).status, 401);
    });

    test('the API: an anonymous call is refused (REQUIRE_SIGNIN_VIEW); /api/v1/user is the owner of a token, and neither a password nor the header', async () => {
      const me = (headers: string[], localAddress = UNTRUSTED) => sendRaw(gogs.url, { path: '/api/v1/user', headers, localAddress });
      const byToken = await me(['Authorization', `token ${people.bob.token}`]);
      assert.equal(byToken.status, 200);
      assert.equal((JSON.parse(byToken.text) as { username: string }).username, 'bob');
      assert.equal((await me(['X-WEBAUTH-USER', 'bob'], TRUSTED)).status, 401);
      assert.equal((await me(['Authorization', basic('bob', people.bob.password)])).status, 401);
      const anonymous = await me([]);
      assert.equal(anonymous.status, 403);
      assert.deepEqual(JSON.parse(anonymous.text), { message: 'Only authenticated user is allowed to call APIs.' });
    });

    test("the admin API refuses anyone but a site administrator with a bare 403; a user's lookup wants a signed-in caller, 404 when unknown", async () => {
      const create = await sendRaw(gogs.url, {
        method: 'POST',
        path: '/api/v1/admin/users',
        headers: ['Authorization', `token ${people.bob.token}`, 'Content-Type', 'application/json'],
        body: JSON.stringify({ username: 'mallory', email: 'm@example.test', password: 'x'.repeat(12) }),
      });
      assert.equal(create.status, 403);
      assert.equal(create.text, '');
      const lookup = (name: string, headers: string[]) => sendRaw(gogs.url, { path: `/api/v1/users/${name}`, headers });
      const known = await lookup('ana', ['Authorization', `token ${people.bob.token}`]);
      assert.equal(known.status, 200);
      assert.equal((JSON.parse(known.text) as { username: string }).username, 'ana');
      assert.equal((await lookup('nobody-here', ['Authorization', `token ${people.bob.token}`])).status, 404);
      assert.equal((await lookup('ana', [])).status, 403);
    });

    test("a static file is the same for everyone, with an ETag Gogs answers with a 304; a missing one is not a file (why Keygate's asset cache may share them)", async () => {
      const get = (path: string, headers: string[], localAddress = TRUSTED) => sendRaw(gogs.url, { path, headers, localAddress });
      for (const path of ['/img/favicon.png', '/css/gogs.min.css']) {
        const answers = [await get(path, ['X-WEBAUTH-USER', 'ana']), await get(path, ['X-WEBAUTH-USER', 'bob']), await get(path, [], UNTRUSTED)];
        const [first] = answers;
        assert.equal(first.status, 200, path);
        assert.match(String(first.headers.etag), /^"[A-Za-z0-9+/=]+"$/, `${path}: an ETag`);
        assert.ok(first.body.length > 0 && first.body.length === Number(first.headers['content-length']), `${path}: the whole file`);
        for (const res of answers) {
          assert.equal(res.status, 200);
          assert.equal(res.headers['set-cookie'], undefined, `${path}: no cookie`);
          assert.equal(res.headers.etag, first.headers.etag, `${path}: one ETag for everyone`);
          assert.equal(res.headers['cache-control'], undefined, `${path}: nothing said about caching`);
          assert.ok(res.body.equals(first.body), `${path}: the same bytes for everyone`);
        }
        const again = await get(path, ['X-WEBAUTH-USER', 'bob', 'If-None-Match', String(first.headers.etag)]);
        assert.equal(again.status, 304, `${path}: its ETag asked again`);
        assert.equal(again.body.length, 0);
        assert.equal(again.headers.etag, first.headers.etag);
        const other = await get(path, ['X-WEBAUTH-USER', 'bob', 'If-None-Match', '"another"']);
        assert.equal(other.status, 200, `${path}: another ETag gets the file`);
      }
      const missing = await get('/css/no-such-file.css', ['X-WEBAUTH-USER', 'ana']);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.etag, undefined, 'a missing file has no ETag');
    });

    test("Gogs' sign-out (POST /user/logout) ends its session: the old cookie is nobody afterwards", async () => {
      const sid = await gogs.passwordSession('bob', people.bob.password);
      assert.equal(signedInAs(await page(['Cookie', `i_like_gogs=${sid}`], UNTRUSTED)), 'bob');
      // The real Gogs wants its CSRF token on the form; Keygate sends Gogs' own form through, so
      // both Gogs are asked the way a browser asks: with the session's token where there is one.
      const form = await page(['Cookie', `i_like_gogs=${sid}`], UNTRUSTED);
      const csrf = /name="_csrf" content="([^"]+)"/.exec(form.text)?.[1] ?? /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
      const cookies = [`i_like_gogs=${sid}`, ...[...setCookies(form)].filter(([k]) => k === '_csrf').map(([k, v]) => `${k}=${v}`)].join('; ');
      const out = await sendRaw(gogs.url, {
        method: 'POST',
        path: '/user/logout',
        headers: ['Cookie', cookies, 'Content-Type', 'application/x-www-form-urlencoded'],
        body: new URLSearchParams({ _csrf: csrf }).toString(),
        localAddress: UNTRUSTED,
      });
      assert.equal(out.status, 302, out.text.slice(0, 200));
      assert.equal(signedInAs(await page(['Cookie', `i_like_gogs=${sid}`], UNTRUSTED)), null);
    });
  });
}

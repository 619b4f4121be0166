/**
 * Self-test of the fake Gogs, driven directly (no proxy): if the fake does not behave like
 * Gogs, every proxy test built on it proves nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';

import { downloadSha256, startFakeGogs } from '../support/gogs.js';
import type { FakeGogs } from '../support/gogs.js';

const TOKEN = 'a'.repeat(40);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * One request with headers given as a raw [name, value, ...] list, so duplicates reach the server.
 * Node adds no Host header to a raw list, and its server answers 400 without one, so add it here.
 */
function rawRequest(url: string, rawHeaders: string[]): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: ['Host', new URL(url).host, ...rawHeaders], agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fake Gogs', () => {
  let gogs: FakeGogs;

  before(async () => {
    gogs = await startFakeGogs();
    gogs.addToken('alice', TOKEN);
    gogs.setPassword('alice', 'correct horse');
  });
  after(() => gogs.close());
  beforeEach(() => gogs.clear());

  test('listens on 127.0.0.1 and marks every response', async () => {
    assert.match(gogs.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${gogs.url}/nope`, { method: 'DELETE' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-fake-gogs'), '1');
    assert.equal(await res.text(), 'Not found: /nope');
    assert.equal(gogs.requests.length, 1);
  });

  test('the header identifies the user on a page, HTML-escaped', async () => {
    const res = await fetch(`${gogs.url}/`, { headers: { 'X-WEBAUTH-USER': 'alice' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Signed in as alice/);
    const rec = gogs.last();
    assert.equal(rec?.identity, 'alice');
    assert.equal(rec?.identitySource, 'header');
    assert.deepEqual(rec?.authHeaderValues, ['alice']);
    assert.equal(rec?.peer, '127.0.0.1');

    const odd = await fetch(`${gogs.url}/alice/repo`, { headers: { 'x-webauth-user': '<b>' } });
    assert.match(await odd.text(), /Signed in as &#60;b&#62;/);
  });

  test('no header means anonymous', async () => {
    const res = await fetch(`${gogs.url}/`);
    assert.match(await res.text(), /Not signed in/);
    assert.equal(gogs.last()?.identity, null);
    assert.equal(gogs.last()?.identitySource, null);
  });

  test('a Gogs session beats the header', async () => {
    const sid = gogs.createGogsSession('bob');
    const res = await fetch(`${gogs.url}/`, { headers: { 'X-WEBAUTH-USER': 'alice', Cookie: `lang=en; i_like_gogs=${sid}` } });
    assert.match(await res.text(), /Signed in as bob/);
    assert.equal(gogs.last()?.identitySource, 'session');
  });

  test('password sign-in and sign-out manage the session', async () => {
    const login = await fetch(`${gogs.url}/user/login`, {
      method: 'POST',
      body: new URLSearchParams({ user_name: 'ALICE', password: 'correct horse' }),
      redirect: 'manual',
    });
    assert.equal(login.status, 302);
    const cookie = /^i_like_gogs=([0-9a-f]+);/.exec(login.headers.get('set-cookie') ?? '');
    assert.ok(cookie, 'session cookie set');
    const page = await fetch(`${gogs.url}/`, { headers: { Cookie: `i_like_gogs=${cookie[1]}` } });
    assert.match(await page.text(), /Signed in as alice/);

    const out = await fetch(`${gogs.url}/user/logout`, { method: 'POST', headers: { Cookie: `i_like_gogs=${cookie[1]}` }, redirect: 'manual' });
    assert.equal(out.status, 302);
    assert.ok(out.headers.getSetCookie().includes('i_like_gogs=; Path=/; Max-Age=0; HttpOnly'));
    const after = await fetch(`${gogs.url}/`, { headers: { Cookie: `i_like_gogs=${cookie[1]}` } });
    assert.match(await after.text(), /Not signed in/);

    const login2 = await fetch(`${gogs.url}/user/sign_up`);
    assert.match(await login2.text(), /GOGS PASSWORD LOGIN PAGE/);
  });

  test('git info/refs without credentials is 401 with a Basic challenge', async () => {
    const res = await fetch(`${gogs.url}/alice/repo.git/info/refs?service=git-upload-pack`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="."');
    assert.equal(gogs.last()?.identity, null);
  });

  test('git accepts a token as Basic username and ignores the header', async () => {
    const ok = await fetch(`${gogs.url}/alice/repo/info/refs?service=git-upload-pack`, {
      headers: { Authorization: basic(TOKEN, 'x-oauth-basic') },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
    assert.ok((await ok.text()).startsWith('001e# service=git-upload-pack\n0000'));
    assert.equal(gogs.last()?.identity, 'alice');
    assert.equal(gogs.last()?.identitySource, 'token');

    const headerOnly = await fetch(`${gogs.url}/alice/repo.git/info/refs?service=git-receive-pack`, {
      headers: { 'X-WEBAUTH-USER': 'alice', Cookie: `i_like_gogs=${gogs.createGogsSession('alice')}` },
    });
    assert.equal(headerOnly.status, 401);
    assert.equal(gogs.last()?.identity, null);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['alice']);

    const push = await fetch(`${gogs.url}/alice/repo.git/git-receive-pack`, {
      method: 'POST',
      headers: { Authorization: basic('alice', 'correct horse'), 'Content-Type': 'application/x-git-receive-pack-request' },
      body: '0000',
    });
    assert.equal(push.status, 200);
    assert.equal(push.headers.get('content-type'), 'application/x-git-receive-pack-result');
    assert.equal(JSON.parse(await push.text()).bytes, 4);
    assert.equal(gogs.last()?.identitySource, 'basic');
  });

  test('/api/v1/user needs a token, not the header', async () => {
    const withToken = await fetch(`${gogs.url}/api/v1/user`, { headers: { Authorization: `token ${TOKEN}` } });
    assert.equal(withToken.status, 200);
    assert.deepEqual(await withToken.json(), { username: 'alice' });

    const withHeader = await fetch(`${gogs.url}/api/v1/user`, { headers: { 'X-WEBAUTH-USER': 'alice' } });
    assert.equal(withHeader.status, 401);
    assert.equal(gogs.last()?.identitySource, 'header');

    const echo = await fetch(`${gogs.url}/api/v1/repos/alice/x`, { headers: { Authorization: `token ${TOKEN}` } });
    assert.deepEqual(await echo.json(), { path: '/api/v1/repos/alice/x', identity: 'alice' });
  });

  test('duplicate header values are all recorded; the first wins', async () => {
    const res = await rawRequest(`${gogs.url}/`, ['X-WEBAUTH-USER', 'alice', 'x-webauth-user', 'mallory', 'X-Webauth-User', '']);
    assert.equal(res.status, 200);
    assert.match(res.body, /Signed in as alice/);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['alice', 'mallory', '']);
    assert.equal(gogs.last()?.identity, 'alice');
  });

  test('/-/ is not Gogs', async () => {
    const res = await fetch(`${gogs.url}/-/echo-headers`);
    assert.equal(res.status, 404);
  });

  test('a 5 MB upload streams and reports the right sha256', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const res = await fetch(`${gogs.url}/upload`, { method: 'POST', body });
    assert.deepEqual(await res.json(), { bytes: body.length, sha256 });
    assert.equal(gogs.last()?.bodyBytes, body.length);
    assert.equal(gogs.last()?.bodySha256, sha256);
  });

  test('download streams n bytes and set-cookie sends two cookies', async () => {
    const n = 300_000;
    const res = await fetch(`${gogs.url}/download/${n}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.length, n);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), downloadSha256(n));

    const cookies = await fetch(`${gogs.url}/set-cookie`);
    const set = cookies.headers.getSetCookie();
    assert.equal(set.length, 2);
    assert.match(set[0], /^i_like_gogs=/);
    assert.equal(set[1], 'lang=en-US; Path=/');
  });

  test('setDelay holds the response', async () => {
    gogs.setDelay(150);
    try {
      const started = Date.now();
      await (await fetch(`${gogs.url}/`)).text();
      assert.ok(Date.now() - started >= 140);
    } finally {
      gogs.setDelay(0);
    }
  });
});

test('the header from an untrusted peer is ignored', async () => {
  const gogs = await startFakeGogs({ trustedProxyIps: [] });
  try {
    const res = await fetch(`${gogs.url}/`, { headers: { 'X-WEBAUTH-USER': 'alice' } });
    assert.match(await res.text(), /Not signed in/);
    assert.equal(gogs.last()?.identity, null);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['alice']);
  } finally {
    await gogs.close();
  }
});

test('close() does not wait for a pending delay', async () => {
  const gogs = await startFakeGogs({ trustedProxyIps: ['127.0.0.0/8'] });
  gogs.setDelay(60_000);
  const pending = fetch(`${gogs.url}/`, { headers: { 'X-WEBAUTH-USER': 'carol' } }).catch(() => 'aborted');
  while (gogs.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(gogs.last()?.identity, 'carol'); // CIDR entries are honoured
  const started = Date.now();
  await gogs.close();
  await pending;
  assert.ok(Date.now() - started < 1000);
});

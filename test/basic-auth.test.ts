/**
 * Issue 4, class 3: passwords stay out of git over HTTP and the API. By default Basic credentials
 * reach Gogs only when they carry an access token (as username or as password); a password
 * needs ALLOW_GIT_PASSWORDS=true; an empty password is always refused. Refusals are 401 with
 * Gogs' own Basic challenge, so git asks again, and Gogs never sees the request.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { judgeAuthorization } from '../server/proxy/authorization.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Git smart HTTP, LFS and the API: every pass-through route that takes Basic credentials. */
const PASS_THROUGH = [
  { method: 'GET', path: '/bob/repo.git/info/refs?service=git-upload-pack' },
  { method: 'POST', path: '/bob/repo.git/git-receive-pack', body: 'PACK' },
  { method: 'POST', path: '/bob/repo.git/info/lfs/objects/batch', body: '{"operation":"download","objects":[]}' },
  { method: 'GET', path: '/api/v1/user' },
];

const TOKEN = 'e'.repeat(30) + '0123456789';

async function call(kg: TestKeygate, route: { method: string; path: string; body?: string }, authorization?: string) {
  const res = await fetch(new URL(route.path, kg.url), {
    method: route.method,
    headers: authorization === undefined ? {} : { authorization },
    body: route.body,
    redirect: 'manual',
  });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), text: await res.text() };
}

function assertGogsReceivedNothing(kg: TestKeygate, what: string): void {
  assert.deepEqual(
    kg.gogs.requests.map((r) => `${r.method} ${r.url}`),
    [],
    `${what} reached Gogs`,
  );
}

describe('Basic credentials on git and API pass-through (default: access tokens only)', () => {
  let kg: TestKeygate;

  before(async () => {
    kg = await startKeygate();
    kg.gogs.setPassword('bob', 'hunter2');
    kg.gogs.setPassword('autoreg', '');
    kg.gogs.addToken('bob', TOKEN);
  });
  after(() => kg.close());
  beforeEach(() => kg.gogs.clear());

  test('precondition: the fake Gogs itself accepts the password and the empty password', async () => {
    for (const auth of [basic('bob', 'hunter2'), basic('autoreg', '')]) {
      // Git over HTTP takes a password in the real Gogs and the stand-in alike (gogs-contract).
      const res = await fetch(`${kg.gogs.url}/bob/repo.git/info/refs?service=git-upload-pack`, { headers: { authorization: auth } });
      assert.equal(res.status, 200, auth);
    }
    kg.gogs.clear();
  });

  test('an account password is refused with 401 and a Basic challenge, and Gogs receives nothing', async () => {
    for (const route of PASS_THROUGH) {
      for (const auth of [
        basic('bob', 'hunter2'),
        basic('BOB', 'hunter2'),
        `basic ${Buffer.from('bob:hunter2').toString('base64')}`,
        basic('bob@example.com', 'hunter2'),
      ]) {
        const res = await call(kg, route, auth);
        assert.equal(res.status, 401, `${route.method} ${route.path} ${auth}`);
        assert.equal(res.challenge, 'Basic realm="."', 'git prompts for other credentials');
        assert.match(res.text, /access token/);
      }
    }
    assertGogsReceivedNothing(kg, 'a password');
  });

  test('an access token as the username reaches Gogs, with an empty or any password', async () => {
    for (const password of ['', 'x-oauth-basic', 'anything']) {
      kg.gogs.clear();
      const res = await call(kg, PASS_THROUGH[0], basic(TOKEN, password));
      assert.equal(res.status, 200, `token:${password}`);
      assert.equal(kg.gogs.last()?.identity, 'bob');
      assert.equal(kg.gogs.last()?.headers.authorization, basic(TOKEN, password), 'the credentials reach Gogs untouched');
    }
  });

  test('an access token as the password reaches Gogs, in upper or lower case', async () => {
    for (const auth of [basic('bob', TOKEN), basic('anyone', TOKEN), basic('bob', TOKEN.toUpperCase())]) {
      kg.gogs.clear();
      await call(kg, PASS_THROUGH[0], auth);
      assert.equal(kg.gogs.requests.length, 1, auth);
    }
    const res = await call(kg, PASS_THROUGH[0], basic('bob', TOKEN));
    assert.equal(res.status, 200);
    assert.equal(kg.gogs.last()?.identity, 'bob', 'git accepts the token as the password');
  });

  test('39 or 41 hex characters, or non-hex, are not a token: refused as a password', async () => {
    for (const notToken of ['e'.repeat(39), 'e'.repeat(41), 'g'.repeat(40), `${'e'.repeat(39)} `]) {
      const res = await call(kg, PASS_THROUGH[0], basic('bob', notToken));
      assert.equal(res.status, 401, notToken);
    }
    assertGogsReceivedNothing(kg, 'a token-like password');
  });

  test('an empty password is refused', async () => {
    for (const route of PASS_THROUGH) {
      for (const auth of [basic('autoreg', ''), basic('AutoReg', ''), basic('', '')]) {
        const res = await call(kg, route, auth);
        assert.equal(res.status, 401);
        assert.equal(res.challenge, 'Basic realm="."');
        assert.match(res.text, /cannot be empty/);
      }
    }
    assertGogsReceivedNothing(kg, 'an empty password');
  });

  test('Basic credentials not read exactly as Gogs reads them are refused: loose base64, no colon, extra fields', async () => {
    const loose = Buffer.from('bob:hunter2').toString('base64').replace(/=+$/, '');
    for (const auth of [
      `Basic ${loose}`, // unpadded: Node decodes it, Go's StdEncoding does not
      `Basic ${Buffer.from(`${TOKEN}:`).toString('base64url').replace(/=+$/, '')}!`,
      `Basic ${Buffer.from('bob').toString('base64')}`,
      `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')} extra`,
      'Basic',
    ]) {
      const res = await call(kg, PASS_THROUGH[0], auth);
      assert.equal(res.status, 401, auth);
      assert.equal(res.challenge, 'Basic realm="."');
    }
    assertGogsReceivedNothing(kg, 'malformed Basic credentials');
  });

  test('no credentials, or another scheme, reach Gogs, which answers for itself', async () => {
    const anonymous = await call(kg, PASS_THROUGH[0]);
    assert.equal(anonymous.status, 401);
    assert.equal(kg.gogs.requests.length, 1);
    const api = await call(kg, PASS_THROUGH[3], `token ${TOKEN}`);
    assert.equal(api.status, 200);
    assert.equal(kg.gogs.last()?.identity, 'bob');
  });
});

describe('ALLOW_GIT_PASSWORDS=true', () => {
  let kg: TestKeygate;

  before(async () => {
    kg = await startKeygate({ env: { ALLOW_GIT_PASSWORDS: 'true' } });
    kg.gogs.setPassword('bob', 'hunter2');
    kg.gogs.setPassword('autoreg', '');
  });
  after(() => kg.close());
  beforeEach(() => kg.gogs.clear());

  test('lets an account password through to Gogs', async () => {
    assert.equal(kg.config.allowGitPasswords, true);
    for (const route of PASS_THROUGH) {
      kg.gogs.clear();
      await call(kg, route, basic('bob', 'hunter2'));
      assert.equal(kg.gogs.requests.length, 1, `${route.method} ${route.path}`);
      assert.equal(kg.gogs.last()?.identity, 'bob');
    }
  });

  test('still refuses an empty password, before Gogs', async () => {
    for (const route of PASS_THROUGH) {
      const res = await call(kg, route, basic('autoreg', ''));
      assert.equal(res.status, 401);
      assert.equal(res.challenge, 'Basic realm="."');
    }
    assertGogsReceivedNothing(kg, 'an empty password');
  });
});

describe('judgeAuthorization', () => {
  const tokensOnly = { allowPasswords: false };
  const passwords = { allowPasswords: true };
  const reason = (v: ReturnType<typeof judgeAuthorization>) => (v.ok ? 'ok' : v.reason);

  test('tokens only: a token as username or password is accepted; a password, an empty password or unreadable credentials are not', () => {
    assert.equal(reason(judgeAuthorization(basic(TOKEN, ''), tokensOnly)), 'ok');
    assert.equal(reason(judgeAuthorization(basic('bob', TOKEN), tokensOnly)), 'ok');
    const reasons = [basic('bob', 'hunter2'), basic('bob', ''), 'Basic Ym9i', 'Basic Ym9iOmh1bnRlcjI', 'Basic a b'].map((a) =>
      reason(judgeAuthorization(a, tokensOnly)),
    );
    assert.deepEqual(reasons, ['password', 'empty_password', 'malformed', 'malformed', 'malformed']);
  });

  test('passwords allowed: a password is accepted, an empty one still is not (an auto-registered Gogs user has one)', () => {
    assert.equal(reason(judgeAuthorization(basic('bob', 'hunter2'), passwords)), 'ok');
    for (const auth of [
      basic('bob', ''),
      basic('', ''),
      `basic ${Buffer.from('alice:').toString('base64')}`,
      `  Basic   ${Buffer.from('alice:').toString('base64')}  `,
    ]) {
      assert.equal(reason(judgeAuthorization(auth, passwords)), 'empty_password', auth);
    }
  });

  test('what Gogs receives is rebuilt from what Keygate read: one canonical "Basic" or "token" header', () => {
    const v = judgeAuthorization(`bAsIc\t\t${Buffer.from(`bob:${TOKEN}`).toString('base64')}  `, tokensOnly);
    assert.deepEqual(v, {
      ok: true,
      header: `Basic ${Buffer.from(`bob:${TOKEN}`).toString('base64')}`,
      credentials: { kind: 'basic', username: 'bob', password: TOKEN },
    });
    assert.deepEqual(judgeAuthorization(`TOKEN ${TOKEN}`, tokensOnly), { ok: true, header: `token ${TOKEN}`, credentials: { kind: 'token', token: TOKEN } });
    // Non-canonical padding bits ("YR==" also decodes to "a"): rebuilt, so Gogs gets the one spelling.
    const odd = judgeAuthorization(`Basic ${Buffer.from(`${TOKEN}:`).toString('base64').replace(/=$/, '')}=`, tokensOnly);
    assert.equal(odd.ok && odd.header, `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}`);
  });

  test("a Unicode space after the scheme (Go's strings.Fields splits on it) is refused as non-ASCII, never forwarded", () => {
    const b64 = Buffer.from('alice:alice-password').toString('base64');
    for (const space of ['\u0085', '\u00a0', '\u2000', '\u2009', '\u200a', '\u3000']) {
      // Node presents header bytes as latin1: the UTF-8 bytes of the space, one character each.
      const header = `Basic${Buffer.from(space, 'utf8').toString('latin1')}${b64}`;
      assert.equal(reason(judgeAuthorization(header, passwords)), 'non_ascii', JSON.stringify(space));
    }
    assert.equal(reason(judgeAuthorization(`Basic ${Buffer.from('bob:pässword').toString('base64')}`, passwords)), 'ok', 'UTF-8 inside the base64 is fine');
    assert.equal(reason(judgeAuthorization(`Basic ${Buffer.from([0x62, 0x3a, 0xff]).toString('base64')}`, passwords)), 'malformed', 'not UTF-8');
    assert.equal(reason(judgeAuthorization(`Basic ${Buffer.from('bob:a\u0085b').toString('base64')}`, passwords)), 'malformed', 'a control character');
  });

  test('a token scheme without a 40-hex token is refused; other schemes are dropped, never forwarded', () => {
    assert.equal(reason(judgeAuthorization('token abc', tokensOnly)), 'malformed');
    assert.equal(reason(judgeAuthorization(`token ${TOKEN} extra`, tokensOnly)), 'malformed');
    for (const auth of [undefined, '', 'Bearer abc', 'Digest username="bob"']) {
      assert.deepEqual(judgeAuthorization(auth, tokensOnly), { ok: true, header: undefined, credentials: { kind: 'none' } }, String(auth));
    }
    assert.equal(reason(judgeAuthorization('Digest username="bob", realm="x"', tokensOnly)), 'malformed', 'more than one credential field');
  });
});

/**
 * Sessions (ASVS 7.2–7.4, 3.3): a new session id at sign-in, cookie flags (and `__Host-` under
 * https), idle and absolute timeouts judged on the server from the session row whatever the cookie
 * says, sign-out that deletes the row, and a generated secret shared by every instance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { enrolledUser, HeaderClient, invite, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { sleep } from './support/net.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import signature from 'cookie-signature';
import { MIGRATIONS_DIR } from '../server/db/migrate.js';
import { sessionKey } from '../server/session/key.js';

/** The key a session is stored under (SHA-256 of the id inside the signed cookie value `s:<sid>.<signature>`). */
function sessionIdOf(cookieValue: string | undefined): string {
  assert.ok(cookieValue, 'a session cookie');
  const raw = decodeURIComponent(cookieValue);
  assert.ok(raw.startsWith('s:'));
  return sessionKey(raw.slice(2, raw.lastIndexOf('.')));
}

/** The Set-Cookie line for `name`, split into its value and lower-cased attributes. */
function setCookie(res: ClientResponse, name: string): { value: string; attributes: Map<string, string> } {
  const line = res.setCookies.find((c) => c.startsWith(`${name}=`));
  assert.ok(line, `Set-Cookie ${name} in: ${res.setCookies.join(' | ')}`);
  const [pair, ...rest] = line.split(';');
  const attributes = new Map(
    rest.map((a) => {
      const [k, ...v] = a.trim().split('=');
      return [k.toLowerCase(), v.join('=')] as [string, string];
    }),
  );
  return { value: pair.slice(name.length + 1), attributes };
}

/** A browser that only has a copy of another one's cookies (a replayed or stolen cookie). */
function replay(from: TestClient, baseUrl = from.baseUrl): TestClient {
  const copy = new TestClient(baseUrl);
  for (const [k, v] of from.cookies) copy.cookies.set(k, v);
  return copy;
}

async function isSignedIn(browser: TestClient): Promise<boolean> {
  const res = await browser.get('/');
  if (res.status === 200) return true;
  assert.equal(res.status, 303, res.text);
  assert.match(res.location ?? '', /^\/-\/login/);
  return false;
}

describe('sessions', () => {
  let kg: TestKeygate;
  let n = 0;
  const nextName = () => `sess${++n}`;

  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg.close());

  const sessionRows = async (sid: string) => (await kg.db.query('SELECT sess FROM session WHERE sid = $1', [sid])).rows;

  /** A user signed in on a fresh browser; returns the browser and its session id. */
  async function signedIn(server = kg) {
    const key = new SoftwareAuthenticator();
    await enrolledUser(server, new TestClient(server.url), key, nextName());
    const browser = new TestClient(server.url);
    const res = await signIn(browser, key);
    assert.equal(res.status, 200, res.text);
    return { browser, key, res, sid: sessionIdOf(browser.cookies.get(server.config.sessionCookieName)) };
  }

  describe('session id and cookie', () => {
    test('sign-in issues a new session id, so a session id planted before sign-in stays anonymous (fixation)', async () => {
      const key = new SoftwareAuthenticator();
      await enrolledUser(kg, new TestClient(kg.url), key, nextName());
      // The attacker starts a ceremony to get a session id, and plants its cookie in the victim's browser.
      const attacker = new TestClient(kg.url);
      assert.equal((await attacker.post('/-/api/login/options', {})).status, 200);
      const planted = sessionIdOf(attacker.cookies.get('keygate'));
      const victim = replay(attacker);

      const res = await signIn(victim, key);
      assert.equal(res.status, 200, res.text);
      const after = sessionIdOf(victim.cookies.get('keygate'));
      assert.notEqual(after, planted);
      assert.equal(await isSignedIn(victim), true);
      assert.equal(await isSignedIn(attacker), false, 'the planted id did not become signed in');
      assert.equal((await sessionRows(planted)).filter((r) => r.sess.auth).length, 0);
    });

    test('enrolment also signs in on a new session id', async () => {
      const browser = new TestClient(kg.url);
      const token = await invite(kg, nextName());
      const options = await browser.post('/-/api/enroll/options', { token });
      const before = sessionIdOf(browser.cookies.get('keygate'));
      const response = await new SoftwareAuthenticator().register(options.json, kg.origin);
      const res = await browser.post('/-/api/enroll/verify', { token, response });
      assert.equal(res.status, 200, res.text);
      assert.notEqual(sessionIdOf(browser.cookies.get('keygate')), before);
      assert.deepEqual(await sessionRows(before), []);
    });

    test('a visitor who has not started a ceremony gets no session cookie', async () => {
      const res = await new TestClient(kg.url).get('/-/login');
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.setCookies.filter((c) => c.startsWith('keygate')),
        [],
      );
    });

    test('an anonymous visitor asking for sign-in options gets a session row and cookie that end with the ceremony, not after SESSION_ABSOLUTE_TIMEOUT', async () => {
      const visitor = new TestClient(kg.url);
      const res = await visitor.post('/-/api/login/options', {});
      assert.equal(res.status, 200);
      const sid = sessionIdOf(visitor.cookies.get('keygate'));
      const { rows } = await kg.db.query<{ seconds: number }>('SELECT extract(epoch FROM expire - now())::float AS seconds FROM session WHERE sid = $1', [sid]);
      // Twice the ceremony, so a late answer is told it came too late.
      const ceremonySeconds = (2 * kg.config.ceremonyTimeoutMs) / 1000;
      assert.ok(
        rows[0].seconds <= ceremonySeconds + 1 && rows[0].seconds > ceremonySeconds - 30,
        `the row expires in ${rows[0].seconds} s, not with the ceremony (${ceremonySeconds} s)`,
      );
      const cookie = res.setCookies.find((c) => c.startsWith('keygate=')) ?? '';
      const expires = Date.parse(/Expires=([^;]+)/i.exec(cookie)?.[1] ?? '');
      assert.ok(Number.isFinite(expires) && expires - Date.now() <= 2 * kg.config.ceremonyTimeoutMs + 2000, `the cookie outlives the ceremony: ${cookie}`);
      // Signed in afterwards, the session is a full one again.
      const key = new SoftwareAuthenticator();
      await enrolledUser(kg, new TestClient(kg.url), key, nextName());
      const signedInRes = await signIn(visitor, key);
      assert.equal(signedInRes.status, 200);
      const after = await kg.db.query<{ hours: number }>('SELECT extract(epoch FROM expire - now())::float / 3600 AS hours FROM session WHERE sid = $1', [
        sessionIdOf(visitor.cookies.get('keygate')),
      ]);
      assert.ok(after.rows[0].hours > 11, `a signed-in session expires in ${after.rows[0].hours} h`);
    });

    test('the session cookie is HttpOnly, SameSite=Lax, Path=/, host-only, and not Secure over http', async () => {
      const { res } = await signedIn();
      const { attributes } = setCookie(res, 'keygate');
      assert.ok(attributes.has('httponly'));
      assert.equal(attributes.get('samesite')?.toLowerCase(), 'lax');
      assert.equal(attributes.get('path'), '/');
      assert.ok(!attributes.has('domain'));
      assert.ok(!attributes.has('secure'));
    });

    test('a cookie with a forged signature is anonymous', async () => {
      const { browser } = await signedIn();
      const value = decodeURIComponent(browser.cookies.get('keygate')!);
      const forged = replay(browser);
      const last = value.at(-1) === 'A' ? 'B' : 'A';
      forged.cookies.set('keygate', encodeURIComponent(value.slice(0, -1) + last));
      assert.equal(await isSignedIn(forged), false);
      assert.equal(await isSignedIn(browser), true);
    });

    test('under https the cookie is __Host-keygate: Secure, Path=/, no Domain', async () => {
      const tls = await startKeygate({ env: { PUBLIC_URL: 'https://keygate.test', TRUST_PROXY: 'true' } });
      try {
        assert.equal(tls.config.sessionCookieName, '__Host-keygate');
        const proxied = () => new HeaderClient(tls.url, 'https://keygate.test', { 'x-forwarded-proto': 'https' });
        const key = new SoftwareAuthenticator();
        const enrolled = await enrolledUser(tls, proxied(), key, 'tls-user');
        const browser = proxied();
        const res = await signIn(browser, key);
        assert.equal(res.status, 200, res.text);
        for (const answer of [enrolled, res]) {
          assert.ok(!answer.setCookies.some((c) => c.startsWith('keygate=')), 'no cookie without the prefix');
          const { attributes } = setCookie(answer, '__Host-keygate');
          assert.ok(attributes.has('secure'));
          assert.ok(attributes.has('httponly'));
          assert.equal(attributes.get('samesite')?.toLowerCase(), 'lax');
          assert.equal(attributes.get('path'), '/');
          assert.ok(!attributes.has('domain'));
        }
        const home = await browser.get('/');
        assert.equal(home.status, 200);
        assert.match(home.text, /Signed in as tls-user/);
      } finally {
        await tls.close();
      }
    });
  });

  describe('timeouts, judged on the server', () => {
    /** Moves the session's timestamps into the past, as if time had passed (the cookie is unchanged). */
    const age = (sid: string, field: 'lastSeenAt' | 'signedInAt', agoMs: number) =>
      kg.db.query(`UPDATE session SET sess = jsonb_set(sess, ARRAY['auth', $2::text], to_jsonb($3::bigint)) WHERE sid = $1`, [sid, field, Date.now() - agoMs]);

    test('after the idle timeout a replayed cookie is anonymous, on Gogs pages and on Keygate pages, and the row is gone', async () => {
      const onGogs = await signedIn();
      await age(onGogs.sid, 'lastSeenAt', kg.config.sessionIdleMs + 1000);
      assert.equal(await isSignedIn(replay(onGogs.browser)), false);
      assert.deepEqual(await sessionRows(onGogs.sid), []);

      const onKeygate = await signedIn();
      await age(onKeygate.sid, 'lastSeenAt', kg.config.sessionIdleMs + 1000);
      const account = await replay(onKeygate.browser).get('/-/account');
      assert.equal(account.status, 303);
      assert.match(account.location ?? '', /^\/-\/login\?return_to=/);
      assert.deepEqual(await sessionRows(onKeygate.sid), []);
    });

    test('after the absolute lifetime even an active session ends', async () => {
      const { browser, sid } = await signedIn();
      await age(sid, 'signedInAt', kg.config.sessionAbsoluteMs + 1000);
      await age(sid, 'lastSeenAt', 0);
      assert.equal(await isSignedIn(replay(browser)), false);
      assert.deepEqual(await sessionRows(sid), []);
    });

    test('a session in use outlives a short idle timeout, and ends once left idle', async () => {
      const short = await startKeygate({ env: { SESSION_IDLE_TIMEOUT: '2s', SESSION_ABSOLUTE_TIMEOUT: '1h' } });
      try {
        const { browser } = await signedIn(short);
        const started = Date.now();
        while (Date.now() - started < 2600) {
          await sleep(400);
          assert.equal(await isSignedIn(browser), true, `still signed in after ${Date.now() - started} ms of use`);
          assert.equal((await browser.get('/-/account')).status, 200);
        }
        await sleep(2300);
        assert.equal(await isSignedIn(browser), false, 'ended after 2.3 s idle');
      } finally {
        await short.close();
      }
    });
  });

  describe('sign-out', () => {
    test('sign-out deletes the session row, so a replayed cookie is anonymous', async () => {
      const { browser, sid } = await signedIn();
      const stolen = replay(browser);
      const out = await browser.request('/-/logout', { method: 'POST' });
      assert.equal(out.status, 303);
      const cleared = setCookie(out, 'keygate');
      assert.ok(cleared.value === '' || cleared.attributes.get('max-age') === '0' || /1970/.test(cleared.attributes.get('expires') ?? ''));
      assert.deepEqual(await sessionRows(sid), []);
      assert.equal(await isSignedIn(stolen), false);
      assert.equal((await stolen.get('/-/account')).status, 303);
    });

    test('neither GET /-/logout nor a cross-site POST signs out', async () => {
      const { browser, sid } = await signedIn();
      assert.equal((await browser.get('/-/logout')).status, 200);
      const crossSite = await browser.request('/-/logout', { method: 'POST', origin: 'http://evil.test' });
      assert.equal(crossSite.status, 403);
      assert.equal(await isSignedIn(browser), true);
      assert.equal((await sessionRows(sid)).length, 1);
    });
  });

  describe('session ids at rest', () => {
    test('the database holds only the SHA-256 of a session id: a cookie forged from a stored row, even with the secret, is anonymous', async () => {
      const { browser, sid } = await signedIn();
      const raw = decodeURIComponent(browser.cookies.get('keygate')!);
      const id = raw.slice(2, raw.lastIndexOf('.'));
      const { rows } = await kg.db.query<{ sid: string }>(`SELECT sid FROM session WHERE sess -> 'auth' IS NOT NULL`);
      assert.ok(
        rows.some((r) => r.sid === sid),
        'the row is stored under the key',
      );
      assert.ok(!rows.some((r) => r.sid === id), 'never under the id the cookie carries');
      // Someone who read the session table and the secret signs a cookie for a stored key.
      const { rows: secret } = await kg.db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'session_secret'`);
      const forged = new TestClient(kg.url);
      forged.cookies.set('keygate', encodeURIComponent(`s:${signature.sign(sid, secret[0].value)}`));
      assert.equal(await isSignedIn(forged), false);
      assert.equal(await isSignedIn(browser), true);
    });

    test('migration 0006 re-keys sessions stored under their id: a browser signed in before the upgrade stays signed in', async () => {
      const { browser, sid } = await signedIn();
      const raw = decodeURIComponent(browser.cookies.get('keygate')!);
      const id = raw.slice(2, raw.lastIndexOf('.'));
      // As the previous version stored it.
      await kg.db.query('UPDATE session SET sid = $1 WHERE sid = $2', [id, sid]);
      kg.gateway.sessionCache.forget(sid);
      assert.equal(await isSignedIn(browser), false, 'a row under the raw id is not found');
      await kg.db.query(`UPDATE session SET sid = encode(sha256(convert_to(sid, 'UTF8')), 'hex') WHERE sid = $1`, [id]);
      const migration = await readFile(path.join(MIGRATIONS_DIR, '0006_session_keys.sql'), 'utf8');
      assert.match(migration, /UPDATE session SET sid = encode\(sha256\(convert_to\(sid, 'UTF8'\)\), 'hex'\);/, "the statement above is the migration's");
      // Migrations run before instances start; this one remembers the miss, so it forgets it.
      kg.gateway.sessionCache.forget(sid);
      assert.equal(await isSignedIn(browser), true);
    });
  });

  describe('the session secret', () => {
    test("without SESSION_SECRET one is generated once and stored; a second instance on the same database accepts the first one's cookie", async () => {
      assert.equal(kg.config.sessionSecret, undefined);
      const { browser } = await signedIn();
      const stored = async () => (await kg.db.query(`SELECT value FROM settings WHERE key = 'session_secret'`)).rows;
      const [secret] = await stored();
      assert.ok(secret.value.length >= 32);

      const second = await startKeygate({ database: kg.database });
      try {
        assert.deepEqual(await stored(), [secret], 'the second instance reused the stored secret');
        const there = replay(browser, second.url);
        const home = await there.get('/');
        assert.equal(home.status, 200);
        assert.match(home.text, /Signed in as /);
        assert.equal((await there.get('/-/account')).status, 200);
      } finally {
        await second.close();
      }

      const other = await startKeygate({ database: kg.database, env: { SESSION_SECRET: 'another-secret-of-at-least-32-characters' } });
      try {
        assert.equal(await isSignedIn(replay(browser, other.url)), false, 'a cookie signed with another secret is anonymous');
      } finally {
        await other.close();
      }
    });
  });
});

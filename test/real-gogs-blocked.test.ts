/**
 * Gogs' password sign-in, in every spelling the real Gogs 0.14.3 routes to it, is refused by
 * Keygate (test/support/real-gogs). Why it matters: in Gogs a session uid beats the identity
 * header, so a signed-in person who could post someone else's password to Gogs' sign-in through
 * Keygate would get Gogs to act as that someone. The spellings are generated; each is first sent
 * straight to Gogs to learn whether Gogs signs in with it; every one that does (and every other)
 * must leave the signed-in person themselves in Gogs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI_ACTOR } from '../server/audit/actor.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll } from './support/flows.js';
import { sendRaw, type RawResponse } from './support/raw.js';
import { BLOCKED_ROUTES } from './support/gogs-routes.js';
import { startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';

/** Spellings of a path a router might read as it (default: Gogs' sign-in). */
function spellings(path = '/user/login'): string[] {
  const head = path.slice(0, path.lastIndexOf('/') + 1);
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (path !== '/user/login') {
    return [
      path,
      `${path}/`,
      path.toUpperCase(),
      path.replace(/\//g, '//'),
      `/x/..${path}`,
      `${head}%${last.charCodeAt(0).toString(16)}${last.slice(1)}`,
      `/%${path.charCodeAt(1).toString(16)}${path.slice(2)}`,
      `/${path.slice(1).replace(/\//g, '%2F')}`,
      `${head}%25${last.charCodeAt(0).toString(16)}${last.slice(1)}`,
      `${path};a=b`,
      `${path}?x=1`,
    ];
  }
  return [
    path,
    `${path}/`,
    '/USER/LOGIN',
    '/User/Login',
    '/user//login',
    '//user/login',
    '/user/./login',
    '/x/../user/login',
    '/user/%6cogin',
    '/%75ser/login',
    '/user%2Flogin',
    '/user/login%2F',
    '/user/%256cogin',
    '/user/login;a=b',
    '/user/login.',
    '/user/login?redirect_to=%2F',
    '/user/login#x',
    '/user/login%00',
    '/user/login%20',
  ];
}

/** The value of a cookie in a response's Set-Cookie lines. */
function setCookie(res: RawResponse, name: string): string | undefined {
  const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  for (const line of lines) {
    const [pair] = line.split(';');
    if (pair.startsWith(`${name}=`)) return pair.slice(name.length + 1);
  }
  return undefined;
}

describe("Gogs' password sign-in, in every spelling the real Gogs routes, through Keygate", () => {
  let env: KeygateOnRealGogs;
  let malloryPassword = '';
  before(async () => {
    env = await startKeygateOnRealGogs();
    malloryPassword = await env.gogs.createUser('mallory');
  });
  after(() => env?.close());

  /** Straight to Gogs: does posting Mallory's password to this spelling sign in as her? */
  async function gogsSignsInWith(spelling: string): Promise<boolean> {
    const form = await fetch(`${env.gogs.url}/user/login`);
    const jar = new Map(form.headers.getSetCookie().map((l) => l.split(';')[0].split('=') as [string, string]));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
    const res = await sendRaw(env.gogs.url, {
      method: 'POST',
      path: spelling,
      headers: ['Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '), 'Content-Type', 'application/x-www-form-urlencoded'],
      body: new URLSearchParams({ _csrf: csrf, user_name: 'mallory', password: malloryPassword }).toString(),
    });
    const sid = setCookie(res, 'i_like_gogs') ?? jar.get('i_like_gogs');
    const page = await fetch(`${env.gogs.url}/`, { headers: { cookie: `i_like_gogs=${sid}` } });
    return /Signed in as <strong>mallory<\/strong>/.test(await page.text());
  }

  test('no spelling lets a signed-in person post a password to Gogs and become that account: Gogs keeps showing them as themselves', async () => {
    const invite = await issueInvite(env.kg.db, env.kg.config, { username: 'ana', email: 'ana@example.test' }, CLI_ACTOR);
    const ana = new TestClient(env.kg.url);
    assert.equal((await enroll(ana, new SoftwareAuthenticator(), invite.token)).status, 200);

    const routedByGogs: string[] = [];
    for (const spelling of spellings()) {
      if (await gogsSignsInWith(spelling)) routedByGogs.push(spelling);
    }
    // The check has teeth: Gogs itself signs in with the plain path and some other spellings.
    assert.ok(routedByGogs.includes('/user/login'), `Gogs signs in at: ${routedByGogs.join(' ')}`);
    assert.ok(routedByGogs.length > 1, `Gogs signs in at: ${routedByGogs.join(' ')}`);

    for (const spelling of spellings()) {
      // Ana's own Gogs page, through Keygate: its CSRF token and her sealed Gogs session cookie.
      const settings = await ana.get('/user/settings');
      const csrf = /name="_csrf" content="([^"]+)"/.exec(settings.text)?.[1] ?? '';
      const res = await sendRaw(env.kg.url, {
        method: 'POST',
        path: spelling,
        headers: ['Cookie', ana.cookieHeader()!, 'Origin', ana.origin, 'Content-Type', 'application/x-www-form-urlencoded'],
        body: new URLSearchParams({ _csrf: csrf, user_name: 'mallory', password: malloryPassword }).toString(),
      });
      assert.ok([303, 400, 404].includes(res.status), `${spelling}: Keygate answered ${res.status} (${res.headers.location ?? ''})`);
      const gogsCookie = setCookie(res, 'i_like_gogs');
      const cookie = gogsCookie === undefined ? ana.cookieHeader()! : `${ana.cookieHeader()!}; i_like_gogs=${gogsCookie}`;
      const after = await ana.get('/', { cookie });
      assert.match(after.text, /Signed in as <strong>ana<\/strong>/, `${spelling}: Gogs still shows Ana`);
    }
  });

  test('every other password route (two-factor, sign-up, reset, activation), in every spelling the real Gogs routes, is answered by Keygate, not Gogs, for a signed-in person', async () => {
    const invite = await issueInvite(env.kg.db, env.kg.config, { username: 'bo', email: 'bo@example.test' }, CLI_ACTOR);
    const bo = new TestClient(env.kg.url);
    assert.equal((await enroll(bo, new SoftwareAuthenticator(), invite.token)).status, 200);
    const routed: string[] = [];
    for (const route of BLOCKED_ROUTES.filter((r) => r !== '/user/login')) {
      for (const spelling of spellings(route)) {
        // Gogs routes it when it answers with that page, not 404 nor its sign-in for visitors.
        const direct = await sendRaw(env.gogs.url, { path: spelling });
        const toSignIn = /\/user\/login(\?|$)/.test(direct.headers.location ?? '');
        if (direct.status === 404 || toSignIn) continue;
        routed.push(spelling);
        const res = await sendRaw(env.kg.url, { path: spelling, headers: ['Cookie', bo.cookieHeader()!] });
        assert.ok(
          (res.status === 303 && (res.headers.location ?? '').startsWith('/-/login')) || res.status === 400,
          `${spelling}: Gogs answers it (${direct.status}); through Keygate ${res.status} ${res.headers.location ?? ''}`,
        );
      }
    }
    // Gogs 0.14.3 routes the 0.14 routes (the 0.15 ones are 404 here) in several spellings each.
    for (const route of ['/user/sign_up', '/user/forget_password', '/user/activate']) {
      assert.ok(routed.includes(route), `Gogs routes ${route}: ${routed.join(' ')}`);
    }
  });
});

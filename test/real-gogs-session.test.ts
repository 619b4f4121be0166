/**
 * Gogs' own session against the real Gogs 0.14.3, through Keygate: in Gogs a session uid beats the
 * identity header, so a Gogs session cookie of someone else must never reach Gogs with a signed-in
 * person's request, and a person's sealed Gogs cookie must be worth nothing once their Keygate
 * session has ended (docs/security.md section 3; test/support/real-gogs).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClient } from './support/client.js';
import { signedInPerson, startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';

/** Who the real Gogs' page says is signed in ("Signed in as <strong>name</strong>"), or null. */
function gogsSaysSignedIn(html: string): string | null {
  return /Signed in as <strong>([^<]+)<\/strong>/.exec(html)?.[1] ?? null;
}

describe("the real Gogs' session cookie, through Keygate", () => {
  let env: KeygateOnRealGogs;
  let malloryGogsSession = '';
  before(async () => {
    env = await startKeygateOnRealGogs();
    // Mallory signs in to Gogs with her password, straight to Gogs (as if Gogs were exposed, or
    // from before Keygate): the value of her Gogs session cookie is hers to plant.
    const password = await env.gogs.createUser('mallory');
    malloryGogsSession = await env.gogs.passwordSession('mallory', password);
    const direct = await fetch(`${env.gogs.url}/`, { headers: { cookie: `i_like_gogs=${malloryGogsSession}` } });
    assert.equal(gogsSaysSignedIn(await direct.text()), 'mallory', 'precondition: that cookie is Mallory in Gogs');
  });
  after(() => env?.close());

  const signedIn = (name: string): Promise<TestClient> => signedInPerson(env, name);

  test("a Gogs session cookie of another account, planted in a signed-in person's browser, never makes Gogs act as that account", async () => {
    const ana = await signedIn('ana');
    const before = await ana.get('/');
    assert.equal(gogsSaysSignedIn(before.text), 'ana');
    // Cookie tossing: Mallory's Gogs session cookie beside Ana's Keygate cookie.
    const planted = `${ana.cookieHeader()}; i_like_gogs=${malloryGogsSession}`;
    for (const path of ['/', '/user/settings', '/explore/repos']) {
      const res = await ana.get(path, { cookie: planted });
      assert.equal(res.status, 200, `${path}: ${res.status}`);
      assert.equal(gogsSaysSignedIn(res.text), 'ana', `${path}: Gogs acts as Ana, not Mallory`);
    }
  });

  test("after Keygate sign-out, the person's own sealed Gogs cookie, replayed, gets nobody: sent to sign-in, Gogs never asked", async () => {
    const ben = await signedIn('ben');
    const page = await ben.get('/');
    assert.equal(gogsSaysSignedIn(page.text), 'ben');
    const sealed = ben.cookies.get('i_like_gogs');
    assert.ok(sealed, 'Gogs set its session cookie, sealed to the Keygate session');
    const keygateCookie = ben.cookieHeader()!;
    assert.equal((await ben.request('/-/logout', { method: 'POST' })).status, 303);
    // The old cookies, replayed together: the Keygate session is gone, so nothing reaches Gogs as Ben.
    const replay = await new TestClient(env.kg.url).get('/', { cookie: keygateCookie });
    assert.equal(replay.status, 303);
    assert.match(replay.location ?? '', /^\/-\/login/);
    // The sealed Gogs cookie alone, with a new Keygate session of someone else: dropped, not Ben.
    const carol = await signedIn('carol');
    const mixed = await carol.get('/', { cookie: `${carol.cookieHeader()}; i_like_gogs=${sealed}` });
    assert.equal(gogsSaysSignedIn(mixed.text), 'carol');
  });
});

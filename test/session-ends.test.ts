/**
 * A session that ends without the person signing out in that browser says why on the next page
 * that browser opens (issue 17, item 4): an admin revoked the key it signed in with, the person
 * removed that key, the account was disabled, an admin signed them out (one person or everyone),
 * they signed it out from another session, or it timed out. The reason is found from that
 * browser's own cookie only, shown once, and never to anyone else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI_ACTOR } from '../server/audit/actor.js';
import { endDevice } from '../server/devices/actions.js';
import { SESSION_END_MESSAGES } from '../server/session/end-reasons.js';
import { createSessionStore } from '../server/session/middleware.js';
import type { ReplacingStore } from '../server/session/types.js';
import type { SessionEndReason } from '../server/session/sql.js';
import { disableUser, endAllSessions } from '../server/users/actions.js';
import { browserOn, keygateWithAdmin, person, reachesGogs, secondDevice, sidOf, type Person } from './support/admin.js';
import type { TestClient } from './support/client.js';
import type { TestKeygate } from './support/keygate.js';

/** The notice on the sign-in page, or null. */
function notice(html: string): string | null {
  const m = /<p class="notice notice-info" role="status">([^<]*)<\/p>/.exec(html);
  return m ? m[1].replaceAll('&#39;', "'").replaceAll('&rsquo;', '’') : null;
}

describe('why a session ended, on the next page', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  /** The browser is sent to sign in at its next Gogs page, which says `reason` once; afterwards, and for anyone else, nothing. */
  async function assertToldOnce(client: TestClient, name: string, reason: SessionEndReason): Promise<void> {
    assert.equal(await reachesGogs(client, name), false, 'sent to sign in');
    const page = await client.get('/-/login?return_to=%2Fsome%2Frepo');
    assert.equal(page.status, 200);
    assert.equal(notice(page.text), SESSION_END_MESSAGES[reason]);
    assert.ok(
      page.setCookies.some((c) => c.startsWith(`${kg.config.sessionCookieName}=;`)),
      'the cookie of the ended session is cleared with the page',
    );
    assert.equal(notice((await client.get('/-/login')).text), null, 'said once: not again on the next visit');
  }

  test('an admin revoked the key it signed in with', async () => {
    const p = await person(kg, 'rev_a');
    await endDevice(kg.db, p.credentialId, CLI_ACTOR, { event: 'credential_revoked' });
    await assertToldOnce(p.client, 'rev_a', 'credential_revoked');
  });

  test('the person removed that key (from another session)', async () => {
    const laptop = await person(kg, 'rem_a');
    const phone = await secondDevice(kg, 'rem_a');
    await endDevice(kg.db, laptop.credentialId, CLI_ACTOR, { event: 'credential_removed', ownerId: undefined });
    await assertToldOnce(laptop.client, 'rem_a', 'credential_removed');
    assert.ok(await reachesGogs(phone.client, 'rem_a'), 'the other session goes on, and hears nothing');
  });

  test('the account was disabled', async () => {
    const p = await person(kg, 'dis_a');
    await disableUser(kg.db, 'dis_a', CLI_ACTOR);
    await assertToldOnce(p.client, 'dis_a', 'user_disabled');
  });

  test("an admin ended the person's sessions", async () => {
    const p = await person(kg, 'end_a');
    await endAllSessions(kg.db, 'end_a', CLI_ACTOR);
    await assertToldOnce(p.client, 'end_a', 'ended_by_admin');
  });

  test('it timed out (idle), judged on a Gogs page or on a Keygate page', async () => {
    for (const where of ['/some/repo', '/-/account']) {
      const p = await person(kg, where === '/some/repo' ? 'idle_g' : 'idle_k');
      await kg.db.query(`UPDATE session SET sess = jsonb_set(sess, '{auth,lastSeenAt}', to_jsonb($2::bigint)) WHERE sid = $1`, [
        sidOf(p.client, kg),
        Date.now() - kg.config.sessionIdleMs - 1000,
      ]);
      kg.gateway.sessionCache.forget(sidOf(p.client, kg));
      const first = await p.client.get(where);
      assert.equal(first.status, 303, `${where}: ${first.text}`);
      assert.match(first.location ?? '', /^\/-\/login\?return_to=/);
      const page = await p.client.get(first.location!);
      assert.equal(notice(page.text), SESSION_END_MESSAGES.timed_out, where);
    }
  });

  test('signing out in this browser says so through the address, and no reason is left behind for the cookie', async () => {
    const p = await person(kg, 'out_a');
    const out = await p.client.post('/-/logout', {});
    assert.equal(out.status, 303);
    assert.equal(out.location, '/-/login?signed_out');
    assert.equal(p.client.cookies.size, 0, 'the cookie is cleared');
    assert.equal(notice((await p.client.get(out.location)).text), SESSION_END_MESSAGES.signed_out);
  });

  test("nobody else learns why: another browser, another person's cookie, or a forged cookie see no notice", async () => {
    const victim = await person(kg, 'priv_a');
    const cookie = victim.client.cookieHeader()!;
    await endDevice(kg.db, victim.credentialId, CLI_ACTOR, { event: 'credential_revoked' });
    // A stranger's browser, and an admin's signed-in one, at the same moment.
    assert.equal(notice((await browserOn(kg).get('/-/login')).text), null);
    const bossPage = await boss.client.get('/-/login');
    assert.equal(bossPage.status, 303, 'the admin is signed in: no page to show');
    // The same session id under a signature made with another secret.
    const forged = cookie.replace(/\.[^.;]+(;|$)/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$1');
    assert.notEqual(forged, cookie);
    assert.equal(notice((await browserOn(kg).get('/-/login', { cookie: forged })).text), null);
    // Only the browser that held it hears it.
    assert.equal(notice((await browserOn(kg).get('/-/login', { cookie })).text), SESSION_END_MESSAGES.credential_revoked);
  });

  test('why a session ended is forgotten once its cookie could no longer come back (SESSION_ABSOLUTE)', async () => {
    const p = await person(kg, 'old_a');
    await endDevice(kg.db, p.credentialId, CLI_ACTOR, { event: 'credential_revoked' });
    await kg.db.query(`UPDATE session_ends SET ended_at = now() - make_interval(secs => $2) WHERE sid = $1`, [
      sidOf(p.client, kg),
      kg.config.sessionAbsoluteMs / 1000 + 60,
    ]);
    // The store's periodic pruning (every 5 minutes), run now by a store on the same database.
    const store = createSessionStore(kg.db, undefined, kg.config) as ReplacingStore & { pruneSessions(fn: (err?: Error) => void): void; close(): void };
    await new Promise<void>((resolve, reject) => store.pruneSessions((err) => (err ? reject(err) : resolve())));
    store.close();
    const { rows } = await kg.db.query('SELECT 1 FROM session_ends WHERE sid = $1', [sidOf(p.client, kg)]);
    assert.equal(rows.length, 0);
  });

  test("a store whose only new rows are sign-in options' (written with the rate limit's point) still starts its periodic pruning", async () => {
    // connect-pg-simple starts its pruning timer at its own first write; sign-in's options write their row in the
    // rate limit's statement instead (SessionMiddleware.rowWrite), which must start it too.
    const store = createSessionStore(kg.db, undefined, kg.config) as ReplacingStore & { pruneTimer?: NodeJS.Timeout; close(): void };
    try {
      const row = store.rowWrite('a-new-session-id', { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } });
      assert.ok(row, 'a ceremony-only session can be written by another statement');
      assert.equal(store.pruneTimer, undefined, 'no timer before anything is written');
      row.written();
      assert.ok(store.pruneTimer, 'the pruning timer runs once the row is written');
    } finally {
      store.close();
    }
    assert.equal(store.pruneTimer, undefined, 'closing the store stops it');
  });
});

/**
 * The proxy's session cache: a proxied request for a known session costs no database statement,
 * yet a session ended anywhere is refused: at once on the instance that ended it, and on every
 * other instance as soon as PostgreSQL's NOTIFY (sent at commit) arrives. While the notification
 * channel is down the cache is not trusted at all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { SESSION_CHANNEL } from '../server/session/cache.js';
import { endSessionsOfCredential, endSessionsOfUser } from '../server/session/sql.js';
import { TestClient } from './support/client.js';
import { countStatements } from './support/db.js';
import { sameBrowserOn, signedInPerson } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { forgotten, secondInstance, sidOf } from './support/instances.js';
import { sleep } from './support/net.js';

async function reachesGogsAs(kg: TestKeygate, browser: TestClient, name: string): Promise<boolean> {
  const res = await browser.get('/some/page');
  if (res.status === 200) {
    assert.match(res.text, new RegExp(`Signed in as ${name}`));
    return true;
  }
  assert.equal(res.status, 303);
  return false;
}

describe('session cache', () => {
  let a: TestKeygate;
  let b: TestKeygate;
  let n = 0;

  before(async () => {
    a = await startKeygate();
    // A second instance on the same database and upstream, as behind a load balancer. Both are
    // configured with the same public URL (the balancer's), so a's cookies are valid on b.
    b = await secondInstance(a);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  const signedIn = async () => {
    const { name, client: browser, key, credentialId } = await signedInPerson(a, `cache${++n}`);
    return { name, browser, key, credentialId };
  };

  test('a proxied request for a known session runs no database statement', async () => {
    const { name, browser } = await signedIn();
    assert.ok(await reachesGogsAs(a, browser, name)); // first sight: read once, then cached
    const statements = await countStatements(a.db, async () => {
      for (let i = 0; i < 20; i++) assert.ok(await reachesGogsAs(a, browser, name));
    });
    assert.equal(statements, 0);
  });

  test('a revocation through another instance reaches this one by NOTIFY, and its next request is refused', async () => {
    for (let i = 0; i < 5; i++) {
      const { name, browser, credentialId } = await signedIn();
      const onB = sameBrowserOn(browser, b);
      assert.ok(await reachesGogsAs(b, onB, name), 'b serves the session (now cached on b)');
      assert.ok(b.gateway.sessionCache.get(sidOf(browser, a)), 'cached on b');
      // Instance a ends it (what `revoke` does), committed on a's pool: b learns it only by NOTIFY.
      assert.equal((await endSessionsOfCredential(a.db, credentialId, 'credential_revoked')).length, 1);
      await forgotten(b, sidOf(browser, a));
      assert.equal(await reachesGogsAs(b, onB, name), false, 'b refuses the next request');
    }
  });

  test('a session ended by plain SQL (the CLI in another process) is refused by every instance', async () => {
    const { name, browser } = await signedIn();
    const onB = sameBrowserOn(browser, b);
    assert.ok(await reachesGogsAs(a, browser, name));
    assert.ok(await reachesGogsAs(b, onB, name));
    const other = new pg.Client({ connectionString: a.database.url });
    await other.connect();
    const { rows } = await other.query<{ id: string }>('SELECT id FROM users WHERE username = $1', [name]);
    await endSessionsOfUser(other as unknown as pg.Pool, rows[0].id, 'ended_by_admin');
    await other.end();
    await forgotten(a, sidOf(browser, a));
    await forgotten(b, sidOf(browser, a));
    assert.equal(await reachesGogsAs(a, browser, name), false);
    assert.equal(await reachesGogsAs(b, onB, name), false);
  });

  test("a session row deleted without a sign-in (a ceremony's: sign-in replaces it, pruning removes it) wakes no instance; a signed-in one's deletion is announced", async () => {
    const listener = new pg.Client({ connectionString: a.database.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (m) => heard.push(m.payload ?? ''));
    try {
      await listener.query(`LISTEN ${SESSION_CHANNEL}`);
      // A ceremony-only session (sign-in options), then a sign-in: its new session replaces the
      // ceremony's row, deleting it.
      const ceremony = new TestClient(a.url);
      assert.equal((await ceremony.post('/-/api/login/options', {})).status, 200);
      const ceremonyKey = sidOf(ceremony, a);
      const { browser } = await signedIn();
      const signedInKey = sidOf(browser, a);
      assert.equal((await a.db.query(`DELETE FROM session WHERE sid = $1`, [ceremonyKey])).rowCount, 1);
      // Then a signed-in session ends: notifications arrive in commit order, so once its own has
      // arrived, any for the rows deleted before it would have too.
      assert.equal((await a.db.query(`DELETE FROM session WHERE sid = $1`, [signedInKey])).rowCount, 1);
      const deadline = Date.now() + 10_000;
      while (!heard.includes(signedInKey) && Date.now() < deadline) await sleep(10);
      assert.deepEqual(heard, [signedInKey], 'only the signed-in session was announced');
    } finally {
      await listener.end();
    }
  });

  test('sign-out on one instance ends the session on the other at once', async () => {
    const { name, browser } = await signedIn();
    const onB = sameBrowserOn(browser, b);
    assert.ok(await reachesGogsAs(b, onB, name));
    const sid = sidOf(browser, a);
    const out = await browser.request('/-/logout', { method: 'POST' });
    assert.equal(out.status, 303);
    await forgotten(b, sid);
    assert.equal(await reachesGogsAs(b, onB, name), false);
  });

  test('while the notification channel is down, sessions are read from the database, and the cache comes back', async () => {
    const { name, browser, credentialId } = await signedIn();
    const onB = sameBrowserOn(browser, b);
    assert.ok(await reachesGogsAs(b, onB, name));
    assert.ok(b.gateway.sessionCache.isLive);

    // Cut b's listening connection, as a network blip or a PostgreSQL restart would.
    await a.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keygate-session-listener' AND datname = current_database()`,
    );
    const deadline = Date.now() + 2000;
    while (b.gateway.sessionCache.isLive && Date.now() < deadline) await sleep(10);
    assert.equal(b.gateway.sessionCache.isLive, false, 'b noticed the channel is gone');

    // Ended while nobody could be notified: b must still refuse it, from the database.
    await endSessionsOfCredential(a.db, credentialId, 'credential_revoked');
    assert.equal(await reachesGogsAs(b, onB, name), false);

    // The listener reconnects on its own, and the cache is used again.
    const back = Date.now() + 5000;
    while (!b.gateway.sessionCache.isLive && Date.now() < back) await sleep(25);
    assert.ok(b.gateway.sessionCache.isLive, 'the channel came back');
    const fresh = await signedIn();
    const freshOnB = sameBrowserOn(fresh.browser, b);
    assert.ok(await reachesGogsAs(b, freshOnB, fresh.name));
    const statements = await countStatements(b.db, async () => {
      assert.ok(await reachesGogsAs(b, freshOnB, fresh.name));
    });
    assert.equal(statements, 0, 'cached again once the channel is back');
  });
});

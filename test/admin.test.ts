/**
 * The admin area's gate and pages: only admins (as the database says now) reach /-/admin, every
 * admin action needs a fresh step-up, and the pages find people and show their keys and sessions.
 * Actions themselves are in admin-actions.test.ts, invites in admin-invites.test.ts, the audit
 * view in admin-audit.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOrGetUser, newUserHandle } from '../server/users/users.js';
import { accountPage } from '../web/pages/account.js';
import { ageStepUp } from './support/age.js';
import { auditRows, browserOn, keygateWithAdmin, person, secondDevice, sidOf, signInAgain, stepUp, type Person } from './support/admin.js';
import { remove, stepUp as accountStepUp } from './support/account.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

/** Every admin action, as the page posts it (the target user and credential come from `target`). */
function actions(target: Person): Array<{ path: string; body: unknown }> {
  return [
    { path: '/-/api/admin/invites', body: { username: 'newcomer' } },
    { path: `/-/api/admin/users/${target.name}/end-sessions`, body: {} },
    { path: `/-/api/admin/users/${target.name}/disable`, body: {} },
    { path: `/-/api/admin/users/${target.name}/enable`, body: {} },
    { path: `/-/api/admin/credentials/${target.credentialId}/revoke`, body: {} },
  ];
}

const PAGES = ['/-/admin', '/-/admin?q=a', '/-/admin/users/target', '/-/admin/audit'];

describe('admin area: who gets in', () => {
  let kg: TestKeygate;
  let boss: Person;
  let target: Person;
  before(async () => {
    ({ kg, boss } = await keygateWithAdmin());
    target = await person(kg, 'target');
  });
  after(() => kg?.close());

  test('an admin sees every admin page', async () => {
    for (const path of PAGES) {
      const res = await boss.client.get(path);
      assert.equal(res.status, 200, `${path}: ${res.text.slice(0, 300)}`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.text, /<script type="module" src="\/-\/static\/admin\.js"><\/script>/);
      assert.doesNotMatch(res.text, /<script>|style=/, 'nothing inline: the CSP forbids it');
    }
  });

  test('a signed-in non-admin gets a 403 page, and 403 JSON from the API without anything changing', async () => {
    for (const path of PAGES) {
      const res = await target.client.get(path);
      assert.equal(res.status, 403, path);
      assert.match(res.text, /Only administrators can open the admin area/);
      assert.match(res.text, /href="\/-\/account"/);
    }
    const before = await kg.db.query('SELECT count(*)::int AS n FROM audit_events');
    for (const { path, body } of actions(target)) {
      const res = await target.client.post(path, body);
      assert.equal(res.status, 403, path);
      assert.equal(res.json?.error?.code, 'not_admin', res.text);
      assert.match(res.json.error.message, /^Only administrators/);
    }
    const after = await kg.db.query('SELECT count(*)::int AS n FROM audit_events');
    assert.equal(after.rows[0].n, before.rows[0].n, 'no action, no step-up prompt, nothing audited');
    const { rows } = await kg.db.query('SELECT disabled_at FROM users WHERE username = $1', [target.name]);
    assert.equal(rows[0].disabled_at, null);
  });

  test('anonymous visitors are sent to sign in; the API answers 401', async () => {
    const anonymous = browserOn(kg);
    for (const path of PAGES) {
      const res = await anonymous.get(path);
      assert.equal(res.status, 303, path);
      assert.equal(res.location, `/-/login?return_to=${encodeURIComponent(path)}`);
    }
    for (const { path, body } of actions(target)) {
      // Express routes any spelling of the path; the answer is the API's in every one.
      for (const spelling of [path, path.replace('/-/api/', '/-/API/')]) {
        const res = await anonymous.post(spelling, body);
        assert.equal(res.status, 401, spelling);
        assert.equal(res.json?.error?.code, 'unauthorized', spelling);
      }
    }
  });

  test('a demoted admin loses access on the next request, and so does a disabled one', async () => {
    const demoted = await person(kg, 'demoted', { admin: true });
    assert.equal((await demoted.client.get('/-/admin')).status, 200);
    await kg.db.query('UPDATE users SET is_admin = false WHERE username = $1', [demoted.name]);
    assert.equal((await demoted.client.get('/-/admin')).status, 403);
    const api = await demoted.client.post(`/-/api/admin/users/${target.name}/end-sessions`, {});
    assert.equal(api.status, 403);
    assert.equal(api.json.error.code, 'not_admin');

    // Disabled behind Keygate's back (plain SQL leaves the session): still refused, from the database.
    const disabled = await person(kg, 'disabled_admin', { admin: true });
    await kg.db.query('UPDATE users SET disabled_at = now() WHERE username = $1', [disabled.name]);
    assert.equal((await disabled.client.get('/-/admin')).status, 403);
  });

  test('the account page links to the admin area for admins only', async () => {
    // The page's part (the account route passing isAdmin is the account page owner's line).
    const page = (isAdmin: boolean) => accountPage({ username: 'x', devices: [], rpId: 'localhost', userHandle: 'AA', isAdmin });
    assert.match(page(true), /<a [^>]*href="\/-\/admin"/);
    assert.doesNotMatch(page(false), /href="\/-\/admin"/);
  });

  test("an admin's account page links to /-/admin, a non-admin's does not", async () => {
    assert.match((await boss.client.get('/-/account')).text, /href="\/-\/admin"/);
    assert.doesNotMatch((await target.client.get('/-/account')).text, /href="\/-\/admin"/);
  });
});

describe('admin area: every action needs a fresh step-up', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { STEP_UP_MAX_AGE: '1m' } });
  });
  after(() => kg?.close());

  test('without a fresh step-up every action is refused with step_up_required; after the ceremony each works', async () => {
    const boss = await person(kg, 'boss', { admin: true });
    const target = await person(kg, 'target');
    await secondDevice(kg, 'target');
    await ageStepUp(kg, boss.client); // the sign-in's own verification is now older than STEP_UP_MAX_AGE

    // Looking needs no step-up.
    for (const path of ['/-/admin', `/-/admin/users/${target.name}`, '/-/admin/audit']) assert.equal((await boss.client.get(path)).status, 200, path);

    const list = actions(target);
    for (const { path, body } of list) {
      const res = await boss.client.post(path, body);
      assert.equal(res.status, 403, path);
      assert.equal(res.json?.error?.code, 'step_up_required', res.text);
      assert.equal(res.json.error.message, "Confirm it's you with your security key or passkey to continue.");
    }
    assert.equal((await auditRows(kg, 'invite_created')).filter((r) => r.actor === 'user:boss').length, 0, 'nothing was done');
    assert.ok(await sessionsOf(kg, target.name), 'the target is still signed in');
    const prompts = (await auditRows(kg, 'step_up_prompted')).filter((r) => r.actor === 'user:boss');
    assert.deepEqual(
      prompts.map((r) => r.details.action),
      list.map((a) => `POST ${a.path}`),
    );

    for (const { path, body } of list) {
      await stepUp(boss.client, boss.key);
      const res = await boss.client.post(path, body);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    assert.equal((await auditRows(kg, 'step_up_passed')).filter((r) => r.actor === 'user:boss').length, list.length);
    const events = await kg.db.query(`SELECT event FROM audit_events WHERE actor = 'user:boss' AND subject_username <> 'boss' ORDER BY id`);
    assert.deepEqual(
      events.rows.map((r) => r.event),
      ['invite_created', 'sessions_ended', 'user_disabled', 'user_enabled', 'credential_revoked'],
    );
  });
});

async function sessionsOf(kg: TestKeygate, name: string): Promise<number> {
  const { rows } = await kg.db.query(
    `SELECT count(*)::int AS n FROM session s JOIN users u ON s.sess -> 'auth' ->> 'userId' = u.id::text WHERE u.username = $1`,
    [name],
  );
  return rows[0].n;
}

describe('admin area: finding people and looking at one', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  const rowOf = (html: string, name: string) => html.match(new RegExp(`<tr data-username="${name}">([\\s\\S]*?)</tr>`))?.[1];
  const namesIn = (html: string) => [...html.matchAll(/<tr data-username="([^"]+)">/g)].map((m) => m[1]);

  test('search finds users by a case-insensitive part of the name, with admin and disabled flags and device counts', async () => {
    const alice = await person(kg, 'Alice');
    await secondDevice(kg, 'Alice');
    await kg.db.query(`UPDATE credentials SET revoked_at = now() WHERE credential_id = $1`, [Buffer.from(alice.credentialId, 'base64url')]);
    await person(kg, 'malik');
    await person(kg, 'bob');
    await kg.db.query(`UPDATE users SET disabled_at = now() WHERE username = 'malik'`);

    const res = await boss.client.get('/-/admin?q=ALI');
    assert.equal(res.status, 200);
    assert.deepEqual(namesIn(res.text), ['Alice', 'malik']);
    assert.match(res.text, /<input id="q" name="q" type="search" value="ALI"/);
    assert.match(rowOf(res.text, 'Alice')!, /User[\s\S]*Active[\s\S]*1 key \(1 revoked\)/);
    assert.match(rowOf(res.text, 'malik')!, /Disabled[\s\S]*1 key</);
    assert.match(rowOf(res.text, 'Alice')!, /href="\/-\/admin\/users\/Alice"/);

    const all = await boss.client.get('/-/admin');
    assert.match(rowOf(all.text, 'boss')!, /<span class="tag">Admin<\/span>/);
    const none = await boss.client.get('/-/admin?q=%25');
    assert.deepEqual(namesIn(none.text), [], '% is a character, not a wildcard');
    assert.match(none.text, /No user&#39;s name contains “%”\./);
  });

  test("a key its owner removed is shown as removed by its owner, one an administrator revoked as revoked: on the list and on the person's page", async () => {
    const dana = await person(kg, 'dana');
    const second = await secondDevice(kg, 'dana', 'Old phone');
    const third = await secondDevice(kg, 'dana', 'Lost key');
    // Dana removes one of her keys herself (confirming it's her first); the admin revokes another.
    await accountStepUp(dana.client, dana.key);
    const removed = await remove(dana.client, second.credentialId);
    assert.equal(removed.status, 200, removed.text);
    await stepUp(boss.client, boss.key);
    const revoked = await boss.client.post(`/-/api/admin/credentials/${third.credentialId}/revoke`, {});
    assert.equal(revoked.status, 200, revoked.text);
    // The admin revoking the already removed key changes nothing about who ended it.
    assert.equal((await boss.client.post(`/-/api/admin/credentials/${second.credentialId}/revoke`, {})).status, 200);

    const list = await boss.client.get('/-/admin?q=dana');
    assert.match(rowOf(list.text, 'dana')!, /1 key \(1 revoked\) \(1 removed by their owner\)/);
    const page = await boss.client.get('/-/admin/users/dana');
    const item = (id: string) => page.text.match(new RegExp(`<li class="device device-revoked" data-credential-id="${id}">([\\s\\S]*?)</li>`))?.[1] ?? '';
    assert.match(item(second.credentialId), /Removed by its owner <time/);
    assert.match(item(third.credentialId), /Revoked <time/);
    assert.doesNotMatch(item(third.credentialId), /Removed by its owner/);
  });

  test('the list pages through many users', async () => {
    for (let i = 0; i < 55; i++) await createOrGetUser(kg.db, `pager${String(i).padStart(2, '0')}`, newUserHandle(), false);
    const first = await boss.client.get('/-/admin?q=pager');
    assert.equal(namesIn(first.text).length, 50);
    assert.match(first.text, /<a href="\/-\/admin\?q=pager&amp;page=2" rel="next">Next page<\/a>/);
    assert.doesNotMatch(first.text, /rel="prev"/);
    const second = await boss.client.get('/-/admin?q=pager&page=2');
    assert.deepEqual(namesIn(second.text), ['pager50', 'pager51', 'pager52', 'pager53', 'pager54']);
    assert.match(second.text, /<a href="\/-\/admin\?q=pager" rel="prev">/);
    assert.doesNotMatch(second.text, /rel="next"/);
    const bad = await boss.client.get('/-/admin?page=zero');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /This address has an invalid “page” parameter: must be a page number\./);
  });

  test("a user's page lists their credentials (model, kind, use, revocation, id) and active sessions", async () => {
    const yubikey = 'fa2b99dc-9e39-4257-8f92-4a30d23c4118';
    const carol = await person(kg, 'carol', { aaguid: yubikey });
    const phone = await secondDevice(kg, 'carol', 'Phone');
    const again = await signInAgain(kg, carol.key); // a sign-in, so the key has a last use
    assert.equal(again.res.status, 200);
    const res = await boss.client.get('/-/admin/users/CAROL');
    assert.equal(res.status, 200);
    assert.match(res.text, /<main id="app" data-username="carol">/);
    const item = (id: string) => res.text.match(new RegExp(`<li class="device[^"]*" data-credential-id="${id}">([\\s\\S]*?)</li>`))?.[1] ?? '';
    const first = item(carol.credentialId);
    assert.match(first, /carol key/);
    assert.match(first, /YubiKey 5 Series with NFC · Security key/);
    assert.match(first, /Added <time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
    assert.match(first, /Last used <time[^>]*>[^<]+<\/time> from (127\.0\.0\.1|::1) with Chrome 126 on Linux/);
    assert.match(first, new RegExp(`<code>${carol.credentialId}</code>`));
    assert.match(first, new RegExp(`data-action="revoke" data-credential-id="${carol.credentialId}" data-label="carol key"`));
    assert.match(item(phone.credentialId), /Phone/);

    const sessions = [...res.text.matchAll(/<li class="device" data-session="([^"]+)" data-credential-id="([^"]+)">([\s\S]*?)<\/li>/g)];
    assert.deepEqual(new Set(sessions.map((s) => s[1])), new Set([carol.client, phone.client, again.client].map((c) => sidOf(c, kg).slice(0, 8))));
    assert.match(sessions.find((s) => s[2] === phone.credentialId)![3], /with Phone/);
    assert.match(res.text, /data-action="end-sessions"/);
    assert.match(res.text, /data-action="disable"/);
    assert.match(res.text, /<input type="hidden" id="invite-username" name="username" value="carol">/);

    await kg.db.query(`UPDATE credentials SET revoked_at = now() WHERE credential_id = $1`, [Buffer.from(phone.credentialId, 'base64url')]);
    await kg.db.query(`UPDATE users SET disabled_at = now() WHERE username = 'carol'`);
    const later = await boss.client.get('/-/admin/users/carol');
    const revoked = later.text.match(new RegExp(`<li class="device device-revoked" data-credential-id="${phone.credentialId}">([\\s\\S]*?)</li>`))?.[1] ?? '';
    assert.match(revoked, /Revoked <time/);
    assert.doesNotMatch(revoked, /data-action="revoke"/);
    assert.match(later.text, /Disabled since/);
    assert.match(later.text, /data-action="enable"/);
    assert.doesNotMatch(later.text, /data-action="disable"/);

    const missing = await boss.client.get('/-/admin/users/nobody');
    assert.equal(missing.status, 404);
    assert.match(missing.text, /There is no user named &quot;nobody&quot;\./);
  });

  test('an admin cannot disable themselves from the page', async () => {
    const page = await boss.client.get('/-/admin/users/boss');
    assert.match(page.text, /\(you\)/);
    assert.doesNotMatch(page.text, /data-action="disable"/);
    const res = await boss.client.post('/-/api/admin/users/boss/disable', {});
    assert.equal(res.status, 409);
    assert.equal(res.json.error.message, 'You cannot disable your own account. Ask another administrator.');
  });
});

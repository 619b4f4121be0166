/**
 * A person's own sessions on /-/account (issue 17, item 3): each listed with its browser, address
 * and last activity, this one marked; any other one, or all of them, signed out from here (and
 * offered right after a key is added, ASVS 7.4.3); the signed-out browser is told why. An admin's
 * emergency button signs everyone else out, after a fresh step-up, on the record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ageStepUp } from './support/age.js';
import { auditRows, browserOn, keygateWithAdmin, person, reachesGogs, secondDevice, sidOf, stepUp, type Person } from './support/admin.js';
import { signIn } from './support/flows.js';
import type { TestKeygate } from './support/keygate.js';
import { SESSION_END_MESSAGES } from '../server/session/end-reasons.js';

/** The sessions listed on the account page: key, what is shown, whether it is this one, whether it has a sign-out button. */
function listedSessions(html: string): Array<{ key: string; text: string; current: boolean; button: boolean }> {
  const list = /<ul id="session-list"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<li class="device" data-session-key="([0-9a-f]{64})"( data-current="true")?>([\s\S]*?)<\/li>/g)].map((m) => ({
    key: m[1],
    current: m[2] !== undefined,
    text: m[3]
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
    button: m[3].includes(`action="/-/account/sessions/${m[1]}/end"`),
  }));
}

describe('sessions on the account page', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  test('each session is listed with its browser, address and times; this one is marked and has no sign-out button of its own', async () => {
    const laptop = await person(kg, 'ses_a');
    const phone = await secondDevice(kg, 'ses_a');
    const page = await laptop.client.get('/-/account');
    assert.equal(page.status, 200);
    const listed = listedSessions(page.text);
    assert.deepEqual(listed.map((s) => s.key).sort(), [sidOf(laptop.client, kg), sidOf(phone.client, kg)].sort());
    for (const s of listed) {
      assert.match(s.text, /^Chrome 126 on Linux( \(this browser\))? From 127\.0\.0\.1 · signed in \d{4}-\d\d-\d\d \d\d:\d\d UTC · last active \d{4}-/);
      assert.equal(s.current, s.key === sidOf(laptop.client, kg));
      assert.equal(s.button, !s.current);
    }
    assert.match(page.text, /action="\/-\/account\/sessions\/end-others"/);
  });

  test('signing out another session ends it at once; that browser is told it was signed out from another session', async () => {
    const laptop = await person(kg, 'ses_b');
    const phone = await secondDevice(kg, 'ses_b');
    assert.ok(await reachesGogs(phone.client, 'ses_b'), 'cached by the proxy first');
    const res = await laptop.client.post(`/-/account/sessions/${sidOf(phone.client, kg)}/end`, undefined);
    assert.equal(res.status, 303, res.text);
    assert.equal(res.location, '/-/account?ended=1');
    assert.match((await laptop.client.get(res.location)).text, /Signed out 1 other session\./);
    assert.equal(await reachesGogs(phone.client, 'ses_b'), false);
    assert.match((await phone.client.get('/-/login')).text, new RegExp(SESSION_END_MESSAGES.ended_by_user.replace(/[.]/g, '\\.')));
    assert.ok(await reachesGogs(laptop.client, 'ses_b'), 'this session goes on');
    const [row] = await auditRows(kg, 'sessions_ended', 'ses_b');
    assert.equal(row?.actor, 'user:ses_b');
    assert.deepEqual(row?.details, { sessionsEnded: 1, scope: 'one' });
  });

  test("all other sessions at once, but never this one; another person's session cannot be named", async () => {
    const a = await person(kg, 'ses_c');
    const b = await secondDevice(kg, 'ses_c');
    assert.equal((await signIn(browserOn(kg), a.key)).status, 200, 'a third session');
    const stranger = await person(kg, 'ses_x');

    // Someone else's session key, and this browser's own, end nothing.
    for (const key of [sidOf(stranger.client, kg), sidOf(a.client, kg), 'not-a-key']) {
      const res = await a.client.post(`/-/account/sessions/${key}/end`, undefined);
      assert.equal(res.location, '/-/account?ended=0', key);
    }
    assert.ok(await reachesGogs(stranger.client, 'ses_x'));

    const res = await a.client.post('/-/account/sessions/end-others', undefined);
    assert.equal(res.location, '/-/account?ended=2');
    assert.equal(await reachesGogs(b.client, 'ses_c'), false);
    assert.ok(await reachesGogs(a.client, 'ses_c'));
    const after = listedSessions((await a.client.get('/-/account')).text);
    assert.deepEqual(
      after.map((s) => s.current),
      [true],
    );
    assert.match((await a.client.get('/-/account')).text, /You are signed in in this browser only\./);
  });

  test('a form from another site cannot sign sessions out', async () => {
    const a = await person(kg, 'ses_d');
    const b = await secondDevice(kg, 'ses_d');
    const res = await a.client.request('/-/account/sessions/end-others', { method: 'POST', origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    assert.ok(await reachesGogs(b.client, 'ses_d'));
  });

  test('right after a key is added, the page says so and offers to sign out the other sessions', async () => {
    const a = await person(kg, 'ses_e');
    const page = await a.client.get('/-/account?added');
    assert.match(page.text, /<div class="notice notice-success" role="status"><p>Key added\./);
    assert.doesNotMatch(page.text.split('<p class="lead">')[0], /end-others/, 'no offer without other sessions');
    await secondDevice(kg, 'ses_e');
    const again = await a.client.get('/-/account?added');
    assert.match(again.text.split('<p class="lead">')[0], /<form class="end-others-form" method="post" action="\/-\/account\/sessions\/end-others">/);
  });

  test("an admin's emergency button signs everyone else out after a fresh step-up, and is audited", async () => {
    const one = await person(kg, 'emg_a');
    const two = await person(kg, 'emg_b');
    await ageStepUp(kg, boss.client);
    const refused = await boss.client.post('/-/api/admin/sessions/end-all', {});
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error.code, 'step_up_required');
    assert.ok(await reachesGogs(one.client, 'emg_a'), 'nothing ended without the step-up');

    await stepUp(boss.client, boss.key);
    const res = await boss.client.post('/-/api/admin/sessions/end-all', {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.signedOut, false);
    assert.ok(res.json.sessionsEnded >= 2);
    assert.equal(await reachesGogs(one.client, 'emg_a'), false);
    assert.equal(await reachesGogs(two.client, 'emg_b'), false);
    assert.ok(await reachesGogs(boss.client, 'boss'), "the admin's own session goes on");
    assert.match((await one.client.get('/-/login')).text, new RegExp(SESSION_END_MESSAGES.ended_by_admin.replace(/[.]/g, '\\.')));
    const [row] = await auditRows(kg, 'all_sessions_ended');
    assert.equal(row?.actor, 'user:boss');
    assert.equal(row?.details.sessionsEnded, res.json.sessionsEnded);
  });
});

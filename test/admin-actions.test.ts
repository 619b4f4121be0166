/**
 * What an admin's actions do to people: revoking a key ends that key's sessions at once (and only
 * those) and it never signs in again; disabling ends every session and refuses sign-in; enabling
 * lets them back; ending all sessions leaves them enabled. Each is audited with the admin, their
 * address, browser and request id, with the same events the CLI writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertAdminActor,
  auditRows,
  credentialRowId,
  keygateWithAdmin,
  person,
  reachesGogs,
  secondDevice,
  signInAgain,
  sidOf,
  sleep,
  type Person,
} from './support/admin.js';
import { runCli, show } from './support/cli.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('admin actions', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  test("revoking a key sends that key's browser to sign-in at its next request; the person's other device stays signed in", async () => {
    const laptop = await person(kg, 'erin');
    const phone = await secondDevice(kg, 'erin');
    assert.ok(await reachesGogs(laptop.client, 'erin'), 'cached by the proxy before the revocation');
    assert.ok(await reachesGogs(phone.client, 'erin'));

    const res = await boss.client.post(`/-/api/admin/credentials/${laptop.credentialId}/revoke`, {});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true, credentialId: laptop.credentialId, nickname: 'erin key', sessionsEnded: 1, signedOut: false });
    assert.equal(await reachesGogs(laptop.client, 'erin'), false);
    assert.equal((await laptop.client.get('/-/account')).location, '/-/login?return_to=%2F-%2Faccount');
    assert.ok(await reachesGogs(phone.client, 'erin'), 'the other device is untouched');

    const [row] = await auditRows(kg, 'credential_revoked', 'erin');
    assertAdminActor(row, 'boss');
    assert.equal(row.credential_id, await credentialRowId(kg, laptop.credentialId));
    assert.equal(row.details.sessionsEnded, 1);

    // It can never sign in again, and the attempt is on record.
    const attempt = await signInAgain(kg, laptop.key);
    assert.equal(attempt.res.status, 400);
    const failures = (await auditRows(kg, 'sign_in', 'erin')).filter((r) => r.outcome === 'failure');
    assert.equal(failures.at(-1)?.reason, 'revoked_credential');
    assert.equal(failures.at(-1)?.credential_id, row.credential_id);
  });

  test('disabling ends every session and refuses sign-in; enabling lets the person back in', async () => {
    const laptop = await person(kg, 'frank');
    const phone = await secondDevice(kg, 'frank');
    assert.ok(await reachesGogs(laptop.client, 'frank'));

    const disabled = await boss.client.post('/-/api/admin/users/frank/disable', {});
    assert.equal(disabled.status, 200, disabled.text);
    assert.deepEqual(disabled.json, { ok: true, username: 'frank', sessionsEnded: 2, signedOut: false });
    assert.equal(await reachesGogs(laptop.client, 'frank'), false);
    assert.equal(await reachesGogs(phone.client, 'frank'), false);
    const [row] = await auditRows(kg, 'user_disabled', 'frank');
    assertAdminActor(row, 'boss');
    assert.equal(row.details.sessionsEnded, 2);

    const refused = await signInAgain(kg, laptop.key);
    assert.equal(refused.res.status, 403);
    const failure = (await auditRows(kg, 'sign_in', 'frank')).at(-1);
    assert.deepEqual([failure?.outcome, failure?.reason], ['failure', 'user_disabled']);

    const enabled = await boss.client.post('/-/api/admin/users/frank/enable', {});
    assert.equal(enabled.status, 200, enabled.text);
    assertAdminActor((await auditRows(kg, 'user_enabled', 'frank'))[0], 'boss');
    const back = await signInAgain(kg, phone.key);
    assert.equal(back.res.status, 200, back.res.text);
    assert.ok(await reachesGogs(back.client, 'frank'));
  });

  test('ending all sessions signs every browser out; the person stays enabled and signs in again', async () => {
    const laptop = await person(kg, 'gina');
    const phone = await secondDevice(kg, 'gina');
    const res = await boss.client.post('/-/api/admin/users/gina/end-sessions', {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.sessionsEnded, 2);
    assert.equal(await reachesGogs(laptop.client, 'gina'), false);
    assert.equal(await reachesGogs(phone.client, 'gina'), false);
    const { rows } = await kg.db.query(`SELECT disabled_at FROM users WHERE username = 'gina'`);
    assert.equal(rows[0].disabled_at, null);
    assertAdminActor((await auditRows(kg, 'sessions_ended', 'gina'))[0], 'boss');
    assert.equal((await signInAgain(kg, laptop.key)).res.status, 200);
  });

  test('an admin who revokes the key of their own session is signed out, and the session is not written back', async () => {
    // A short idle timeout makes the request touch the session (last seen), which express-session
    // would save after the response: the row that the revocation deleted would come back.
    const short = await startKeygate({ env: { SESSION_IDLE_TIMEOUT: '4s', SESSION_ABSOLUTE_TIMEOUT: '1h' } });
    try {
      const self = await person(short, 'selfie', { admin: true });
      const sid = sidOf(self.client, short);
      await sleep(1100);
      const res = await self.client.post(`/-/api/admin/credentials/${self.credentialId}/revoke`, {});
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.signedOut, true);
      await sleep(100);
      const { rows } = await short.db.query('SELECT count(*)::int AS n FROM session WHERE sid = $1', [sid]);
      assert.equal(rows[0].n, 0);
      assert.equal((await self.client.get('/-/admin')).status, 303);
    } finally {
      await short.close();
    }
  });

  test('unknown users and credentials, and malformed ids, get a clear answer', async () => {
    const cases: Array<[string, number, string]> = [
      ['/-/api/admin/users/nobody/disable', 404, 'There is no user named "nobody".'],
      ['/-/api/admin/credentials/AAAAAAAAAAAAAAAAAAAAAA/revoke', 404, 'There is no credential with id "AAAAAAAAAAAAAAAAAAAAAA".'],
      ['/-/api/admin/credentials/not%20an%20id/revoke', 400, 'That is not a credential id.'],
    ];
    for (const [path, status, message] of cases) {
      const res = await boss.client.post(path, {});
      assert.equal(res.status, status, path);
      assert.equal(res.json.error.message, message);
    }
    const extra = await boss.client.post('/-/api/admin/users/boss/end-sessions', { everyone: true });
    assert.equal(extra.status, 400);
    assert.match(extra.json.error.message, /^Invalid request: /);
  });

  test('the admin actions write the same audit events as their CLI equivalents', async () => {
    const viaPage = await person(kg, 'parity_page');
    const viaCli = await person(kg, 'parity_cli');
    const steps: Array<[(p: Person) => string, (p: Person) => string[]]> = [
      [(p) => `/-/api/admin/credentials/${p.credentialId}/revoke`, (p) => ['revoke', p.credentialId]],
      [(p) => `/-/api/admin/users/${p.name}/disable`, (p) => ['disable', p.name]],
      [(p) => `/-/api/admin/users/${p.name}/enable`, (p) => ['enable', p.name]],
      [(p) => `/-/api/admin/users/${p.name}/end-sessions`, (p) => ['logout-everywhere', p.name]],
    ];
    for (const [path, args] of steps) {
      const res = await boss.client.post(path(viaPage), {});
      assert.equal(res.status, 200, res.text);
      const ran = await runCli(args(viaCli), { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin });
      assert.equal(ran.code, 0, show(ran));
    }
    const written = async (name: string) => {
      const { rows } = await kg.db.query(
        `SELECT event, outcome, reason, actor, credential_id IS NOT NULL AS has_credential, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(details) k) AS detail_keys
           FROM audit_events WHERE subject_username = $1 AND event NOT IN ('sign_in', 'invite_redeemed', 'credential_registered') ORDER BY id`,
        [name],
      );
      return rows;
    };
    const page = await written(viaPage.name);
    const byCli = await written(viaCli.name);
    assert.deepEqual(
      page.map((r) => r.event),
      ['credential_revoked', 'user_disabled', 'user_enabled', 'sessions_ended'],
    );
    assert.deepEqual(
      page.map(({ actor, ...r }) => r),
      byCli.map(({ actor, ...r }) => r),
    );
    assert.ok(page.every((r) => r.actor === 'user:boss') && byCli.every((r) => r.actor === 'cli'));
  });
});

/**
 * Credential changes need a fresh, user-verified assertion. Once the last one is older than
 * STEP_UP_MAX_AGE (moved back in the session row, test/support/age.ts), renaming, removing and
 * adding a key answer step_up_required (audited step_up_prompted);
 * a step-up with one of the person's own keys, user-verified, lets the same action through (audited
 * step_up_passed). A step-up without user verification, or with someone else's key, is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addDevice, credentialRow, remove, rename, stepUp } from './support/account.js';
import { auditSince, maxAuditId } from './support/audit.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import type { ClientResponse } from './support/client.js';
import { assertRefused, lastAudit, signedInPerson, snapshot } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { ageStepUp } from './support/age.js';

const STEP_UP_MESSAGE = "Confirm it's you with your security key or passkey to continue.";

describe('step-up before credential changes (past STEP_UP_MAX_AGE)', () => {
  let kg: TestKeygate;
  let n = 0;
  before(async () => {
    kg = await startKeygate({ env: { STEP_UP_MAX_AGE: '1m' } });
  });
  after(() => kg.close());

  /** Someone who enrolled (a fresh step-up), added a spare key at once, and then waited too long. */
  async function staleUser() {
    const username = `stepup${++n}`;
    const { client: browser, key } = await signedInPerson(kg, username);
    const spareId = await addDevice(browser, new SoftwareAuthenticator(), 'Spare');
    await ageStepUp(kg, browser);
    const { rows } = await kg.db.query('SELECT id::text FROM users WHERE username = $1', [username]);
    return { username, userId: rows[0].id as string, browser, key, id: key.credentials[0].id, spareId };
  }

  function assertStepUpRequired(res: ClientResponse): void {
    assert.equal(res.status, 403, res.text);
    assert.deepEqual(res.json, { error: { code: 'step_up_required', message: STEP_UP_MESSAGE } });
  }

  test('rename, remove and add ask for a step-up (audited), and after one the same actions succeed (audited)', async () => {
    const u = await staleUser();
    const since = await maxAuditId(kg);
    const actions = {
      rename: () => rename(u.browser, u.id, 'Renamed'),
      remove: () => remove(u.browser, u.spareId),
      add: () => u.browser.post('/-/api/account/devices/options', {}),
    };
    for (const action of Object.values(actions)) assertStepUpRequired(await action());
    const prompted = await auditSince(kg, since);
    assert.deepEqual(
      prompted.map((r) => [r.event, r.outcome, r.actor, r.subject_user_id, r.details.action]),
      [
        ['step_up_prompted', 'success', `user:${u.username}`, u.userId, `POST /-/api/account/devices/${u.id}/rename`],
        ['step_up_prompted', 'success', `user:${u.username}`, u.userId, `POST /-/api/account/devices/${u.spareId}/remove`],
        ['step_up_prompted', 'success', `user:${u.username}`, u.userId, 'POST /-/api/account/devices/options'],
      ],
    );
    assert.equal((await credentialRow(kg, u.id)).nickname, 'Security key', 'not renamed');
    assert.equal((await credentialRow(kg, u.spareId)).revoked, false);

    const passed = await stepUp(u.browser, u.key);
    assert.equal(passed.status, 200, passed.text);
    const [row] = (await auditSince(kg, since)).slice(-1);
    assert.deepEqual(
      [row.event, row.outcome, row.actor, row.credential_id],
      ['step_up_passed', 'success', `user:${u.username}`, (await credentialRow(kg, u.id)).id],
    );

    assert.equal((await actions.rename()).status, 200);
    assert.equal((await credentialRow(kg, u.id)).nickname, 'Renamed');
    assert.deepEqual((await actions.remove()).json, { ok: true, signedOut: false });
    await addDevice(u.browser, new SoftwareAuthenticator(), 'Third');
  });

  test('a step-up without user verification is refused, and the change still needs one', async () => {
    const u = await staleUser();
    const before = await snapshot(kg);
    const res = await stepUp(u.browser, u.key, { tamper: { uv: false } });
    await assertRefused(kg, res, { status: 400, code: 'user_not_verified', audit: { event: 'step_up_failed', reason: 'user_not_verified' } }, before);
    assertStepUpRequired(await rename(u.browser, u.id, 'Renamed'));
    assert.deepEqual(await lastAudit(kg), { event: 'step_up_prompted', outcome: 'success', reason: null });
  });

  test("a step-up with another person's key is refused, and the change still needs one", async () => {
    const u = await staleUser();
    const other = await staleUser();
    const before = await snapshot(kg);
    // The options offer only u's keys; a client that ignores that answers with the other person's.
    const res = await stepUp(u.browser, other.key, { ignoreAllowList: true });
    await assertRefused(kg, res, { status: 400, code: 'unknown_credential', audit: { event: 'step_up_failed', reason: 'not_allowed_credential' } }, before);
    assertStepUpRequired(await remove(u.browser, u.spareId));
    assert.equal((await credentialRow(kg, u.spareId)).revoked, false);
  });
});

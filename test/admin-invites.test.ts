/**
 * Invites from the admin area: a link for a new person, a recovery link for an existing one (adds
 * a key, keeps the others), shown once in the API's answer and nowhere else, and audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { assertAdminActor, auditRows, browserOn, keygateWithAdmin, person, reachesGogs, signInAgain, type Person } from './support/admin.js';
import { enroll } from './support/flows.js';
import type { TestKeygate } from './support/keygate.js';

const TOKEN_URL = (origin: string) => new RegExp(`^${origin.replace(/[.:/]/g, '\\$&')}/-/enroll/([A-Za-z0-9_-]{43})$`);

describe('admin invites', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  /** Everything an admin (or anyone with database access) could look at afterwards. */
  async function everywhereElse(): Promise<string> {
    const pages = await Promise.all(['/-/admin', '/-/admin/audit', '/-/admin/users/newbie', '/-/admin/users/dave'].map((p) => boss.client.get(p)));
    const tables = await kg.db.query(`SELECT (SELECT json_agg(i) FROM invites i)::text AS invites, (SELECT json_agg(a) FROM audit_events a)::text AS audit`);
    return pages.map((p) => p.text).join('\n') + tables.rows[0].invites + tables.rows[0].audit;
  }

  test('a new person gets an enrolment link, shown only in the answer, and the invite is audited with the admin as actor', async () => {
    const res = await boss.client.post('/-/api/admin/invites', { username: 'newbie', ttl: '2h' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['admin', 'expiresAt', 'recovery', 'url', 'username']);
    assert.equal(res.json.recovery, false);
    assert.equal(res.json.admin, false);
    const expiresIn = Date.parse(res.json.expiresAt) - Date.now();
    assert.ok(expiresIn > 119 * 60_000 && expiresIn <= 120 * 60_000, `expires in ${expiresIn} ms`);
    const token = res.json.url.match(TOKEN_URL(kg.origin))?.[1];
    assert.ok(token, res.json.url);
    assert.ok(!(await everywhereElse()).includes(token), 'the token is nowhere but in the answer');

    const [row] = await auditRows(kg, 'invite_created', 'newbie');
    assertAdminActor(row, 'boss');
    assert.equal(row.outcome, 'success');
    assert.equal(row.details.recovery, false);

    // The link enrols: the person exists only after redeeming it.
    const client = browserOn(kg);
    const done = await enroll(client, new SoftwareAuthenticator(), token);
    assert.equal(done.status, 200, done.text);
    assert.ok(await reachesGogs(client, 'newbie'));
  });

  test('an admin invite makes an administrator', async () => {
    const res = await boss.client.post('/-/api/admin/invites', { username: 'deputy', admin: true });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.admin, true);
    const token = res.json.url.match(TOKEN_URL(kg.origin))[1];
    const client = browserOn(kg);
    assert.equal((await enroll(client, new SoftwareAuthenticator(), token)).status, 200);
    assert.equal((await client.get('/-/admin')).status, 200);
  });

  test('for an existing person it is a recovery link: it adds a key and keeps the others', async () => {
    const dave = await person(kg, 'dave');
    const res = await boss.client.post('/-/api/admin/invites', { username: 'DAVE' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.recovery, true);
    assert.equal(res.json.username, 'dave');
    const token = res.json.url.match(TOKEN_URL(kg.origin))[1];
    assert.ok(!(await everywhereElse()).includes(token));
    const [row] = await auditRows(kg, 'invite_created', 'dave');
    assertAdminActor(row, 'boss');
    assert.equal(row.details.recovery, true);

    const newPhone = new SoftwareAuthenticator();
    const client = browserOn(kg);
    assert.equal((await enroll(client, newPhone, token)).status, 200);
    const { rows } = await kg.db.query(
      `SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS active, count(*)::int AS total FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = 'dave'`,
    );
    assert.deepEqual(rows[0], { active: 2, total: 2 });
    assert.ok(await reachesGogs(dave.client, 'dave'), 'the old session stays');
    const old = await signInAgain(kg, dave.key);
    assert.equal(old.res.status, 200, 'the old key still signs in');
    const fresh = await signInAgain(kg, newPhone);
    assert.equal(fresh.res.status, 200, 'and so does the new one');
  });

  test('bad input gets a sentence that says what to fix', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ username: '' }, /^Invalid request: username: enter the username the invite is for$/],
      [{ username: '-dash' }, /^"-dash" is not a valid Gogs username/],
      [{ username: 'x'.repeat(36) }, /at most 35 characters/],
      [{ username: 'ok', ttl: 'soon' }, /^"soon" is not a duration\. Use for example 30m, 24h or 7d\.$/],
      [{ username: 'ok', ttl: '60d' }, /^An invite must last between 1 second and 30 days\.$/],
      [{ username: 'ok', admin: 'yes' }, /^Invalid request: admin: must be true or false$/],
      [{ username: 'ok', role: 'admin' }, /^Invalid request: /],
    ];
    for (const [body, message] of cases) {
      const res = await boss.client.post('/-/api/admin/invites', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error.message, message, JSON.stringify(body));
    }
    assert.equal((await auditRows(kg, 'invite_created', 'ok')).length, 0);
  });
});

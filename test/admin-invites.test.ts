/**
 * Invites from the admin area: a link for a new person, a recovery link for an existing one (adds
 * a key, keeps the others), shown once in the API's answer and nowhere else, and audited. And
 * pending invites (issue 17): listed on /-/admin and on the person's page (someone invited but not
 * enrolled has one), revoked, re-issued, each behind the admin gate, the same-origin check and a
 * fresh step-up, with the same audit events as the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { ageStepUp } from './support/age.js';
import { assertAdminActor, auditRows, browserOn, keygateWithAdmin, person, reachesGogs, signInAgain, stepUp, type Person } from './support/admin.js';
import { runCli, show } from './support/cli.js';
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

  test('a disabled person gets no recovery link, from the page or the CLI: it would be refused, so the admin is told to enable them first', async () => {
    await person(kg, 'dormant');
    assert.equal((await boss.client.post('/-/api/admin/users/dormant/disable', {})).status, 200);
    const before = await kg.db.query(`SELECT count(*)::int AS n FROM invites WHERE username = 'dormant'`);
    const res = await boss.client.post('/-/api/admin/invites', { username: 'dormant' });
    assert.equal(res.status, 409, res.text);
    assert.deepEqual(res.json.error, {
      code: 'user_disabled',
      message: 'dormant is disabled, so a recovery link would not work. Enable them first, then send one.',
    });
    const cli = await runCli(['invite', 'dormant'], { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin });
    assert.equal(cli.code, 2, show(cli)); // the CLI's exit status for a refused request
    assert.match(cli.stderr, /dormant is disabled, so a recovery link would not work\. Enable them first, then send one\./);
    const after = await kg.db.query(`SELECT count(*)::int AS n FROM invites WHERE username = 'dormant'`);
    assert.equal(after.rows[0].n, before.rows[0].n, 'no invite was stored');
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
      // Gogs would refuse the account (and never accept the header for it).
      [{ username: 'Admin' }, /^"Admin" is a name Gogs reserves .*: Gogs can never have that user; choose another name\.$/],
      [{ username: 'bob.keys' }, /^"bob\.keys" is a name Gogs reserves/],
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

describe('admin: pending invites', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  /** Makes an invite through the admin API; its id and token. */
  async function adminInvite(username: string, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
    const res = await boss.client.post('/-/api/admin/invites', { username, ...body });
    assert.equal(res.status, 200, res.text);
    const token = res.json.url.match(TOKEN_URL(kg.origin))[1];
    const { rows } = await kg.db.query<{ id: string }>(`SELECT id::text AS id FROM invites WHERE username = $1 ORDER BY id DESC LIMIT 1`, [username]);
    return { id: rows[0].id, token };
  }
  const pendingRows = (html: string) =>
    [...html.matchAll(/<tr data-invite-id="(\d+)" data-username="([^"]+)">([\s\S]*?)<\/tr>/g)].map((m) => ({ id: m[1], username: m[2], html: m[3] }));
  const state = async () => ({
    invites: (await kg.db.query(`SELECT id, expires_at, used_at FROM invites ORDER BY id`)).rows,
    users: (await kg.db.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n,
    audit: (await kg.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE event IN ('invite_revoked', 'invite_created')`)).rows[0].n,
  });

  test('/-/admin lists pending invites with who made them, when, and when they expire; not used or expired ones, and never a link', async () => {
    const vera = await adminInvite('vera', { admin: true, ttl: '7d' });
    const cli = await runCli(['invite', 'walt'], { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin });
    assert.equal(cli.code, 0, show(cli));
    const used = await adminInvite('xena');
    assert.equal((await enroll(browserOn(kg), new SoftwareAuthenticator(), used.token)).status, 200);
    const expired = await adminInvite('yann');
    await kg.db.query(`UPDATE invites SET expires_at = created_at - interval '1 minute', created_at = created_at - interval '1 hour' WHERE id = $1`, [
      expired.id,
    ]);
    const recovery = await adminInvite('boss');

    const page = await boss.client.get('/-/admin');
    assert.equal(page.status, 200);
    const rows = pendingRows(page.text);
    assert.deepEqual(
      rows.map((r) => r.username),
      ['boss', 'walt', 'vera'],
      'newest first; the used and the expired ones are not pending',
    );
    const vrow = rows.find((r) => r.id === vera.id)!.html;
    assert.match(vrow, /<td data-label="Kind">Invite <span class="tag">Admin<\/span><\/td>/);
    assert.match(vrow, /<td data-label="Made by" data-field="created-by">boss<\/td>/);
    const times = [...vrow.matchAll(/<time datetime="([^"]+)">/g)].map((m) => Date.parse(m[1]));
    assert.equal(times[1] - times[0], 7 * 24 * 3600_000, 'made, then expires 7 days later');
    assert.match(vrow, new RegExp(`data-action="reissue-invite" data-invite-id="${vera.id}"`));
    assert.match(vrow, new RegExp(`data-action="revoke-invite" data-invite-id="${vera.id}"`));
    assert.match(rows.find((r) => r.username === 'walt')!.html, /<td data-label="Made by" data-field="created-by">the CLI<\/td>/);
    assert.match(rows.find((r) => r.id === recovery.id)!.html, /<td data-label="Kind">Recovery link<\/td>/);
    for (const token of [vera.token, used.token, expired.token, recovery.token]) assert.ok(!page.text.includes(token), 'a link is on the page');
    assert.match(page.text, /<div id="reissue-result" class="invite-result" hidden>/);
  });

  test('revoking a pending invite is audited with the admin as actor; its link then answers 410 (revoked) and enrols nothing', async () => {
    const { id, token } = await adminInvite('zora');
    const res = await boss.client.post(`/-/api/admin/invites/${id}/revoke`, {});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true, id, username: 'zora' });
    const [row] = await auditRows(kg, 'invite_revoked', 'zora');
    assertAdminActor(row, 'boss');
    assert.deepEqual([row.outcome, row.details.inviteId], ['success', id]);

    const invitee = browserOn(kg);
    const page = await invitee.get(`/-/enroll/${token}`);
    assert.equal(page.status, 410);
    assert.match(page.text, /This invite link was revoked/);
    const options = await invitee.post('/-/api/enroll/options', { token });
    assert.equal(options.status, 410);
    assert.equal(options.json.error.code, 'invite_revoked');
    assert.equal((await kg.db.query(`SELECT count(*)::int AS n FROM users WHERE username = 'zora'`)).rows[0].n, 0);
    assert.ok(!pendingRows((await boss.client.get('/-/admin')).text).some((r) => r.id === id), 'no longer listed');
  });

  test('re-issuing revokes the old link and answers (only there) a new one for the same person and admin flag, lasting as long; both audited', async () => {
    const old = await adminInvite('amos', { admin: true, ttl: '1h' });
    const res = await boss.client.post(`/-/api/admin/invites/${old.id}/reissue`, {});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['admin', 'createdAt', 'createdBy', 'expiresAt', 'id', 'recovery', 'replaces', 'url', 'username']);
    assert.deepEqual([res.json.username, res.json.admin, res.json.recovery, res.json.replaces, res.json.createdBy], ['amos', true, false, old.id, 'user:boss']);
    assert.equal(Date.parse(res.json.expiresAt) - Date.parse(res.json.createdAt), 3600_000);
    const token = res.json.url.match(TOKEN_URL(kg.origin))[1];
    assert.ok(!(await boss.client.get('/-/admin')).text.includes(token), 'the new link is only in the answer');
    assert.ok(pendingRows((await boss.client.get('/-/admin')).text).some((r) => r.id === res.json.id));

    const revoked = await auditRows(kg, 'invite_revoked', 'amos');
    const created = (await auditRows(kg, 'invite_created', 'amos')).at(-1);
    assertAdminActor(revoked[0], 'boss');
    assertAdminActor(created, 'boss');
    assert.deepEqual([revoked[0].details.inviteId, revoked[0].details.reissued], [old.id, true]);
    assert.deepEqual([created?.details.inviteId, created?.details.replaces], [res.json.id, old.id]);

    assert.equal((await browserOn(kg).get(`/-/enroll/${old.token}`)).status, 410);
    const client = browserOn(kg);
    assert.equal((await enroll(client, new SoftwareAuthenticator(), token)).status, 200);
    assert.equal((await client.get('/-/admin')).status, 200, 'the new link made an administrator');
  });

  test('an invite already used, revoked or expired gets a 409 that says so; an unknown id a 404, a malformed one a 400; nothing changes', async () => {
    const used = await adminInvite('bea');
    assert.equal((await enroll(browserOn(kg), new SoftwareAuthenticator(), used.token)).status, 200);
    const revoked = await adminInvite('cyd');
    assert.equal((await boss.client.post(`/-/api/admin/invites/${revoked.id}/revoke`, {})).status, 200);
    const expired = await adminInvite('dora');
    await kg.db.query(`UPDATE invites SET expires_at = created_at - interval '1 minute', created_at = created_at - interval '1 hour' WHERE id = $1`, [
      expired.id,
    ]);

    const before = await state();
    const cases: Array<[string, number, string, RegExp]> = [];
    for (const what of ['revoke', 'reissue']) {
      cases.push(
        [
          `/-/api/admin/invites/${used.id}/${what}`,
          409,
          'invite_already_used',
          new RegExp(`^Invite ${used.id} for bea was already used, on .+ UTC\\. Nothing was changed\\.$`),
        ],
        [
          `/-/api/admin/invites/${revoked.id}/${what}`,
          409,
          'invite_already_revoked',
          /^Invite \d+ for cyd was already revoked, on .+ UTC\. Nothing was changed\.$/,
        ],
        [
          `/-/api/admin/invites/${expired.id}/${what}`,
          409,
          'invite_already_expired',
          /^Invite \d+ for dora already expired, on .+ UTC\. Nothing was changed\.$/,
        ],
        [`/-/api/admin/invites/987654321/${what}`, 404, 'no_such_invite', /^There is no invite with id 987654321\.$/],
        [`/-/api/admin/invites/abc/${what}`, 400, 'invalid_invite_id', /^That is not an invite id\.$/],
      );
    }
    for (const [path, status, code, message] of cases) {
      const res = await boss.client.post(path, {});
      assert.equal(res.status, status, `${path}: ${res.text}`);
      assert.equal(res.json.error.code, code, path);
      assert.match(res.json.error.message, message, path);
    }
    const extra = await boss.client.post(`/-/api/admin/invites/${expired.id}/revoke`, { everyone: true });
    assert.equal(extra.status, 400);
    assert.deepEqual(await state(), before);
  });

  test('a non-admin gets 403, a cross-site POST is refused, and without a fresh step-up the admin is asked for one; nothing changes until then', async () => {
    const target = await adminInvite('emil');
    const someone = await person(kg, 'fred');
    const before = await state();
    for (const what of ['revoke', 'reissue']) {
      const path = `/-/api/admin/invites/${target.id}/${what}`;
      const notAdmin = await someone.client.post(path, {});
      assert.equal(notAdmin.status, 403, notAdmin.text);
      assert.equal(notAdmin.json.error.code, 'not_admin');
      const crossSite = await boss.client.post(path, {}, { origin: 'https://evil.example' });
      assert.equal(crossSite.status, 403, crossSite.text);
      assert.equal(crossSite.json.error.code, 'cross_origin');
    }
    assert.equal((await someone.client.get('/-/admin/users/emil')).status, 403, 'nor can they see the invitee page');
    assert.deepEqual(await state(), before);

    await ageStepUp(kg, boss.client);
    const asked = await boss.client.post(`/-/api/admin/invites/${target.id}/revoke`, {});
    assert.equal(asked.status, 403);
    assert.equal(asked.json.error.code, 'step_up_required');
    const prompt = (await auditRows(kg, 'step_up_prompted', 'boss')).at(-1);
    assert.equal(prompt?.details.action, `POST /-/api/admin/invites/${target.id}/revoke`);
    assert.deepEqual(await state(), before);
    await stepUp(boss.client, boss.key);
    assert.equal((await boss.client.post(`/-/api/admin/invites/${target.id}/revoke`, {})).status, 200);
  });

  test("someone invited but not enrolled has a page with their pending invites instead of a 404 (until none is pending); an enrolled person's page lists their recovery links", async () => {
    const first = await adminInvite('Gwen', { admin: true });
    const second = await adminInvite('gwen');
    const page = await boss.client.get('/-/admin/users/GWEN');
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /<main id="app" data-username="gwen">/, 'named as the newest invite spells it');
    assert.match(page.text, /has no account yet/);
    assert.deepEqual(
      pendingRows(page.text).map((r) => r.id),
      [second.id, first.id],
    );
    // The audit log links the invite's subject here.
    const audit = await boss.client.get('/-/admin/audit?user=gwen');
    assert.match(audit.text, /<a href="\/-\/admin\/users\/Gwen">Gwen<\/a>/);

    for (const { id } of [first, second]) assert.equal((await boss.client.post(`/-/api/admin/invites/${id}/revoke`, {})).status, 200);
    const gone = await boss.client.get('/-/admin/users/gwen');
    assert.equal(gone.status, 404);
    assert.match(gone.text, /There is no user named &quot;gwen&quot;\./);

    const recovery = await adminInvite('boss');
    const own = await boss.client.get('/-/admin/users/boss');
    assert.ok(
      pendingRows(own.text).some((r) => r.id === recovery.id && /Recovery link/.test(r.html)),
      'the recovery link is listed on the page',
    );
  });

  test('revoke-invite and reissue-invite on the CLI write the same audit events as the admin page', async () => {
    const env = { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin };
    const page = [await adminInvite('hugo'), await adminInvite('hugo')];
    const cli = [await adminInvite('ines'), await adminInvite('ines')];
    assert.equal((await boss.client.post(`/-/api/admin/invites/${page[0].id}/revoke`, {})).status, 200);
    assert.equal((await boss.client.post(`/-/api/admin/invites/${page[1].id}/reissue`, {})).status, 200);
    for (const [args, i] of [
      ['revoke-invite', 0],
      ['reissue-invite', 1],
    ] as const) {
      const r = await runCli([args, cli[i].id], env);
      assert.equal(r.code, 0, show(r));
    }
    const written = async (name: string) =>
      (
        await kg.db.query(
          `SELECT event, outcome, reason, subject_user_id IS NULL AS no_user, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(details) k) AS keys, actor
             FROM audit_events WHERE subject_username = $1 AND event = 'invite_revoked' OR (subject_username = $1 AND event = 'invite_created' AND details ? 'replaces')
            ORDER BY id`,
          [name],
        )
      ).rows;
    const viaPage = await written('hugo');
    const viaCli = await written('ines');
    assert.deepEqual(
      viaPage.map((r) => r.event),
      ['invite_revoked', 'invite_revoked', 'invite_created'],
    );
    assert.deepEqual(
      viaPage.map(({ actor, ...r }) => r),
      viaCli.map(({ actor, ...r }) => r),
    );
    assert.ok(viaPage.every((r) => r.actor === 'user:boss') && viaCli.every((r) => r.actor === 'cli'));
  });
});

/**
 * The audit log (issue 3, "Audit log" and "Revocation takes effect at once"): what each row holds,
 * that history is only ever appended to, that every listed event is written with the right outcome
 * and reason, that a revoked credential stays refused (and audited) on every attempt, and that
 * queryAudit's filters and keyset paging neither drop nor repeat rows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { userActor } from '../server/audit/actor.js';
import { queryAudit } from '../server/audit/query.js';
import { recordEvent, type RequestContext } from '../server/audit/record.js';
import { endDevice, renameDevice } from '../server/devices/actions.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { disableUser, enableUser, endAllSessions } from '../server/users/actions.js';
import { maxAuditId, timedAuditSince, type TimedAuditRow } from './support/audit.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { ageStepUp, expireCeremony } from './support/age.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { enroll, HeaderClient, signedInPerson, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The admin page's actor: a signed-in admin acting from a browser. */
const ADMIN_CTX: RequestContext = { ip: '192.0.2.10', userAgent: 'AdminBrowser/1.0 (audit test)', requestId: 'admin-request-1' };
const admin = userActor({ id: '999999', username: 'root' }, ADMIN_CTX);

/** A key made for another site: its credential id is registered nowhere here. */
async function unregisteredKey(origin: string): Promise<SoftwareAuthenticator> {
  const key = new SoftwareAuthenticator();
  const options: PublicKeyCredentialCreationOptionsJSON = {
    rp: { id: new URL(origin).hostname, name: 'elsewhere' },
    user: { id: randomBytes(32).toString('base64url'), name: 'nobody', displayName: 'nobody' },
    challenge: randomBytes(32).toString('base64url'),
    pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
  };
  await key.register(options, origin);
  return key;
}

describe('audit log', () => {
  let kg: TestKeygate;
  /** A second instance on the same database with 1 s ceremonies and a 1 s step-up window. */
  let fast: TestKeygate;
  /** A third instance that trusts a front proxy (TRUST_PROXY=true). */
  let edge: TestKeygate;

  before(async () => {
    kg = await startKeygate();
    fast = await startKeygate({ database: kg.database, upstream: kg.gogs, env: { CEREMONY_TIMEOUT: '1m', STEP_UP_MAX_AGE: '1m' } });
    edge = await startKeygate({ database: kg.database, upstream: kg.gogs, env: { TRUST_PROXY: 'true' } });
  });
  after(async () => {
    await edge?.close();
    await fast?.close();
    await kg?.close();
  });

  const maxId = () => maxAuditId(kg);
  const rowsAfter = (id: number) => timedAuditSince(kg, id);
  const dbNow = async (): Promise<Date> => (await kg.db.query('SELECT clock_timestamp() AS t')).rows[0].t;

  const userRow = async (username: string) => (await kg.db.query<{ id: string }>(`SELECT id::text AS id FROM users WHERE username = $1`, [username])).rows[0];
  const credentialRowId = async (credentialId: string) =>
    (await kg.db.query<{ id: string }>(`SELECT id::text AS id FROM credentials WHERE credential_id = $1`, [Buffer.from(credentialId, 'base64url')])).rows[0].id;

  let n = 0;
  /** Invite + enrol a fresh user on `at` (default kg); returns the signed-in browser and ids. */
  async function enrolled(prefix: string, at: TestKeygate = kg) {
    const { name: username, client: browser, key, credentialId } = await signedInPerson(at, `${prefix}${++n}`);
    return { username, key, browser, credentialId, userId: (await userRow(username)).id, credentialRow: await credentialRowId(credentialId) };
  }

  /** The only row written since `since`, checked to be the only one. */
  async function onlyRowSince(since: number): Promise<TimedAuditRow> {
    const rows = await rowsAfter(since);
    assert.equal(rows.length, 1, `expected one audit row, got ${JSON.stringify(rows.map((r) => [r.event, r.outcome, r.reason]))}`);
    return rows[0];
  }

  async function assertSignedOut(browser: TestClient) {
    const res = await browser.get('/');
    assert.equal(res.status, 303, `still signed in: ${res.status}`);
    assert.match(res.location ?? '', /^\/-\/login/);
  }

  describe('what a row holds', () => {
    test('a sign-in through the app records time, actor, subject user, credential, event, outcome, reason, IP, user agent and request id', async () => {
      const u = await enrolled('row');
      const UA = `Mozilla/5.0 (X11; Linux x86_64) AuditTest/${randomBytes(4).toString('hex')}`;
      // Without TRUST_PROXY, a client's own X-Forwarded-For and X-Request-Id must not reach the log.
      const browser = new HeaderClient(kg.url, kg.url, { 'user-agent': UA, 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'client-chosen-id' });

      let since = await maxId();
      const t0 = await dbNow();
      const ok = await signIn(browser, u.key);
      const t1 = await dbNow();
      assert.equal(ok.status, 200, ok.text);
      const row = await onlyRowSince(since);
      assert.ok(row.at instanceof Date && row.at >= t0 && row.at <= t1, `time ${row.at?.toISOString()} not within the request`);
      assert.equal(row.actor, `user:${u.username}`);
      assert.equal(row.subject_user_id, u.userId);
      assert.equal(row.subject_username, u.username);
      assert.equal(row.credential_id, u.credentialRow);
      assert.equal(row.event, 'sign_in');
      assert.equal(row.outcome, 'success');
      assert.equal(row.reason, null);
      assert.ok(row.ip && LOOPBACK.has(row.ip), `ip ${row.ip}: a forged X-Forwarded-For was believed?`);
      assert.equal(row.user_agent, UA);
      assert.ok(row.request_id && row.request_id.length > 0, 'no request id');
      assert.notEqual(row.request_id, 'client-chosen-id', 'a client chose its own request id without a trusted proxy');

      // A refusal from the same browser: the same columns, with the reason.
      since = await maxId();
      const refused = await signIn(new HeaderClient(kg.url, kg.url, { 'user-agent': UA }), u.key, { origin: 'https://evil.example' });
      assert.equal(refused.status, 400, refused.text);
      const failed = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: failed.event,
          outcome: failed.outcome,
          reason: failed.reason,
          actor: failed.actor,
          user: failed.subject_user_id,
          cred: failed.credential_id,
          ua: failed.user_agent,
        },
        { event: 'sign_in', outcome: 'failure', reason: 'bad_origin', actor: 'anonymous', user: u.userId, cred: u.credentialRow, ua: UA },
      );
      assert.ok(failed.ip && LOOPBACK.has(failed.ip));
      assert.ok(failed.request_id && failed.request_id !== row.request_id, 'each request has its own id');
    });

    test('request ids are unique per request, and one request writing two rows gives both the same id', async () => {
      const since = await maxId();
      const a = await enrolled('rid');
      await signIn(new TestClient(kg.url), a.key);
      await signIn(new TestClient(kg.url), a.key);
      const rows = await rowsAfter(since);
      assert.deepEqual(
        rows.map((r) => r.event),
        ['invite_redeemed', 'credential_registered', 'sign_in', 'sign_in'],
      );
      for (const r of rows) assert.ok(r.request_id, `${r.event} has no request id`);
      // Enrolment is one request: its two rows share the id; every other request has its own.
      assert.equal(rows[0].request_id, rows[1].request_id);
      assert.equal(new Set([rows[1].request_id, rows[2].request_id, rows[3].request_id]).size, 3);
    });

    test("behind a trusted proxy, the proxy's X-Request-Id and client address are recorded, and Keygate passes the request id on to Gogs", async () => {
      const u = await enrolled('edge', edge);
      const browser = new TestClient(edge.url);
      const signInId = `edge-${randomBytes(6).toString('hex')}`;
      const options = await browser.post('/-/api/login/options', {});
      const response = await u.key.authenticate(options.json, edge.origin);
      const since = await maxId();
      const res = await browser.post(
        '/-/api/login/verify',
        { response },
        { 'x-request-id': signInId, 'x-forwarded-for': '198.51.100.23', 'user-agent': 'EdgeBrowser/2' },
      );
      assert.equal(res.status, 200, res.text);
      const row = await onlyRowSince(since);
      assert.equal(row.request_id, signInId);
      assert.equal(row.ip, '198.51.100.23');
      assert.equal(row.user_agent, 'EdgeBrowser/2');

      // A client that writes its own X-Forwarded-For entry first: the front proxy appends the real
      // peer last, and that is the address recorded (Express's trust proxy = 1 hop).
      const forged = await browser.post('/-/api/login/options', {});
      const since2 = await maxId();
      const again = await browser.post(
        '/-/api/login/verify',
        { response: await u.key.authenticate(forged.json, edge.origin) },
        { 'x-forwarded-for': '6.6.6.6, 198.51.100.24' },
      );
      assert.equal(again.status, 200, again.text);
      assert.equal((await onlyRowSince(since2)).ip, '198.51.100.24', 'the last entry, the one the front proxy wrote');

      // The same id travels to Gogs on a proxied request, so Gogs' log lines up with the audit log.
      edge.gogs.clear();
      const pageId = `edge-${randomBytes(6).toString('hex')}`;
      const page = await browser.get(`/${u.username}/repo`, { 'x-request-id': pageId });
      assert.equal(page.status, 200, page.text);
      assert.equal(edge.gogs.last()?.headers['x-request-id'], pageId);

      // Without a trusted proxy, Keygate makes its own id and sends that to Gogs instead.
      const v = await enrolled('direct');
      kg.gogs.clear();
      const direct = await v.browser.get(`/${v.username}/repo`, { 'x-request-id': 'forged-id' });
      assert.equal(direct.status, 200, direct.text);
      const sent = kg.gogs.last()?.headers['x-request-id'];
      assert.ok(typeof sent === 'string' && sent.length > 0 && sent !== 'forged-id', `Gogs got request id ${sent}`);
    });
  });

  describe('append-only', () => {
    test('the database refuses UPDATE, DELETE and TRUNCATE on audit_events, and the rows stay as they were', async () => {
      await enrolled('ro');
      const snapshot = async () =>
        (await kg.db.query(`SELECT id, xmin::text AS xmin, audit_events::text AS row FROM audit_events ORDER BY audit_events.id`)).rows;
      const before = await snapshot();
      assert.ok(before.length > 0);
      for (const sql of [
        `UPDATE audit_events SET reason = 'tampered' WHERE id = ${before[0].id}`,
        `UPDATE audit_events SET at = at - interval '1 day'`,
        `DELETE FROM audit_events WHERE id = ${before[0].id}`,
        `DELETE FROM audit_events`,
        `TRUNCATE audit_events`,
      ]) {
        await assert.rejects(kg.db.query(sql), /append-only/, sql);
      }
      assert.deepEqual(await snapshot(), before);
    });

    test('a whole journey (enrol, sign in, fail, rename, revoke, disable, enable, end sessions, sign out) only appends: earlier rows stay byte-identical', async () => {
      const snapshot = async () =>
        (
          await kg.db.query<{ id: string; xmin: string; row: string }>(
            `SELECT id::text AS id, xmin::text AS xmin, audit_events::text AS row FROM audit_events ORDER BY audit_events.id`,
          )
        ).rows;
      const before = await snapshot();
      const lastBefore = Number(before.at(-1)?.id ?? 0);

      const username = `journey${++n}`;
      const created = await issueInvite(kg.db, kg.config, { username }, admin);
      const key = new SoftwareAuthenticator();
      const spare = new SoftwareAuthenticator();
      const browser = new TestClient(kg.url);
      assert.equal((await enroll(browser, key, created.token)).status, 200);
      const recovery = await issueInvite(kg.db, kg.config, { username }, admin);
      assert.equal((await enroll(new TestClient(kg.url), spare, recovery.token)).status, 200);
      assert.equal((await signIn(new TestClient(kg.url), key)).status, 200);
      assert.equal((await signIn(new TestClient(kg.url), key, { origin: 'https://evil.example' })).status, 400);
      await renameDevice(kg.db, key.credentials[0].id, 'Journey key', admin);
      await endDevice(kg.db, key.credentials[0].id, admin, { event: 'credential_revoked' });
      assert.equal((await signIn(new TestClient(kg.url), key)).status, 400);
      const spareBrowser = new TestClient(kg.url);
      assert.equal((await signIn(spareBrowser, spare)).status, 200);
      await disableUser(kg.db, username, admin);
      await enableUser(kg.db, username, admin);
      assert.equal((await signIn(spareBrowser, spare)).status, 200);
      await endAllSessions(kg.db, username, admin);
      const again = new TestClient(kg.url);
      assert.equal((await signIn(again, spare)).status, 200);
      assert.equal((await again.request('/-/logout', { method: 'POST' })).status, 303);

      const afterRows = await snapshot();
      assert.deepEqual(afterRows.slice(0, before.length), before, 'an earlier audit row was changed or removed');
      const added = afterRows.slice(before.length);
      assert.ok(added.every((r) => Number(r.id) > lastBefore));
      const events = (await rowsAfter(lastBefore)).map((r) => `${r.event}:${r.outcome}${r.reason ? `:${r.reason}` : ''}`);
      assert.deepEqual(events, [
        'invite_created:success',
        'invite_redeemed:success',
        'credential_registered:success',
        'invite_created:success',
        'invite_redeemed:success',
        'credential_registered:success',
        'sign_in:success',
        'sign_in:failure:bad_origin',
        'credential_renamed:success',
        'credential_revoked:success',
        'sign_in:failure:revoked_credential',
        'sign_in:success',
        'user_disabled:success',
        'user_enabled:success',
        'sign_in:success',
        'sessions_ended:success',
        'sign_in:success',
        'sign_out:success',
      ]);
    });
  });

  describe('events', () => {
    test('invite_created records who made it, for whom, from where, and whether it is a recovery or admin invite', async () => {
      const username = `invitee${++n}`;
      let since = await maxId();
      const created = await issueInvite(kg.db, kg.config, { username, grantsAdmin: true }, admin);
      let row = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: row.event,
          outcome: row.outcome,
          actor: row.actor,
          user: row.subject_user_id,
          name: row.subject_username,
          ip: row.ip,
          ua: row.user_agent,
          rid: row.request_id,
        },
        {
          event: 'invite_created',
          outcome: 'success',
          actor: 'user:root',
          user: null,
          name: username,
          ip: ADMIN_CTX.ip,
          ua: ADMIN_CTX.userAgent,
          rid: ADMIN_CTX.requestId,
        },
      );
      assert.equal(row.details.inviteId, created.invite.id);
      assert.equal(row.details.admin, true);
      assert.equal(row.details.recovery, false);
      assert.ok(!JSON.stringify(row).includes(created.token), 'the invite token is in the audit log');

      // An invite for an existing user is a recovery invite, and names that user.
      const u = await enrolled('recover');
      since = await maxId();
      await issueInvite(kg.db, kg.config, { username: u.username }, admin);
      row = await onlyRowSince(since);
      assert.equal(row.event, 'invite_created');
      assert.equal(row.subject_user_id, u.userId);
      assert.equal(row.details.recovery, true);
    });

    test('invite_redeemed and credential_registered name the new user and credential; a failed redemption is audited with its reason', async () => {
      const username = `redeem${++n}`;
      const { token } = await issueInvite(kg.db, kg.config, { username }, admin);
      const key = new SoftwareAuthenticator();
      const UA = 'EnrolBrowser/3.1';
      const browser = new HeaderClient(kg.url, kg.url, { 'user-agent': UA });

      let since = await maxId();
      const bad = await enroll(browser, key, token, { origin: 'https://evil.example' });
      assert.equal(bad.status, 400, bad.text);
      const failed = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: failed.event,
          outcome: failed.outcome,
          reason: failed.reason,
          name: failed.subject_username,
          cred: failed.credential_id,
          ua: failed.user_agent,
        },
        { event: 'invite_redeemed', outcome: 'failure', reason: 'bad_origin', name: username, cred: null, ua: UA },
      );

      since = await maxId();
      const good = await enroll(browser, new SoftwareAuthenticator(), token, { nickname: 'Desk key' });
      assert.equal(good.status, 200, good.text);
      const rows = await rowsAfter(since);
      assert.deepEqual(
        rows.map((r) => [r.event, r.outcome]),
        [
          ['invite_redeemed', 'success'],
          ['credential_registered', 'success'],
        ],
      );
      const user = await userRow(username);
      const cred = (await kg.db.query(`SELECT id::text AS id FROM credentials WHERE user_id = $1`, [user.id])).rows;
      assert.equal(cred.length, 1);
      for (const r of rows) {
        assert.equal(r.actor, `user:${username}`);
        assert.equal(r.subject_user_id, user.id);
        assert.equal(r.credential_id, cred[0].id);
        assert.ok(r.ip && LOOPBACK.has(r.ip));
        assert.equal(r.user_agent, UA);
      }
      assert.equal(rows[1].details.nickname, 'Desk key');
    });

    test('credential_renamed, credential_revoked and credential_removed record the credential, its owner and the acting person', async () => {
      const u = await enrolled('devs');
      let since = await maxId();
      await renameDevice(kg.db, u.credentialId, '  Blue key  ', admin);
      let row = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: row.event,
          outcome: row.outcome,
          actor: row.actor,
          user: row.subject_user_id,
          name: row.subject_username,
          cred: row.credential_id,
          ip: row.ip,
          rid: row.request_id,
        },
        {
          event: 'credential_renamed',
          outcome: 'success',
          actor: 'user:root',
          user: u.userId,
          name: u.username,
          cred: u.credentialRow,
          ip: ADMIN_CTX.ip,
          rid: ADMIN_CTX.requestId,
        },
      );
      assert.equal(row.details.to, 'Blue key');
      assert.equal(typeof row.details.from, 'string');

      since = await maxId();
      await endDevice(kg.db, u.credentialId, admin, { event: 'credential_revoked', reason: 'lost' });
      row = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: row.event,
          outcome: row.outcome,
          reason: row.reason,
          actor: row.actor,
          user: row.subject_user_id,
          cred: row.credential_id,
          ended: row.details.sessionsEnded,
        },
        { event: 'credential_revoked', outcome: 'success', reason: 'lost', actor: 'user:root', user: u.userId, cred: u.credentialRow, ended: 1 },
      );
      await assertSignedOut(u.browser);

      const owner = await enrolled('owner');
      since = await maxId();
      await endDevice(
        kg.db,
        owner.credentialId,
        userActor({ id: owner.userId, username: owner.username }, { ip: '::1', userAgent: 'Own/1', requestId: 'own-1' }),
        {
          event: 'credential_removed',
          ownerId: owner.userId,
        },
      );
      row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, cred: row.credential_id, ua: row.user_agent },
        { event: 'credential_removed', outcome: 'success', actor: `user:${owner.username}`, user: owner.userId, cred: owner.credentialRow, ua: 'Own/1' },
      );
    });

    describe('sign_in', () => {
      /** Tries to sign in; checks it was refused with no session and one audit row; returns the row. */
      async function refused(
        at: TestKeygate,
        key: SoftwareAuthenticator,
        tamper: Parameters<typeof signIn>[2] = {},
      ): Promise<{ res: ClientResponse; row: TimedAuditRow }> {
        const browser = new TestClient(at.url);
        const since = await maxId();
        const res = await signIn(browser, key, tamper);
        assert.ok(res.status >= 400 && res.status < 500, `not refused: ${res.status} ${res.text}`);
        await assertSignedOut(browser);
        const row = await onlyRowSince(since);
        assert.equal(row.event, 'sign_in');
        assert.equal(row.outcome, 'failure');
        assert.ok(row.ip && LOOPBACK.has(row.ip) && row.request_id);
        return { res, row };
      }

      test('success names the user and the credential', async () => {
        const u = await enrolled('ok');
        const since = await maxId();
        assert.equal((await signIn(new TestClient(kg.url), u.key)).status, 200);
        const row = await onlyRowSince(since);
        assert.deepEqual([row.event, row.outcome, row.reason, row.subject_user_id, row.credential_id], ['sign_in', 'success', null, u.userId, u.credentialRow]);
      });

      test('unknown_credential', async () => {
        const { row } = await refused(kg, await unregisteredKey(kg.origin));
        assert.deepEqual([row.reason, row.subject_user_id, row.credential_id, row.actor], ['unknown_credential', null, null, 'anonymous']);
      });

      test('revoked_credential', async () => {
        const u = await enrolled('rev');
        await endDevice(kg.db, u.credentialId, admin, { event: 'credential_revoked' });
        const { row } = await refused(kg, u.key);
        assert.deepEqual([row.reason, row.subject_user_id, row.credential_id], ['revoked_credential', u.userId, u.credentialRow]);
      });

      test('user_disabled', async () => {
        const u = await enrolled('dis');
        await disableUser(kg.db, u.username, admin);
        const { res, row } = await refused(kg, u.key);
        assert.equal(res.status, 403);
        assert.deepEqual([row.reason, row.subject_user_id, row.credential_id], ['user_disabled', u.userId, u.credentialRow]);
      });

      test('counter_regression', async () => {
        const u = await enrolled('clone');
        assert.equal((await signIn(new TestClient(kg.url), u.key)).status, 200);
        u.key.setSignCount(u.credentialId, 0);
        const { row } = await refused(kg, u.key);
        assert.deepEqual([row.reason, row.subject_user_id, row.credential_id], ['counter_regression', u.userId, u.credentialRow]);
      });

      test('bad_origin', async () => {
        const u = await enrolled('origin');
        const { row } = await refused(kg, u.key, { origin: `${kg.url.replace('localhost', '127.0.0.1')}` });
        assert.deepEqual([row.reason, row.credential_id], ['bad_origin', u.credentialRow]);
      });

      test('challenge_expired (the ceremony past CEREMONY_TIMEOUT)', async () => {
        const u = await enrolled('late', fast);
        const browser = new TestClient(fast.url);
        const options = await browser.post('/-/api/login/options', {});
        assert.equal(options.json.timeout, 60_000);
        const response = await u.key.authenticate(options.json, fast.origin);
        await expireCeremony(fast, browser);
        const since = await maxId();
        const res = await browser.post('/-/api/login/verify', { response });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json.error.code, 'challenge_expired');
        await assertSignedOut(browser);
        const row = await onlyRowSince(since);
        assert.deepEqual([row.event, row.outcome, row.reason], ['sign_in', 'failure', 'challenge_expired']);
      });
    });

    test('user_disabled, user_enabled and sessions_ended record the subject, the acting admin and how many sessions ended', async () => {
      const u = await enrolled('ppl');
      const second = new TestClient(kg.url);
      assert.equal((await signIn(second, u.key)).status, 200);

      let since = await maxId();
      await endAllSessions(kg.db, u.username, admin);
      let row = await onlyRowSince(since);
      assert.deepEqual(
        {
          event: row.event,
          outcome: row.outcome,
          actor: row.actor,
          user: row.subject_user_id,
          name: row.subject_username,
          ended: row.details.sessionsEnded,
          ip: row.ip,
          ua: row.user_agent,
          rid: row.request_id,
        },
        {
          event: 'sessions_ended',
          outcome: 'success',
          actor: 'user:root',
          user: u.userId,
          name: u.username,
          ended: 2,
          ip: ADMIN_CTX.ip,
          ua: ADMIN_CTX.userAgent,
          rid: ADMIN_CTX.requestId,
        },
      );

      assert.equal((await signIn(second, u.key)).status, 200);
      since = await maxId();
      await disableUser(kg.db, u.username, admin);
      row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, ended: row.details.sessionsEnded },
        { event: 'user_disabled', outcome: 'success', actor: 'user:root', user: u.userId, ended: 1 },
      );

      since = await maxId();
      await enableUser(kg.db, u.username, admin);
      row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, was: row.details.wasDisabled },
        { event: 'user_enabled', outcome: 'success', actor: 'user:root', user: u.userId, was: true },
      );
    });

    test('step_up_prompted and step_up_passed (past STEP_UP_MAX_AGE): an old sign-in is asked for the key again, then the action goes through', async () => {
      const u = await enrolled('step', fast);
      const browser = new TestClient(fast.url);
      assert.equal((await signIn(browser, u.key)).status, 200);
      await ageStepUp(fast, browser);

      let since = await maxId();
      const stale = await browser.post('/-/api/account/devices/options', {});
      assert.equal(stale.status, 403, stale.text);
      assert.equal(stale.json?.error?.code, 'step_up_required');
      let row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, action: row.details.action },
        { event: 'step_up_prompted', outcome: 'success', actor: `user:${u.username}`, user: u.userId, action: 'POST /-/api/account/devices/options' },
      );
      assert.ok(row.ip && LOOPBACK.has(row.ip) && row.request_id);

      const options = await browser.post('/-/api/step-up/options', {});
      assert.equal(options.status, 200, options.text);
      const response = await u.key.authenticate(options.json, fast.origin);
      since = await maxId();
      const verified = await browser.post('/-/api/step-up/verify', { response });
      assert.equal(verified.status, 200, verified.text);
      row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, cred: row.credential_id },
        { event: 'step_up_passed', outcome: 'success', actor: `user:${u.username}`, user: u.userId, cred: u.credentialRow },
      );

      since = await maxId();
      const fresh = await browser.post('/-/api/account/devices/options', {});
      assert.equal(fresh.status, 200, fresh.text);
      assert.deepEqual(await rowsAfter(since), [], 'a fresh step-up is not prompted again');
    });

    test('sign_out records who signed out; an anonymous sign-out records nothing', async () => {
      const u = await enrolled('bye');
      let since = await maxId();
      const res = await u.browser.request('/-/logout', { method: 'POST' });
      assert.equal(res.status, 303);
      const row = await onlyRowSince(since);
      assert.deepEqual(
        { event: row.event, outcome: row.outcome, actor: row.actor, user: row.subject_user_id, name: row.subject_username },
        { event: 'sign_out', outcome: 'success', actor: `user:${u.username}`, user: u.userId, name: u.username },
      );
      assert.ok(row.ip && LOOPBACK.has(row.ip) && row.request_id);

      since = await maxId();
      assert.equal((await new TestClient(kg.url).request('/-/logout', { method: 'POST' })).status, 303);
      assert.deepEqual(await rowsAfter(since), []);
    });
  });

  test('a revoked credential can never sign in again, on any instance, and every attempt is audited as revoked_credential', async () => {
    const u = await enrolled('never');
    const { key: spare } = await signedInPerson(kg, u.username);
    await endDevice(kg.db, u.credentialId, admin, { event: 'credential_revoked' });

    const since = await maxId();
    const attempts: Array<[TestKeygate, string]> = [
      [kg, 'first try'],
      [kg, 'second try'],
      [fast, 'through another instance'],
    ];
    for (const [at, what] of attempts) {
      const browser = new TestClient(at.url);
      const res = await signIn(browser, u.key);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      await assertSignedOut(browser);
    }
    // Neither re-enabling the user nor a sign-in with another key brings it back.
    await disableUser(kg.db, u.username, admin);
    await enableUser(kg.db, u.username, admin);
    assert.equal((await signIn(new TestClient(kg.url), spare)).status, 200);
    const last = new TestClient(kg.url);
    assert.equal((await signIn(last, u.key)).status, 400);
    await assertSignedOut(last);

    const attemptsAudited = (await rowsAfter(since)).filter((r) => r.credential_id === u.credentialRow);
    assert.equal(attemptsAudited.length, 4);
    for (const r of attemptsAudited) {
      assert.deepEqual([r.event, r.outcome, r.reason, r.subject_user_id], ['sign_in', 'failure', 'revoked_credential', u.userId]);
    }
    // Its last use is still its enrolment: no refused attempt counts as one.
    const { rows } = await kg.db.query(
      `SELECT revoked_at IS NOT NULL AS revoked, last_used_at = created_at AS unused_since_enrolment FROM credentials WHERE id = $1`,
      [u.credentialRow],
    );
    assert.deepEqual(rows[0], { revoked: true, unused_since_enrolment: true });
  });

  describe('queryAudit', () => {
    /**
     * Rows for `Pager`, among rows of other people. Their times are whole milliseconds, 10 ms
     * apart, so that a row's own time can be given as a bound (a Date has no microseconds).
     */
    const pager: Array<{ id: string; at: Date; event: string }> = [];

    before(async () => {
      const base = Date.now() - 60_000;
      for (let i = 0; i < 23; i++) {
        const event = i % 3 === 0 ? 'sign_out' : 'sign_in';
        const at = new Date(base + i * 10);
        const { rows } = await kg.db.query<{ id: string }>(
          `INSERT INTO audit_events (at, actor, subject_username, event, outcome, reason) VALUES ($1, 'anonymous', 'Pager', $2, $3, $4) RETURNING id::text AS id`,
          [at, event, i % 2 ? 'failure' : 'success', i % 2 ? 'unknown_credential' : null],
        );
        pager.push({ id: rows[0].id, at, event });
        // Decoys: another name that starts the same, and rows with no subject at all.
        if (i % 4 === 0) await recordEvent(kg.db, { event, outcome: 'success', actor: 'anonymous', subjectUsername: 'pager2' });
        if (i % 5 === 0) await recordEvent(kg.db, { event, outcome: 'failure', actor: 'anonymous', reason: 'unknown_credential' });
      }
    });

    const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
    const newestFirst = (rows: Array<{ id: string }>) => [...rows].sort((a, b) => Number(b.id) - Number(a.id));

    test('filters by subject username (case-insensitive, exact), newest first', async () => {
      const rows = await queryAudit(kg.db, { username: 'pAGER', limit: 1000 });
      assert.deepEqual(ids(rows), ids(newestFirst(pager)));
      assert.ok(rows.every((r) => r.subjectUsername === 'Pager'));
    });

    test('filters by event, alone and with a username', async () => {
      const withUser = await queryAudit(kg.db, { username: 'Pager', event: 'sign_out', limit: 1000 });
      assert.deepEqual(ids(withUser), ids(newestFirst(pager.filter((p) => p.event === 'sign_out'))));
      const all = await queryAudit(kg.db, { event: 'sign_out', limit: 1000 });
      const expected = (await kg.db.query(`SELECT id::text AS id FROM audit_events WHERE event = 'sign_out' ORDER BY audit_events.id DESC`)).rows;
      assert.deepEqual(ids(all), ids(expected));
      assert.ok(all.length > withUser.length);
    });

    test('since is inclusive and until exclusive', async () => {
      const rows = await queryAudit(kg.db, { username: 'Pager', since: pager[5].at, until: pager[15].at, limit: 1000 });
      assert.deepEqual(ids(rows), ids(newestFirst(pager.slice(5, 15))));
      const onlySince = await queryAudit(kg.db, { username: 'Pager', since: pager[20].at, limit: 1000 });
      assert.deepEqual(ids(onlySince), ids(newestFirst(pager.slice(20))));
      const onlyUntil = await queryAudit(kg.db, { username: 'Pager', until: pager[3].at, limit: 1000 });
      assert.deepEqual(ids(onlyUntil), ids(newestFirst(pager.slice(0, 3))));
    });

    test('pages with beforeId without gaps or overlaps, filtered and unfiltered', async () => {
      const pageThrough = async (filter: Parameters<typeof queryAudit>[1], size: number) => {
        const seen: string[] = [];
        let beforeId: string | undefined;
        for (let i = 0; i < 1000; i++) {
          const page = await queryAudit(kg.db, { ...filter, beforeId, limit: size });
          assert.ok(page.length <= size);
          if (!page.length) break;
          seen.push(...ids(page));
          beforeId = page.at(-1)!.id;
        }
        return seen;
      };
      const filtered = await pageThrough({ username: 'Pager' }, 4);
      assert.deepEqual(filtered, ids(newestFirst(pager)));
      const everything = await pageThrough({}, 7);
      const expected = (await kg.db.query(`SELECT id::text AS id FROM audit_events ORDER BY audit_events.id DESC`)).rows;
      assert.deepEqual(everything, ids(expected));
      assert.equal(new Set(everything).size, everything.length);
      // Filters and paging compose: sign_in rows of Pager, three at a time.
      assert.deepEqual(await pageThrough({ username: 'Pager', event: 'sign_in' }, 3), ids(newestFirst(pager.filter((p) => p.event === 'sign_in'))));
    });

    test('rows come back with every field', async () => {
      const [row] = await queryAudit(kg.db, { event: 'sign_in', limit: 1 });
      assert.deepEqual(Object.keys(row).sort(), [
        'actor',
        'at',
        'credentialId',
        'details',
        'event',
        'id',
        'ip',
        'outcome',
        'reason',
        'requestId',
        'subjectUserId',
        'subjectUsername',
        'userAgent',
      ]);
    });
  });
});

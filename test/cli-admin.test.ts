/**
 * The admin commands of the CLI (issue 3, "CLI parity"): disable, enable, sessions,
 * logout-everywhere, rename and audit, each a real process (`node --import tsx server/cli.ts`)
 * judged by its stdout, stderr and exit code and by what it did to a running Keygate; the audit
 * events they write, compared with the shared actions the admin page calls; and the first-run
 * admin enrolment link that `server/main.ts` logs while no admin exists.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { userActor } from '../server/audit/actor.js';
import { queryAudit } from '../server/audit/query.js';
import { endDevice, renameDevice } from '../server/devices/actions.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { disableUser, enableUser, endAllSessions } from '../server/users/actions.js';
import { auditSince, maxAuditId, type AuditRow } from './support/audit.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { jsonLines, limited, runCli, show, type CliResult } from './support/cli.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { enroll, enrolledUser, signedInPerson, signIn } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { listenEnv, MainProcess, type LogLine } from './support/main-process.js';
import { sleep } from './support/net.js';
import { sessionKey } from '../server/session/key.js';

const NO_STACK = /\n\s+at .+:\d+:\d+|node:internal|\.ts:\d+:\d+/;

/** The key of a browser's newest session (SHA-256 of the id in the signed cookie `s:<sid>.<signature>`). */
function sessionIdOf(browser: TestClient): string {
  const raw = decodeURIComponent(browser.cookies.get('keygate') ?? '');
  assert.ok(raw.startsWith('s:'), `no session cookie: ${raw}`);
  return sessionKey(raw.slice(2, raw.lastIndexOf('.')));
}

async function assertSentToLogin(browser: TestClient, path: string) {
  const res = await browser.get(path);
  assert.equal(res.status, 303, `still signed in: ${res.status}`);
  assert.match(res.location ?? '', /^\/-\/login\?return_to=/);
}

describe('cli admin commands', () => {
  let kg: TestKeygate;
  let env: Record<string, string>;
  /** The CLI has its own connections, as when an admin runs it: its session changes reach this server through NOTIFY, so wait for them. */
  const cli = async (...args: string[]) => {
    const result = await runCli(args, env);
    await kg?.settle();
    return result;
  };

  /** alice: two keys, each signed in on its own browser. bob: one key. carol: signed out. */
  const aliceKey = new SoftwareAuthenticator();
  const aliceSpare = new SoftwareAuthenticator();
  const bobKey = new SoftwareAuthenticator();
  let alice1: TestClient;
  let alice2: TestClient;
  let bob: TestClient;
  let ids: { alice: string; bob: string; alice1: string; alice2: string; alice1Row: string; alice2Row: string };
  let testStart: Date;
  /** Audit rows each state-changing CLI run wrote, for the parity test. */
  const cliRows: Record<string, AuditRow[]> = {};

  const maxId = () => maxAuditId(kg);
  const rowsAfter = (id: number) => auditSince(kg, id);
  /** Runs a state-changing command and keeps the audit rows it wrote. */
  async function cliAudited(key: string, ...args: string[]): Promise<CliResult> {
    const since = await maxId();
    const r = await cli(...args);
    cliRows[key] = await rowsAfter(since);
    return r;
  }
  const sessionsOf = async (userId: string) =>
    (
      await kg.db.query<{ sid: string; cred: string }>(
        `SELECT sid, sess -> 'auth' ->> 'credentialId' AS cred FROM session WHERE sess -> 'auth' ->> 'userId' = $1`,
        [userId],
      )
    ).rows;

  before(async () => {
    kg = await startKeygate();
    env = { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.url };
    testStart = new Date(Date.now() - 1000);
    alice1 = new TestClient(kg.url);
    alice2 = new TestClient(kg.url);
    bob = new TestClient(kg.url);
    await enrolledUser(kg, alice1, aliceKey, 'alice');
    await sleep(5); // the two sessions' sign-in times differ, so their order is known
    await enrolledUser(kg, alice2, aliceSpare, 'alice', { nickname: 'Spare' });
    await enrolledUser(kg, bob, bobKey, 'bob');
    const { client: carol } = await signedInPerson(kg, 'carol');
    assert.equal((await carol.request('/-/logout', { method: 'POST' })).status, 303);

    const users = Object.fromEntries((await kg.db.query(`SELECT username, id::text AS id FROM users`)).rows.map((r) => [r.username, r.id]));
    const rowOf = async (credentialId: string) =>
      (await kg.db.query(`SELECT id::text AS id FROM credentials WHERE credential_id = $1`, [Buffer.from(credentialId, 'base64url')])).rows[0].id as string;
    const alice1Id = aliceKey.credentials[0].id;
    const alice2Id = aliceSpare.credentials[0].id;
    ids = { alice: users.alice, bob: users.bob, alice1: alice1Id, alice2: alice2Id, alice1Row: await rowOf(alice1Id), alice2Row: await rowOf(alice2Id) };
  });
  after(async () => {
    await kg?.close();
  });

  test('sessions <user> prints one line per session, newest first: an 8-character id prefix, the credential id and the times', async () => {
    for (const b of [alice1, alice2]) assert.equal((await b.get('/')).status, 200);
    const [r, none, json] = await Promise.all([cli('sessions', 'alice'), cli('sessions', 'carol'), cli('sessions', 'alice', '--json')]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '');
    const sids = [sessionIdOf(alice2), sessionIdOf(alice1)]; // newest first
    const [header, ...lines] = r.stdout.trimEnd().split('\n');
    assert.equal(header, 'SESSION\tCREDENTIAL ID\tSIGNED IN\tLAST SEEN\tEXPIRES');
    assert.equal(lines.length, 2, show(r));
    const now = Date.now();
    lines.forEach((line, i) => {
      const fields = line.split('\t');
      assert.equal(fields.length, 5, line);
      const [prefix, credential, signedIn, lastSeen, expires] = fields;
      assert.match(prefix, /^[A-Za-z0-9_-]{8}$/);
      assert.equal(prefix, sids[i].slice(0, 8));
      assert.equal(credential, [ids.alice2, ids.alice1][i]);
      for (const [label, value] of [
        ['signed in', signedIn],
        ['last seen', lastSeen],
        ['expires', expires],
      ]) {
        const t = Date.parse(value);
        assert.ok(Number.isFinite(t), `${label}: not a time in ${line}`);
        if (label === 'expires') assert.ok(t > now);
        else assert.ok(t >= testStart.getTime() && t <= now, `${label} ${value}`);
      }
    });
    for (const sid of sids) assert.ok(sid.length > 8 && !r.stdout.includes(sid), 'a whole session id was printed');

    // --json: the same sessions, one object per line, no header, still no whole session id.
    assert.equal(json.code, 0, show(json));
    const objects = jsonLines(json.stdout);
    assert.deepEqual(
      objects.map((o) => [o.idPrefix, o.credentialId]),
      lines.map((l) => l.split('\t').slice(0, 2)),
    );
    for (const o of objects) assert.deepEqual(Object.keys(o).sort(), ['credentialId', 'expiresAt', 'idPrefix', 'ip', 'lastSeenAt', 'signedInAt', 'userAgent']);
    for (const sid of sids) assert.ok(!json.stdout.includes(sid), 'a whole session id was printed');

    assert.equal(none.code, 0, show(none));
    assert.equal(none.stdout, '', 'no rows, no header');
    assert.match(none.stderr, /carol has no active sessions/);
  });

  test('rename <id> <name> renames the credential and audits it as the CLI', async () => {
    const r = await cliAudited('rename', 'rename', ids.alice1, '  Work key ');
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `Renamed ${ids.alice1} to "Work key"\n`);
    const { rows } = await kg.db.query(`SELECT nickname FROM credentials WHERE id = $1`, [ids.alice1Row]);
    assert.equal(rows[0].nickname, 'Work key');
    const audit = cliRows.rename;
    assert.equal(audit.length, 1);
    assert.deepEqual(
      {
        event: audit[0].event,
        outcome: audit[0].outcome,
        actor: audit[0].actor,
        user: audit[0].subject_user_id,
        cred: audit[0].credential_id,
        to: audit[0].details.to,
      },
      { event: 'credential_renamed', outcome: 'success', actor: 'cli', user: ids.alice, cred: ids.alice1Row, to: 'Work key' },
    );
  });

  test('logout-everywhere <user> ends every session of the user at once; the user stays enabled and can sign in again', async () => {
    for (const b of [alice1, alice2, bob]) assert.equal((await b.get('/')).status, 200);
    const r = await cliAudited('logout-everywhere', 'logout-everywhere', 'alice');
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'Ended 2 session(s) of alice\n');
    await assertSentToLogin(alice1, '/alice/repo');
    await assertSentToLogin(alice2, '/');
    assert.deepEqual(await sessionsOf(ids.alice), []);
    kg.gogs.clear();
    assert.equal((await bob.get('/')).status, 200, "another user's session ended");
    assert.deepEqual(kg.gogs.last()?.authHeaderValues, ['bob']);

    const { rows } = await kg.db.query(`SELECT disabled_at FROM users WHERE id = $1`, [ids.alice]);
    assert.equal(rows[0].disabled_at, null);
    assert.equal((await signIn(alice1, aliceKey)).status, 200);
    assert.equal((await alice1.get('/')).status, 200);

    const audit = cliRows['logout-everywhere'];
    assert.deepEqual(
      audit.map((a) => ({ event: a.event, outcome: a.outcome, actor: a.actor, user: a.subject_user_id, ended: a.details.sessionsEnded })),
      [{ event: 'sessions_ended', outcome: 'success', actor: 'cli', user: ids.alice, ended: 2 }],
    );
  });

  test('disable <user> disables the user, ends their sessions at once, and sign-in is refused', async () => {
    assert.equal((await bob.get('/')).status, 200);
    const r = await cliAudited('disable', 'disable', 'bob');
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'Disabled bob; ended 1 session(s)\n');
    await assertSentToLogin(bob, '/bob/repo');
    const { rows } = await kg.db.query(`SELECT disabled_at FROM users WHERE id = $1`, [ids.bob]);
    assert.ok(rows[0].disabled_at instanceof Date);
    assert.deepEqual(await sessionsOf(ids.bob), []);

    const retry = new TestClient(kg.url);
    const refused = await signIn(retry, bobKey);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json?.error?.code, 'user_disabled');
    await assertSentToLogin(retry, '/');

    assert.deepEqual(
      cliRows.disable.map((a) => ({ event: a.event, outcome: a.outcome, actor: a.actor, user: a.subject_user_id, ended: a.details.sessionsEnded })),
      [{ event: 'user_disabled', outcome: 'success', actor: 'cli', user: ids.bob, ended: 1 }],
    );
  });

  test('enable <user> lets the user sign in again', async () => {
    const r = await cliAudited('enable', 'enable', 'bob');
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'Enabled bob\n');
    const { rows } = await kg.db.query(`SELECT disabled_at FROM users WHERE id = $1`, [ids.bob]);
    assert.equal(rows[0].disabled_at, null);
    assert.equal((await signIn(bob, bobKey)).status, 200);
    assert.equal((await bob.get('/')).status, 200);
    assert.deepEqual(
      cliRows.enable.map((a) => ({ event: a.event, outcome: a.outcome, actor: a.actor, user: a.subject_user_id })),
      [{ event: 'user_enabled', outcome: 'success', actor: 'cli', user: ids.bob }],
    );
  });

  describe('audit', () => {
    const iso = (d: Date | string) => new Date(d).toISOString();

    test('audit prints tab-separated lines under a header, newest first; --json prints one JSON object per line with every field', async () => {
      // A refused sign-in, so that the log has a reason and a failure in it.
      assert.equal((await signIn(new TestClient(kg.url), aliceKey, { origin: 'https://evil.example' })).status, 400);
      const [plain, json] = await Promise.all([cli('audit'), cli('audit', '--json')]);
      const expected = await queryAudit(kg.db, { limit: 100 });
      assert.ok(expected.length > 10);

      assert.equal(plain.code, 0, show(plain));
      const [header, ...lines] = plain.stdout.trimEnd().split('\n');
      assert.equal(header, 'TIME\tEVENT\tOUTCOME\tREASON\tACTOR\tUSERNAME\tIP\tREQUEST ID');
      assert.equal(lines.length, expected.length);
      lines.forEach((line, i) => {
        const r = expected[i];
        assert.deepEqual(line.split('\t'), [
          iso(r.at),
          r.event,
          r.outcome,
          r.reason ?? '-',
          r.actor,
          r.subjectUsername ?? '-',
          r.ip ?? '-',
          r.requestId ?? '-',
        ]);
      });
      const times = lines.map((l) => Date.parse(l.split('\t')[0]));
      for (let i = 1; i < times.length; i++) assert.ok(times[i] <= times[i - 1], 'not newest first');
      const newest = (await kg.db.query(`SELECT event, reason FROM audit_events ORDER BY audit_events.id DESC LIMIT 1`)).rows[0];
      assert.deepEqual(lines[0].split('\t').slice(1, 4), [newest.event, 'failure', newest.reason]);
      assert.equal(newest.reason, 'bad_origin');

      assert.equal(json.code, 0, show(json));
      const objects = jsonLines(json.stdout);
      assert.deepEqual(objects, JSON.parse(JSON.stringify(expected)));
      for (const o of objects) {
        assert.deepEqual(Object.keys(o).sort(), [
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
      }
      assert.ok(objects.some((o) => o.userAgent && o.ip && o.requestId && o.credentialId && o.subjectUserId));
    });

    test('audit --user U --since 1h --event sign_in, and --until, select by person, event and time', async () => {
      // An old sign-in of alice, two hours ago.
      const old = (
        await kg.db.query(
          `INSERT INTO audit_events (at, actor, subject_user_id, subject_username, event, outcome)
           VALUES (now() - interval '2 hours', 'user:alice', $1, 'alice', 'sign_in', 'success') RETURNING id::text AS id`,
          [ids.alice],
        )
      ).rows[0].id;
      const [recent, older] = await Promise.all([
        cli('audit', '--user', 'alice', '--since', '1h', '--event', 'sign_in'),
        cli('audit', '--user', 'ALICE', '--until', '90m', '--json'),
      ]);

      assert.equal(recent.code, 0, show(recent));
      const expected = (
        await kg.db.query(
          `SELECT at, outcome, reason FROM audit_events
            WHERE lower(subject_username) = 'alice' AND event = 'sign_in' AND at >= now() - interval '1 hour' ORDER BY audit_events.id DESC`,
        )
      ).rows;
      const lines = recent.stdout
        .trimEnd()
        .split('\n')
        .slice(1) // the header
        .map((l) => l.split('\t'));
      assert.deepEqual(
        lines.map((f) => [f[0], f[1], f[2], f[3], f[5]]),
        expected.map((e) => [iso(e.at), 'sign_in', e.outcome, e.reason ?? '-', 'alice']),
      );
      // Both outcomes are there: the success after logout-everywhere and the refusal above.
      assert.deepEqual([...new Set(lines.map((f) => f[2]))].sort(), ['failure', 'success']);
      const aliceEvents = (await kg.db.query(`SELECT count(DISTINCT event)::int AS n FROM audit_events WHERE subject_username = 'alice'`)).rows[0].n;
      assert.ok(aliceEvents > 1, 'the event filter would not show');

      assert.equal(older.code, 0, show(older));
      const rows = jsonLines(older.stdout);
      assert.deepEqual(
        rows.map((x) => x.id),
        [old],
      );
    });
  });

  test('CLI parity: each CLI command writes the same audit event as the shared action the admin page calls, with actor "cli"', async () => {
    // The remaining commands, run now: invite and revoke.
    const [inv, rev] = await Promise.all([cliAudited('invite', 'invite', 'erin'), cliAudited('revoke', 'revoke', ids.alice2)]);
    assert.equal(inv.code, 0, show(inv));
    assert.equal(rev.code, 0, show(rev));
    // (Both ran at once: split their rows by event.)
    const all = [...cliRows.invite, ...cliRows.revoke].filter((r, i, a) => a.findIndex((x) => x.id === r.id) === i);
    cliRows.invite = all.filter((r) => r.event === 'invite_created');
    cliRows.revoke = all.filter((r) => r.event !== 'invite_created');

    // The same actions through the shared functions, as a signed-in admin on the admin page.
    const ctx = { ip: '192.0.2.44', userAgent: 'AdminPage/1', requestId: 'admin-page-1' };
    const admin = userActor({ id: ids.bob, username: 'bob' }, ctx);
    const { credentialId: doraCred } = await signedInPerson(kg, 'dora');
    const web: Record<string, AuditRow[]> = {};
    const viaWeb = async (key: string, action: () => Promise<unknown>) => {
      const since = await maxId();
      await action();
      web[key] = await rowsAfter(since);
    };
    await viaWeb('invite', () => issueInvite(kg.db, kg.config, { username: 'frank' }, admin));
    await viaWeb('rename', () => renameDevice(kg.db, doraCred, 'Work key', admin));
    await viaWeb('logout-everywhere', () => endAllSessions(kg.db, 'dora', admin));
    await viaWeb('disable', () => disableUser(kg.db, 'dora', admin));
    await viaWeb('enable', () => enableUser(kg.db, 'dora', admin));
    await viaWeb('revoke', () => endDevice(kg.db, doraCred, admin, { event: 'credential_revoked' }));

    const shape = (r: AuditRow) => ({
      event: r.event,
      outcome: r.outcome,
      reason: r.reason,
      hasSubjectUser: r.subject_user_id !== null,
      hasSubjectName: r.subject_username !== null,
      hasCredential: r.credential_id !== null,
      details: Object.keys(r.details).sort(),
    });
    const expectedEvents: Record<string, string> = {
      invite: 'invite_created',
      rename: 'credential_renamed',
      'logout-everywhere': 'sessions_ended',
      disable: 'user_disabled',
      enable: 'user_enabled',
      revoke: 'credential_revoked',
    };
    for (const [command, event] of Object.entries(expectedEvents)) {
      const fromCli = cliRows[command];
      assert.ok(fromCli, `no CLI run of ${command}`);
      assert.equal(fromCli.length, 1, `${command} via the CLI wrote ${fromCli.length} rows`);
      assert.equal(web[command].length, 1, `${command} via the shared action wrote ${web[command].length} rows`);
      assert.equal(fromCli[0].event, event);
      assert.deepEqual(shape(fromCli[0]), shape(web[command][0]), command);
      assert.deepEqual(
        [fromCli[0].actor, fromCli[0].ip, fromCli[0].user_agent, fromCli[0].request_id],
        ['cli', null, null, null],
        `${command}: the CLI has no browser`,
      );
      assert.deepEqual(
        [web[command][0].actor, web[command][0].ip, web[command][0].user_agent, web[command][0].request_id],
        ['user:bob', ctx.ip, ctx.userAgent, ctx.requestId],
      );
    }
  });

  describe('bad input', () => {
    const unknownId = randomBytes(16).toString('base64url');
    const cases: Record<string, { args: () => string[]; stderr: RegExp }> = {
      'disable of an unknown user': { args: () => ['disable', 'nobody'], stderr: /There is no user named "nobody"/ },
      'enable of an unknown user': { args: () => ['enable', 'nobody'], stderr: /There is no user named "nobody"/ },
      'sessions of an unknown user': { args: () => ['sessions', 'nobody'], stderr: /There is no user named "nobody"/ },
      'logout-everywhere of an unknown user': { args: () => ['logout-everywhere', 'nobody'], stderr: /There is no user named "nobody"/ },
      'disable without a username': { args: () => ['disable'], stderr: /disable needs exactly one <username>/ },
      'rename to an empty name': { args: () => ['rename', ids.alice1, ' '], stderr: /A key's name must be 1 to 64 characters/ },
      'rename to a 65-character name': { args: () => ['rename', ids.alice1, 'x'.repeat(65)], stderr: /A key's name must be 1 to 64 characters/ },
      'rename without a name': { args: () => ['rename', ids.alice1], stderr: /rename needs a <key-id> and a <name>/ },
      'rename of an unknown credential': { args: () => ['rename', unknownId, 'Name'], stderr: new RegExp(`no key with id "${unknownId}"`) },
      'rename of something that is not a credential id': { args: () => ['rename', 'not an id!', 'Name'], stderr: /"not an id!" is not a key id/ },
      'rename of a revoked credential': { args: () => ['rename', ids.alice2, 'Name'], stderr: /revoked/ },
      'audit --since nonsense': { args: () => ['audit', '--since', 'nonsense'], stderr: /--since "nonsense" is neither an ISO time .* nor a duration/ },
      // new Date() rolls 31 February over to 3 March; the CLI used to filter on that silently.
      'audit --until with an impossible date': { args: () => ['audit', '--until', '2026-02-31'], stderr: /--until "2026-02-31" is neither an ISO time/ },
      // Used to reach PostgreSQL as an invalid date and fail with a database error.
      'audit --since further back than a timestamp holds': {
        args: () => ['audit', '--since', '999999999d'],
        stderr: /--since "999999999d" reaches back before the year 1/,
      },
      'audit --user with an empty name': { args: () => ['audit', '--user', ''], stderr: /--user needs a value/ },
      'audit --limit 0': { args: () => ['audit', '--limit', '0'], stderr: /--limit "0" must be a whole number from 1 to 1000/ },
      'audit with a stray argument': { args: () => ['audit', 'alice'], stderr: /audit takes options only/ },
    };
    const results: Record<string, CliResult> = {};
    let stateBefore: unknown;
    let stateAfter: unknown;
    const state = async () => ({
      audit: (await kg.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n,
      credentials: (await kg.db.query(`SELECT id, nickname, revoked_at FROM credentials ORDER BY credentials.id`)).rows,
      users: (await kg.db.query(`SELECT id, disabled_at FROM users ORDER BY users.id`)).rows,
      sessions: (await kg.db.query(`SELECT sid FROM session ORDER BY sid`)).rows,
    });

    before(async () => {
      stateBefore = await state();
      const names = Object.keys(cases);
      const out = await limited(
        3,
        names.map((name) => () => cli(...cases[name].args())),
      );
      names.forEach((name, i) => (results[name] = out[i]));
      stateAfter = await state();
    });

    for (const [name, c] of Object.entries(cases)) {
      test(`${name} exits non-zero with a clear message and no stack trace`, () => {
        const r = results[name];
        assert.ok(r.code !== 0 && r.code !== null, show(r));
        assert.match(r.stderr, /^keygate: /, show(r));
        assert.match(r.stderr, c.stderr, show(r));
        assert.doesNotMatch(r.stderr, NO_STACK, 'a stack trace is not a clear message');
        assert.equal(r.stdout, '');
      });
    }

    test('none of them changed anything', () => {
      assert.deepEqual(stateAfter, stateBefore);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// First run: `server/main.ts` logs a one-time admin enrolment link while no admin exists.

describe('first-run admin link', () => {
  let database: TestDatabase;
  let gogs: FakeGogs;
  let url: string;
  let env: Record<string, string>;
  const started: MainProcess[] = [];
  const start = () => {
    const app = new MainProcess(env);
    started.push(app);
    return app;
  };
  const isLink = (l: LogLine) => typeof l.enrolUrl === 'string';
  const tokenOf = (line: LogLine): string => {
    const m = new RegExp(`^${url.replace(/[.:/]/g, '\\$&')}/-/enroll/([A-Za-z0-9_-]{43})$`).exec(line.enrolUrl);
    assert.ok(m, `not an enrolment URL under PUBLIC_URL: ${line.enrolUrl}`);
    return m[1];
  };
  let firstToken: string;
  let secondToken: string;

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    gogs = await startFakeGogs();
    ({ url, env } = await listenEnv(gogs.url, { DATABASE_URL: database.url }));
  });
  after(async () => {
    for (const app of started) await app.kill();
    await gogs?.close();
    await database?.drop();
  });

  test(
    'with no admin, start-up logs a warning and prints plainly on stderr a one-time enrolment link for "siteadmin"; a second start replaces the first link',
    { timeout: 90_000 },
    async () => {
      const first = start();
      const line = await first.waitForLog(isLink, 45_000, 'the first-run link');
      assert.equal(line.level, 40, 'a warn line');
      assert.equal(line.username, 'siteadmin');
      firstToken = tokenOf(line);
      assert.ok(line.msg.includes(line.enrolUrl), 'the message itself carries the link');
      // And plainly, framed on stderr, whatever the log format: the person starting Keygate must see it.
      const stderr = await first.waitForStderr(/\n-{72}\n\n$/, 10_000, 'the framed first-run block');
      assert.match(stderr, /^-{72}\n {2}Keygate has no admin yet\. Enrol the first admin, "siteadmin", with a security key or passkey:\n\n/m);
      assert.ok(stderr.includes(`\n\n    ${line.enrolUrl}\n\n  The link works once, until `), `no plain link on stderr:\n${stderr}`);
      const lifetime = Date.parse(line.expiresAt) - Date.now();
      assert.ok(lifetime > 23 * 3600_000 && lifetime <= 24 * 3600_000, `expires in ${lifetime} ms, not INVITE_TTL (24h)`);
      assert.equal(first.logs().filter(isLink).length, 1);
      assert.deepEqual(await first.stop(), { code: 0, signal: null }, first.stderr);

      const second = start();
      secondToken = tokenOf(await second.waitForLog(isLink, 45_000, 'the first-run link'));
      assert.notEqual(secondToken, firstToken);

      // Exactly one link is valid: the first start's is gone, the second's works.
      const client = new TestClient(url);
      const old = await client.get(`/-/enroll/${firstToken}`);
      assert.equal(old.status, 410, 'the first link still works');
      const oldOptions = await client.post('/-/api/enroll/options', { token: firstToken });
      assert.equal(oldOptions.status, 410);
      assert.equal(oldOptions.json?.error?.code, 'invite_expired');
      assert.equal((await client.get(`/-/enroll/${secondToken}`)).status, 200);

      const { rows } = await database.db.query(
        `SELECT username, user_id, grants_admin, created_by, expires_at > now() AS valid FROM invites ORDER BY invites.id`,
      );
      assert.deepEqual(rows, [
        { username: 'siteadmin', user_id: null, grants_admin: true, created_by: 'system', valid: false },
        { username: 'siteadmin', user_id: null, grants_admin: true, created_by: 'system', valid: true },
      ]);
      const audit = await database.db.query(`SELECT event, actor, subject_username FROM audit_events ORDER BY audit_events.id`);
      assert.deepEqual(audit.rows, [
        { event: 'invite_created', actor: 'system', subject_username: 'siteadmin' },
        { event: 'invite_created', actor: 'system', subject_username: 'siteadmin' },
      ]);
    },
  );

  test('the link enrols a key for "siteadmin", who becomes an administrator; it works only once', { timeout: 30_000 }, async () => {
    assert.ok(secondToken, 'needs the link from the test before');
    const browser = new TestClient(url);
    const res = await enroll(browser, new SoftwareAuthenticator(), secondToken);
    assert.equal(res.status, 200, res.text);
    const { rows } = await database.db.query(`SELECT username, is_admin, disabled_at FROM users`);
    assert.deepEqual(rows, [{ username: 'siteadmin', is_admin: true, disabled_at: null }]);
    gogs.clear();
    assert.equal((await browser.get('/')).status, 200);
    assert.deepEqual(gogs.last()?.authHeaderValues, ['siteadmin']);

    const again = await new TestClient(url).post('/-/api/enroll/options', { token: secondToken });
    assert.equal(again.status, 410);
    assert.equal(again.json?.error?.code, 'invite_used');
  });

  test('once an admin exists, a restart logs no link and creates no invite', { timeout: 90_000 }, async () => {
    assert.deepEqual(await started[1].stop(), { code: 0, signal: null });
    const third = start();
    await third.waitForLog('keygate listening', 45_000);
    // The first-run check runs right after listening, before the signal handlers are set up: a
    // graceful exit on SIGTERM shows it has run.
    await sleep(1000);
    assert.deepEqual(await third.stop(), { code: 0, signal: null }, third.stderr);
    assert.ok(third.logs().some((l) => l.msg === 'stopped'));
    assert.deepEqual(third.logs().filter(isLink), []);
    assert.doesNotMatch(third.stdout, /\/-\/enroll\//);
    const { rows } = await database.db.query(`SELECT count(*)::int AS n FROM invites`);
    assert.equal(rows[0].n, 2);
  });
});

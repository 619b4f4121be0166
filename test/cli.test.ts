/**
 * The admin CLI as an administrator runs it, against a test database, judged by its stdout, stderr
 * and exit code, and by what it wrote. Commands run in-process through runCli (the program is a
 * thin wrapper around it); one test runs the program itself as a separate process.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { MIGRATIONS_DIR } from '../server/db/migrate.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { jsonLines, limited, runCli, runCliProcess, show, type CliResult } from './support/cli.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { enroll, invite, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const PUBLIC_URL = 'https://git.example.com';

const ENROLL_URL = /^https:\/\/git\.example\.com\/-\/enroll\/([A-Za-z0-9_-]{43})$/;

describe('cli', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let kg: TestKeygate | undefined;
  /** The CLI has its own connections, as when an admin runs it: its session changes reach a running Keygate through NOTIFY, so wait for them. */
  const cli = async (...args: string[]) => {
    const result = await runCli(args, env);
    await kg?.settle();
    return result;
  };
  const keygate = async () => (kg ??= await startKeygate({ database }));

  /** Tokens of the CLI invites, by username. */
  const tokens: Record<string, string> = {};

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    env = { DATABASE_URL: database.url, PUBLIC_URL };
  });
  after(async () => {
    await kg?.close();
    await database?.drop();
  });

  test('migrate applies the schema to an empty database and says which migrations it applied', async () => {
    const r = await cli('migrate');
    assert.equal(r.code, 0, show(r));
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    assert.equal(r.stdout, `Applied: ${files.join(', ')}\n`);
    const { rows } = await database.db.query<{ name: string }>('SELECT name FROM migrations WHERE id > 0 ORDER BY id');
    assert.deepEqual(
      rows.map((x) => x.name),
      files.map((f) => f.replace(/^\d+_|\.sql$/g, '')),
    );
    const session = await database.db.query(`SELECT to_regclass('public.session') AS t`);
    assert.equal(session.rows[0].t, 'session');
  });

  test('invite prints exactly one line, the enrolment URL under PUBLIC_URL, and stores only the token hash', async () => {
    const r = await cli('invite', 'alice');
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 2, `expected one line: ${JSON.stringify(r.stdout)}`);
    assert.equal(lines[1], '');
    const url = lines[0];
    const m = ENROLL_URL.exec(url);
    assert.ok(m, `not an enrolment URL: ${url}`);
    assert.equal(new URL(url).origin, PUBLIC_URL);
    const token = m[1];
    tokens.alice = token;
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    // The human-readable note goes to stderr, so `$(npm run cli -- invite x)` is just the URL.
    assert.match(r.stderr, /alice/);
    assert.doesNotMatch(r.stderr, new RegExp(token));

    const { rows } = await database.db.query(
      `SELECT encode(token_hash, 'hex') AS hash, username, user_id, grants_admin, created_by,
              extract(epoch FROM expires_at - now()) AS ttl_s
         FROM invites`,
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].hash, createHash('sha256').update(token).digest('hex'));
    assert.equal(rows[0].username, 'alice');
    assert.equal(rows[0].user_id, null);
    assert.equal(rows[0].grants_admin, false);
    assert.equal(rows[0].created_by, 'cli');
    // The default INVITE_TTL is 24 hours.
    assert.ok(Math.abs(Number(rows[0].ttl_s) - 24 * 3600) < 120, `ttl ${rows[0].ttl_s}s`);
    const dump = JSON.stringify((await database.db.query('SELECT * FROM invites')).rows);
    assert.ok(!dump.includes(token), 'the token is stored in clear');

    const audit = await database.db.query(`SELECT actor, outcome, subject_username FROM audit_events WHERE event = 'invite_created'`);
    assert.deepEqual(audit.rows, [{ actor: 'cli', outcome: 'success', subject_username: 'alice' }]);
  });

  test('invite --admin --ttl 30m makes an admin invite that expires in 30 minutes', async () => {
    const r = await cli('invite', 'dave', '--admin', '--ttl', '30m');
    assert.equal(r.code, 0, show(r));
    const m = ENROLL_URL.exec(r.stdout.trimEnd());
    assert.ok(m && r.stdout.split('\n').length === 2, show(r));
    tokens.dave = m[1];
    assert.match(r.stderr, /admin/);
    const { rows } = await database.db.query(
      `SELECT grants_admin, extract(epoch FROM expires_at - now()) AS ttl_s, extract(epoch FROM expires_at - created_at) AS life_s
         FROM invites WHERE token_hash = $1`,
      [createHash('sha256').update(m[1]).digest()],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].grants_admin, true);
    assert.equal(Number(rows[0].life_s), 1800);
    assert.ok(Math.abs(Number(rows[0].ttl_s) - 1800) < 60, `expires in ${rows[0].ttl_s}s`);
  });

  test('the printed links enrol at Keygate; the --admin one makes an administrator', async () => {
    const k = await keygate();
    const alice = new TestClient(k.url);
    const aliceKey = new SoftwareAuthenticator();
    const a = await enroll(alice, aliceKey, tokens.alice);
    assert.equal(a.status, 200, a.text);
    const page = await alice.get('/');
    assert.equal(page.status, 200);
    assert.deepEqual(k.gogs.last()?.authHeaderValues, ['alice']);

    const dave = new TestClient(k.url);
    const d = await enroll(dave, new SoftwareAuthenticator(), tokens.dave);
    assert.equal(d.status, 200, d.text);
    const { rows } = await database.db.query(`SELECT username, is_admin FROM users ORDER BY username`);
    assert.deepEqual(rows, [
      { username: 'alice', is_admin: false },
      { username: 'dave', is_admin: true },
    ]);
  });

  describe('bad input', () => {
    const cases: Record<string, { args: string[]; env?: Record<string, string>; stderr: RegExp }> = {
      'an invalid username': { args: ['invite', 'bad name'], stderr: /"bad name" is not a valid Gogs username/ },
      'a name Gogs reserves': { args: ['invite', 'admin'], stderr: /"admin" is a name Gogs reserves/ },
      '--ttl nope': { args: ['invite', 'bob', '--ttl', 'nope'], stderr: /--ttl "nope" is not a duration/ },
      '--ttl shorter than a second': { args: ['invite', 'bob', '--ttl', '500ms'], stderr: /--ttl "500ms"/ },
      '--ttl longer than 30 days': { args: ['invite', 'bob', '--ttl', '31d'], stderr: /30 ?d/ },
      'an unknown option': { args: ['invite', 'bob', '--bogus'], stderr: /--bogus/ },
      'invite without a username': { args: ['invite'], stderr: /invite needs exactly one <username>/ },
      'devices without a username': { args: ['devices'], stderr: /devices needs exactly one <username>/ },
      'revoke without an id': { args: ['revoke'], stderr: /revoke needs exactly one <key-id>/ },
      'revoke of something that is not a credential id': { args: ['revoke', 'not base64!'], stderr: /is not a key id/ },
      'an unknown command': { args: ['frobnicate'], stderr: /Unknown command "frobnicate"[\s\S]*Usage:/ },
      'an invalid configuration': { args: ['users'], env: { PUBLIC_URL: 'ftp://git.example.com' }, stderr: /PUBLIC_URL/ },
    };
    const results: Record<string, CliResult> = {};
    let invitesBefore: number;
    let invitesAfter: number;

    before(async () => {
      invitesBefore = (await database.db.query('SELECT count(*)::int AS n FROM invites')).rows[0].n;
      const names = Object.keys(cases);
      const out = await limited(
        3,
        names.map((name) => () => runCli(cases[name].args, { ...env, ...cases[name].env })),
      );
      names.forEach((name, i) => (results[name] = out[i]));
      invitesAfter = (await database.db.query('SELECT count(*)::int AS n FROM invites')).rows[0].n;
    });

    for (const [name, c] of Object.entries(cases)) {
      test(`${name} (${c.args.join(' ')}) exits non-zero with a clear message on stderr`, () => {
        const r = results[name];
        assert.ok(r.code !== 0 && r.code !== null, show(r));
        assert.match(r.stderr, c.stderr, show(r));
        assert.equal(r.stdout, '', 'nothing on stdout: a script must not take it for a URL');
        assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'a stack trace is not a clear message');
      });
    }

    test('no bad invite was stored', () => {
      assert.equal(invitesAfter, invitesBefore);
    });

    test('help prints the usage and succeeds', async () => {
      const r = await cli('help');
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Usage:[\s\S]*invite <username>[\s\S]*revoke <key-id>/);
    });
  });

  describe('users, devices and revoke', () => {
    let k: TestKeygate;
    let laptopKey: SoftwareAuthenticator;
    let spareKey: SoftwareAuthenticator;
    let first: TestClient;
    let second: TestClient;
    /** Alice's credentials, oldest first: base64url credential id and row id. */
    let creds: Array<{ id: string; credentialId: string }>;

    before(async () => {
      k = await keygate();
      // Besides the key enrolled through the CLI link above, recovery invites give alice a
      // "Laptop" key, signed in on a first browser, and a "Spare" key, signed in on a second.
      first = new TestClient(k.url);
      laptopKey = new SoftwareAuthenticator();
      assert.equal((await enroll(first, laptopKey, await invite(k, 'alice'), { nickname: 'Laptop' })).status, 200);
      second = new TestClient(k.url);
      spareKey = new SoftwareAuthenticator();
      assert.equal((await enroll(second, spareKey, await invite(k, 'alice'), { nickname: 'Spare' })).status, 200);
      const { rows } = await database.db.query<{ id: string; cid: string }>(
        `SELECT c.id::text AS id, encode(c.credential_id, 'base64') AS cid FROM credentials c JOIN users u ON u.id = c.user_id
          WHERE u.username = 'alice' ORDER BY c.created_at, c.id`,
      );
      creds = rows.map((r) => ({ id: r.id, credentialId: Buffer.from(r.cid, 'base64').toString('base64url') }));
      assert.equal(creds.length, 3);
    });

    test('users lists every user with role, state and number of devices', async () => {
      await database.db.query(`INSERT INTO users (username, user_handle, disabled_at) VALUES ('erin', $1, now())`, [randomBytes(32)]);
      const r = await cli('users');
      assert.equal(r.code, 0, show(r));
      const [header, ...lines] = r.stdout.trimEnd().split('\n');
      assert.equal(header, 'USERNAME\tROLE\tSTATE\tDEVICES\tCREATED');
      assert.equal(lines.length, 3, show(r));
      const byName = Object.fromEntries(lines.map((l) => [l.split('\t')[0], l.split('\t')]));
      assert.deepEqual(Object.keys(byName).sort(), ['alice', 'dave', 'erin']);
      assert.deepEqual(byName.alice.slice(1, 4), ['user', 'active', '3']);
      assert.deepEqual(byName.dave.slice(1, 4), ['admin', 'active', '1']);
      assert.deepEqual(byName.erin.slice(1, 4), ['user', 'disabled', '0']);
      for (const fields of lines.map((l) => l.split('\t'))) assert.match(fields[4], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    test('users --json prints one JSON object per user and no header', async () => {
      const r = await cli('users', '--json');
      assert.equal(r.code, 0, show(r));
      const objects = jsonLines(r.stdout);
      assert.deepEqual(
        objects.map((o) => [o.username, o.isAdmin, o.disabledAt === null, o.activeDevices]),
        [
          ['alice', false, true, 3],
          ['dave', true, true, 1],
          ['erin', false, false, 0],
        ],
      );
      for (const o of objects) assert.deepEqual(Object.keys(o).sort(), ['activeDevices', 'createdAt', 'disabledAt', 'isAdmin', 'username']);
    });

    test('devices <username> prints one line per credential, each beginning with its base64url id', async () => {
      const [r, json] = await Promise.all([cli('devices', 'ALICE'), cli('devices', 'alice', '--json')]);
      assert.equal(r.code, 0, show(r));
      const [header, ...lines] = r.stdout.trimEnd().split('\n');
      assert.equal(header, 'CREDENTIAL ID\tNAME\tMODEL\tSTATE\tCREATED\tLAST USED\tREVOKED');
      assert.equal(lines.length, creds.length, show(r));
      assert.deepEqual(
        lines.map((l) => l.split('\t')[0]),
        creds.map((c) => c.credentialId),
      );
      for (const l of lines) assert.match(l.split('\t')[0], /^[A-Za-z0-9_-]+$/);
      assert.match(lines[1], /\tLaptop\tUnknown authenticator \(no AAGUID\)\tactive\t[^\t]+\t[^\t]+\t-$/);
      assert.match(lines[2], /\tSpare\tUnknown authenticator \(no AAGUID\)\tactive\t[^\t]+\t[^\t]+\t-$/);

      // --json: the same credentials, one object per line.
      assert.equal(json.code, 0, show(json));
      const objects = jsonLines(json.stdout);
      assert.deepEqual(
        objects.map((o) => [o.credentialId, o.nickname, o.model, o.revokedAt]),
        creds.map((c, i) => [c.credentialId, lines[i].split('\t')[1], 'Unknown authenticator (no AAGUID)', null]),
      );
    });

    test('devices of an unknown user exits non-zero and says so', async () => {
      const r = await cli('devices', 'nobody');
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /no user named "nobody"/);
      assert.equal(r.stdout, '');
    });

    test("revoke <id> marks the credential revoked, ends that credential's sessions only, and audits it", async () => {
      // Both browsers are signed in as alice, each with its own credential.
      for (const browser of [first, second]) {
        const page = await browser.get('/');
        assert.equal(page.status, 200);
        assert.match(page.text, /Signed in as alice/);
      }
      const target = creds[1]; // "Laptop", used by the first browser
      const auditBefore = (await database.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n;

      const r = await cli('revoke', target.credentialId);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, new RegExp(`^Revoked ${target.credentialId} \\(Laptop\\); ended 1 session\\(s\\)\\n$`));

      const { rows } = await database.db.query<{ id: string; revoked: boolean }>(
        `SELECT id::text AS id, revoked_at IS NOT NULL AS revoked FROM credentials WHERE id = ANY ($1::bigint[]) ORDER BY id`,
        [creds.map((c) => c.id)],
      );
      assert.deepEqual(
        rows.map((x) => [x.id, x.revoked]),
        creds.map((c) => [c.id, c.id === target.id]),
      );

      // The first browser's next page request is sent to sign in; the second one is untouched.
      const gone = await first.get('/alice/repo');
      assert.equal(gone.status, 303);
      assert.match(gone.location ?? '', /^\/-\/login(\?|$)/);
      k.gogs.clear();
      const kept = await second.get('/');
      assert.equal(kept.status, 200);
      assert.deepEqual(k.gogs.last()?.authHeaderValues, ['alice']);

      const audit = await database.db.query(
        `SELECT actor, outcome, subject_user_id::text AS user_id, credential_id::text AS credential_id, details
           FROM audit_events WHERE event = 'credential_revoked'`,
      );
      assert.equal((await database.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n, auditBefore + 1);
      assert.equal(audit.rows.length, 1);
      assert.equal(audit.rows[0].actor, 'cli');
      assert.equal(audit.rows[0].outcome, 'success');
      assert.equal(audit.rows[0].credential_id, target.id);
      assert.equal(audit.rows[0].details.sessionsEnded, 1);
      const owner = await database.db.query(`SELECT id::text AS id FROM users WHERE username = 'alice'`);
      assert.equal(audit.rows[0].user_id, owner.rows[0].id);

      // The revoked key cannot sign in again; the others can.
      const retry = new TestClient(k.url);
      const denied = await signIn(retry, laptopKey);
      assert.notEqual(denied.status, 200, `a revoked credential signed in: ${denied.text}`);
      assert.equal((await retry.get('/')).status, 303);
      const spare = new TestClient(k.url);
      const ok = await signIn(spare, spareKey);
      assert.equal(ok.status, 200, ok.text);

      const listed = await cli('devices', 'alice');
      const line = listed.stdout.split('\n').find((l) => l.startsWith(`${target.credentialId}\t`));
      assert.match(line ?? '', /\trevoked\t.*\t\d{4}-[^\t]+$/);
    });

    test('revoke of an unknown credential id exits non-zero and writes nothing', async () => {
      const auditBefore = (await database.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n;
      const unknown = randomBytes(16).toString('base64url');
      const r = await cli('revoke', unknown);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, new RegExp(`no key with id "${unknown}"`));
      assert.equal(r.stdout, '');
      assert.equal((await database.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n, auditBefore);
    });
  });
});

describe('the CLI program', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url, PUBLIC_URL };
  });
  after(() => database?.drop());

  test('the program itself, in its own process: --help answers, an unknown command exits 2, and an invite prints its URL', async () => {
    const help = await runCliProcess(['--help'], env);
    assert.equal(help.code, 0, show(help));
    assert.match(help.stdout, /^Usage: npm run cli -- <command>/);
    const unknown = await runCliProcess(['frobnicate'], env);
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(unknown.stderr, /keygate: Unknown command "frobnicate"/);
    const invited = await runCliProcess(['invite', 'process-person'], env);
    assert.equal(invited.code, 0, show(invited));
    assert.match(invited.stdout.trim(), ENROLL_URL);
  });
});

/**
 * Gogs' admin API (GOGS_ADMIN_TOKEN): an invite for someone Gogs does not know creates their Gogs
 * account with the given email and a random password; Gogs refusing, or a missing email, stores no
 * invite; without the token Keygate never calls it; the token shows up nowhere. `sync-admins`
 * copies Gogs' site-admin flag (read from Gogs' /admin page as each user: Gogs 0.14's API does not
 * expose it) to Keygate's admins.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../server/log.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { runCli, type CliResult } from './support/cli.js';
import { TestClient } from './support/client.js';
import { enrolledUser } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const OTHER_TOKEN = 'ffffffffffffffffffffffffffffffffffffffff';

type Run = CliResult;

/** The CLI, in-process, with only `env` (test/cli.test.ts runs the real program). */
const cli = (args: string[], env: Record<string, string>): Promise<Run> => runCli(args, env);
const show = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('Gogs admin API', () => {
  let kg: TestKeygate;
  let boss: TestClient;
  const logs: string[] = [];
  /** Everything Keygate said: CLI output and HTTP answers, to prove the token is never in it. */
  const said: string[] = [];
  let env: Record<string, string>;

  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await cli(args, { ...env, ...extra });
    said.push(r.stdout, r.stderr);
    return r;
  };
  const postInvite = async (body: Record<string, unknown>) => {
    const res = await boss.post('/-/api/admin/invites', body);
    said.push(res.text);
    return res;
  };
  const invitesFor = async (username: string) =>
    Number((await kg.db.query<{ n: string }>('SELECT count(*) AS n FROM invites WHERE lower(username) = lower($1)', [username])).rows[0].n);
  const auditOf = async (event: string, subject: string) =>
    (
      await kg.db.query<{ outcome: string; reason: string | null; actor: string; details: Record<string, unknown> }>(
        'SELECT outcome, reason, actor, details FROM audit_events WHERE event = $1 AND subject_username = $2 ORDER BY id',
        [event, subject],
      )
    ).rows;
  const adminCalls = () => kg.gogs.requests.filter((r) => r.url.startsWith('/api/v1/'));

  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    kg = await startKeygate({ env: { GOGS_ADMIN_TOKEN: TOKEN, GOGS_SYNC_ADMINS: 'true', LOG_LEVEL: 'debug' }, log: createLogger('debug', sink) });
    // Gogs' first admin, whose token Keygate holds; "boss" is an admin in both.
    kg.gogs.addUser('root', { admin: true, email: 'root@example.com' });
    kg.gogs.addToken('root', TOKEN);
    kg.gogs.addUser('boss', { admin: true, email: 'boss@example.com' });
    boss = new TestClient(kg.url);
    await enrolledUser(kg, boss, new SoftwareAuthenticator(), 'boss', { admin: true });
    env = { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin, GOGS_URL: kg.gogs.url, GOGS_ADMIN_TOKEN: TOKEN, GOGS_SYNC_ADMINS: 'true' };
  });
  after(() => kg?.close());

  test('an invite from the admin page for someone Gogs does not know creates the account with the email and a random password', async () => {
    kg.gogs.clear();
    const res = await postInvite({ username: 'newbie', email: 'newbie@example.com' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.gogsAccount, 'created');
    const account = kg.gogs.account('newbie');
    assert.ok(account, 'Gogs has the account');
    assert.equal(account.email, 'newbie@example.com');
    assert.equal(account.isAdmin, false);
    assert.ok(account.password.length >= 40, `a long random password, not "${account.password}"`);
    assert.deepEqual(
      { ...account.createdWith, password: '…' },
      {
        source_id: 0,
        login_name: 'newbie',
        username: 'newbie',
        email: 'newbie@example.com',
        password: '…',
        send_notify: false,
      },
    );
    // Looked up first, then created; straight to Gogs with the token and no identity header.
    assert.deepEqual(
      adminCalls().map((r) => `${r.method} ${r.url}`),
      ['GET /api/v1/users/newbie', 'POST /api/v1/admin/users'],
    );
    for (const r of adminCalls()) {
      assert.equal(r.headers.authorization, `token ${TOKEN}`);
      assert.deepEqual(r.authHeaderValues, []);
    }
    assert.equal(await invitesFor('newbie'), 1);
    const [row] = await auditOf('gogs_user_created', 'newbie');
    assert.equal(row.outcome, 'success');
    assert.equal(row.actor, 'user:boss');
    assert.equal(row.details.email, 'newbie@example.com');
    // The password is nowhere but in Gogs.
    const dump = await kg.db.query(`SELECT (SELECT json_agg(a) FROM audit_events a)::text || (SELECT json_agg(i) FROM invites i)::text AS t`);
    assert.ok(!dump.rows[0].t.includes(account.password));
    assert.ok(!res.text.includes(account.password));
  });

  test('the CLI does the same with --email, and never prints the password', async () => {
    const r = await run(['invite', 'carol', '--email', 'carol@example.com']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^http:\/\/localhost:\d+\/-\/enroll\/[A-Za-z0-9_-]{43}\n$/);
    assert.match(r.stderr, /Created carol in Gogs/);
    const account = kg.gogs.account('carol');
    assert.ok(account);
    assert.equal(account.email, 'carol@example.com');
    assert.ok(!r.stdout.includes(account.password) && !r.stderr.includes(account.password));
    assert.notEqual(account.password, kg.gogs.account('newbie')!.password);
    assert.equal((await auditOf('gogs_user_created', 'carol'))[0].actor, 'cli');
  });

  test('an existing Gogs user is not created again, and needs no email', async () => {
    kg.gogs.addUser('Dave', { email: 'dave@example.com' });
    kg.gogs.clear();
    const res = await postInvite({ username: 'dave' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.gogsAccount, 'exists');
    assert.deepEqual(
      adminCalls().map((r) => `${r.method} ${r.url}`),
      ['GET /api/v1/users/dave'],
    );
    assert.equal(kg.gogs.account('dave')!.email, 'dave@example.com');
    assert.deepEqual(await auditOf('gogs_user_created', 'dave'), []);
  });

  test('a missing email for someone Gogs does not know is a clear error, and nothing is stored or created', async () => {
    const res = await postInvite({ username: 'erin' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'invalid_invite');
    assert.match(res.json.error.message, /^Erin does not exist in Gogs yet: give an email address/i);
    const r = await run(['invite', 'erin']);
    assert.equal(r.code, 2, show(r));
    assert.match(
      r.stderr,
      /^keygate: erin does not exist in Gogs yet: give an email address \(--email on the command line\) so Keygate can create the account\n$/,
    );
    assert.equal(r.stdout, '');
    assert.equal(await invitesFor('erin'), 0);
    assert.equal(kg.gogs.account('erin'), undefined);
    // A malformed email never reaches Gogs.
    kg.gogs.clear();
    const bad = await postInvite({ username: 'erin', email: 'not an email' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /is not an email address/);
    assert.deepEqual(adminCalls(), []);
  });

  test('Gogs refusing (422) is a clear error, audited, and no invite is stored', async () => {
    kg.gogs.addUser('frank', { email: 'taken@example.com' });
    const res = await postInvite({ username: 'fred', email: 'taken@example.com' });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.json.error.code, 'gogs_refused');
    assert.equal(res.json.error.message, 'Gogs refused to create the user: email has been used [email: taken@example.com] (HTTP 422).');
    assert.doesNotMatch(res.text, /\bat .+:\d+:\d+|node_modules/);
    const r = await run(['invite', 'fred', '--email', 'taken@example.com']);
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stderr, 'keygate: Gogs refused to create the user: email has been used [email: taken@example.com] (HTTP 422).\n');
    assert.equal(await invitesFor('fred'), 0);
    assert.equal(kg.gogs.account('fred'), undefined);
    const rows = await auditOf('gogs_user_created', 'fred');
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.outcome, 'failure');
      assert.equal(row.reason, 'gogs_refused');
    }
  });

  test('a token Gogs refuses, or a Gogs that does not answer, is a clear error naming the problem, not the token', async () => {
    kg.gogs.addUser('pleb', { email: 'pleb@example.com' });
    kg.gogs.addToken('pleb', OTHER_TOKEN); // a real token, but not a site admin's: Gogs answers 403
    const refused = await run(['invite', 'gina', '--email', 'gina@example.com'], { GOGS_ADMIN_TOKEN: OTHER_TOKEN });
    assert.equal(refused.code, 1, show(refused));
    assert.equal(
      refused.stderr,
      "keygate: Gogs refused Keygate's admin token (HTTP 403): GOGS_ADMIN_TOKEN must be an access token of a Gogs site administrator.\n",
    );
    assert.ok(!refused.stderr.includes(OTHER_TOKEN));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = await run(['invite', 'gina', '--email', 'gina@example.com'], { GOGS_URL: `http://127.0.0.1:${port}` });
    assert.equal(down.code, 1, show(down));
    assert.match(
      down.stderr,
      /^keygate: Gogs did not answer while Keygate was looking up gina \(ECONNREFUSED\)\. Check GOGS_URL and that Gogs is running\.\n$/,
    );
    const malformed = await run(['users'], { GOGS_ADMIN_TOKEN: 'not-a-token' });
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /GOGS_ADMIN_TOKEN: must be a Gogs access token/);
    assert.ok(!malformed.stderr.includes('not-a-token'));
    assert.equal(await invitesFor('gina'), 0);
  });

  test('without GOGS_ADMIN_TOKEN Keygate never calls Gogs: invites are as before', async () => {
    kg.gogs.clear();
    const { GOGS_ADMIN_TOKEN: _unused, ...plain } = env;
    const r = await cli(['invite', 'hugo'], plain);
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /Gogs/);
    assert.deepEqual(kg.gogs.requests, []);
    assert.equal(await invitesFor('hugo'), 1);
    assert.deepEqual(await auditOf('gogs_user_created', 'hugo'), []);
  });

  test('sync-admins sets and clears is_admin from Gogs site admins, audits each change, and leaves unknown users alone', async () => {
    for (const [name, gogsAdmin] of [
      ['hana', true],
      ['ivan', false],
    ] as const) {
      kg.gogs.addUser(name, { admin: gogsAdmin });
      await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), name, { admin: name === 'ivan' });
    }
    await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator(), 'ghost', { admin: true }); // not in Gogs
    kg.gogs.clear();
    const r = await run(['sync-admins']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hana\tnow admin\nivan\tno longer admin\n');
    assert.match(r.stderr, /ghost: skipped, no such user in Gogs/);
    assert.match(r.stderr, /2 changed, 1 unchanged, 1 skipped/);
    const { rows } = await kg.db.query<{ username: string; is_admin: boolean }>('SELECT username, is_admin FROM users ORDER BY username');
    assert.deepEqual(Object.fromEntries(rows.map((u) => [u.username, u.is_admin])), { boss: true, ghost: true, hana: true, ivan: false });
    assert.deepEqual(
      (await auditOf('admin_flag_synced', 'hana')).map((a) => [a.outcome, a.actor, a.details.isAdmin]),
      [['success', 'cli', true]],
    );
    assert.deepEqual(
      (await auditOf('admin_flag_synced', 'ivan')).map((a) => [a.outcome, a.details.isAdmin]),
      [['success', false]],
    );
    assert.deepEqual(await auditOf('admin_flag_synced', 'boss'), []);
    // Gogs was asked as each known user, through the header, without the token; never about ghost.
    const probes = kg.gogs.requests.filter((x) => x.url === '/admin');
    assert.deepEqual(probes.map((p) => p.authHeaderValues).sort(), [['boss'], ['hana'], ['ivan']]);
    for (const p of probes) assert.equal(p.headers.authorization, undefined);
    assert.equal(kg.gogs.account('ghost'), undefined, 'no auto-registration of a user Gogs does not know');
    // A second run changes nothing.
    const again = await run(['sync-admins']);
    assert.equal(again.code, 0, show(again));
    assert.equal(again.stdout, '');
    assert.equal((await auditOf('admin_flag_synced', 'hana')).length, 1);
  });

  test('sync-admins refuses to leave Keygate without an admin, is off unless GOGS_SYNC_ADMINS, and says when Gogs gives no answer', async () => {
    kg.gogs.setSiteAdmin('boss', false);
    kg.gogs.setSiteAdmin('hana', false);
    await kg.db.query(`UPDATE users SET is_admin = false WHERE username = 'ghost'`);
    const none = await run(['sync-admins']);
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /^keygate: Syncing would leave Keygate without an administrator.*Nothing was changed\.\n$/);
    assert.deepEqual(
      (await kg.db.query(`SELECT username FROM users WHERE is_admin ORDER BY username`)).rows.map((u) => u.username),
      ['boss', 'hana'],
    );
    kg.gogs.setSiteAdmin('boss', true);
    kg.gogs.setSiteAdmin('hana', true);

    const off = await run(['sync-admins'], { GOGS_SYNC_ADMINS: 'false' });
    assert.equal(off.code, 2, show(off));
    assert.match(off.stderr, /set GOGS_SYNC_ADMINS=true/);

    // Gogs ignores a header it does not expect (here: another name): /admin redirects to sign-in.
    const unclear = await run(['sync-admins'], { GOGS_AUTH_HEADER: 'X-Not-Trusted' });
    assert.equal(unclear.code, 1, show(unclear));
    assert.match(unclear.stderr, /Gogs did not tell Keygate who its site admins are.*Gogs 0\.14's API does not expose the admin flag/);
  });

  test('the token appears in no log line, answer, CLI output or database row', async () => {
    const dump = await kg.db.query(`SELECT (SELECT json_agg(a) FROM audit_events a)::text || (SELECT json_agg(i) FROM invites i)::text AS t`);
    assert.ok(logs.length > 0, 'something was logged');
    for (const text of [...logs, ...said, dump.rows[0].t]) assert.ok(!text.includes(TOKEN), `the token leaked: ${text.slice(0, 200)}`);
  });
});

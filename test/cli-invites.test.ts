/**
 * The CLI's pending invites (issue 17, item 2): `invites` lists them, `revoke-invite` stops one,
 * `reissue-invite` replaces one with a fresh link; and the CLI's listings and ids (item 10):
 * headers and --json, ids given by a unique prefix, "already revoked" told rather than redone,
 * `audit --event` with an unknown name refused with the known ones. In-process through runCli,
 * against a running Keygate whose enrolment pages show what a revoked link does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AUDIT_EVENTS } from '../server/audit/events.js';
import { auditSince, maxAuditId } from './support/audit.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { jsonLines, runCli, show, type CliResult } from './support/cli.js';
import { TestClient } from './support/client.js';
import { enroll, invite, signedInPerson } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const NO_STACK = /\n\s+at .+:\d+:\d+|node:internal|\.ts:\d+:\d+/;

describe('cli: pending invites, listings and ids', () => {
  let kg: TestKeygate;
  let env: Record<string, string>;
  const cli = async (...args: string[]) => {
    const result = await runCli(args, env);
    await kg.settle();
    return result;
  };
  const tokenOf = (r: CliResult) => {
    const m = new RegExp(`^${kg.url.replace(/[.:/]/g, '\\$&')}/-/enroll/([A-Za-z0-9_-]{43})\\n$`).exec(r.stdout);
    assert.ok(m, `not one enrolment URL on stdout: ${show(r)}`);
    return m[1];
  };
  /** The row id of the newest invite for `username`. */
  const newestInviteId = async (username: string) =>
    (await kg.db.query<{ id: string }>(`SELECT id::text AS id FROM invites WHERE username = $1 ORDER BY id DESC LIMIT 1`, [username])).rows[0].id;
  /** What a refusal must leave as it was. */
  const state = async () => ({
    invites: (await kg.db.query(`SELECT id, username, expires_at, used_at FROM invites ORDER BY id`)).rows,
    credentials: (await kg.db.query(`SELECT id, nickname, revoked_at FROM credentials ORDER BY id`)).rows,
    audit: (await kg.db.query(`SELECT count(*)::int AS n FROM audit_events`)).rows[0].n,
  });
  const assertRefused = (r: CliResult, stderr: RegExp) => {
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.match(r.stderr, /^keygate: /, show(r));
    assert.match(r.stderr, stderr, show(r));
    assert.doesNotMatch(r.stderr, NO_STACK);
  };

  /** Tokens of links made by the CLI, and the ids of the invites by name. */
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  before(async () => {
    kg = await startKeygate();
    env = { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.url };
  });
  after(() => kg?.close());

  test('invites prints a header, then one line per pending invite (id, username, kind, admin, who made it, when, expiry), never a link; --json and --user', async () => {
    const nina = await cli('invite', 'nina', '--admin', '--ttl', '2h');
    tokens.nina = tokenOf(nina);
    ids.nina = await newestInviteId('nina');
    await signedInPerson(kg, 'paula'); // uses an invite: not pending
    const recovery = await cli('invite', 'PAULA');
    tokens.paula = tokenOf(recovery);
    ids.paula = await newestInviteId('paula');
    tokens.used = await invite(kg, 'olga');
    assert.equal((await enroll(new TestClient(kg.url), new SoftwareAuthenticator(), tokens.used)).status, 200);
    ids.used = await newestInviteId('olga');
    tokens.expired = await invite(kg, 'ernst');
    ids.expired = await newestInviteId('ernst');
    await kg.db.query(`UPDATE invites SET expires_at = created_at - interval '1 minute', created_at = created_at - interval '1 hour' WHERE id = $1`, [
      ids.expired,
    ]);

    const [plain, json, one, none] = await Promise.all([
      cli('invites'),
      cli('invites', '--json'),
      cli('invites', '--user', 'NINA'),
      cli('invites', '--user', 'zed'),
    ]);
    assert.equal(plain.code, 0, show(plain));
    const [header, ...lines] = plain.stdout.trimEnd().split('\n');
    assert.equal(header, 'ID\tUSERNAME\tKIND\tADMIN\tCREATED BY\tCREATED\tEXPIRES');
    const rows = lines.map((l) => l.split('\t'));
    // Newest first; the used and the expired invites are not pending.
    assert.deepEqual(
      rows.map((f) => f.slice(0, 5)),
      [
        [ids.paula, 'paula', 'recovery', 'no', 'cli'],
        [ids.nina, 'nina', 'invite', 'yes', 'cli'],
      ],
    );
    const [created, expires] = [Date.parse(rows[1][5]), Date.parse(rows[1][6])];
    assert.equal(expires - created, 2 * 3600_000, 'nina’s invite lasts the 2 hours it was made for');
    for (const token of Object.values(tokens)) {
      assert.ok(!plain.stdout.includes(token) && !json.stdout.includes(token) && !plain.stderr.includes(token), 'a link was printed');
    }

    assert.equal(json.code, 0, show(json));
    const objects = jsonLines(json.stdout);
    assert.deepEqual(objects[1], {
      id: ids.nina,
      username: 'nina',
      grantsAdmin: true,
      recovery: false,
      createdBy: 'cli',
      createdAt: new Date(created).toISOString(),
      expiresAt: new Date(expires).toISOString(),
    });
    assert.equal(objects[0].recovery, true);

    assert.equal(one.code, 0, show(one));
    assert.deepEqual(
      one.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t')[0]),
      ['ID', ids.nina],
    );
    assert.equal(none.code, 0, show(none));
    assert.equal(none.stdout, '', 'no rows, no header');
    assert.equal(none.stderr, 'No pending invites for zed\n');
  });

  test('revoke-invite <id> stops the link at once and audits invite_revoked as the CLI; the link then shows the revoked page (410) and enrols nothing', async () => {
    const since = await maxAuditId(kg);
    const r = await cli('revoke-invite', ids.nina);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `Revoked invite ${ids.nina} for nina; its link no longer works\n`);
    const written = await auditSince(kg, since);
    assert.deepEqual(
      written.map((a) => [a.event, a.outcome, a.actor, a.subject_username, a.details.inviteId, a.details.admin]),
      [['invite_revoked', 'success', 'cli', 'nina', ids.nina, true]],
    );

    const browser = new TestClient(kg.url);
    const page = await browser.get(`/-/enroll/${tokens.nina}`);
    assert.equal(page.status, 410);
    assert.match(page.text, /This invite link was revoked/);
    const options = await browser.post('/-/api/enroll/options', { token: tokens.nina });
    assert.equal(options.status, 410);
    assert.equal(options.json.error.code, 'invite_revoked');
    const users = await kg.db.query(`SELECT count(*)::int AS n FROM users WHERE username = 'nina'`);
    assert.equal(users.rows[0].n, 0, 'nobody was enrolled');
    const listed = await cli('invites');
    assert.ok(!listed.stdout.split('\n').some((l) => l.startsWith(`${ids.nina}\t`)), 'a revoked invite is not pending');
  });

  test('revoking or re-issuing an invite already revoked, used or expired exits 2 and says "already …"; an unknown or malformed id too; nothing changes', async () => {
    const before = await state();
    const cases: Array<[string[], RegExp]> = [
      [
        ['revoke-invite', ids.nina],
        new RegExp(`^keygate: Invite ${ids.nina} for nina was already revoked, on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\. Nothing was changed\\.\\n$`),
      ],
      [['reissue-invite', ids.nina], /Invite \d+ for nina was already revoked/],
      [['revoke-invite', ids.used], new RegExp(`Invite ${ids.used} for olga was already used, on .* UTC\\. Nothing was changed\\.`)],
      [['reissue-invite', ids.used], /for olga was already used/],
      [['revoke-invite', ids.expired], new RegExp(`Invite ${ids.expired} for ernst already expired, on .* UTC\\. Nothing was changed\\.`)],
      [['reissue-invite', ids.expired], /for ernst already expired/],
      [['revoke-invite', '987654321'], /^keygate: There is no invite with id 987654321\n$/],
      [['revoke-invite', 'seven'], /"seven" is not an invite id \(a number, as printed by `invites`\)/],
      [['revoke-invite', '012'], /"012" is not an invite id/],
      [['revoke-invite'], /revoke-invite needs exactly one <invite-id>/],
      [['reissue-invite', ids.paula, '--ttl', '60d'], /--ttl "60d" must be between 1 second and 30 days/],
    ];
    for (const [args, stderr] of cases) assertRefused(await cli(...args), stderr);
    assert.deepEqual(await state(), before);
  });

  test('reissue-invite <id> revokes the invite and prints a new link for the same person and admin flag, lasting as long; both audited; the old link is dead, the new one enrols', async () => {
    const made = await cli('invite', 'quinn', '--admin', '--ttl', '3h');
    const oldToken = tokenOf(made);
    const oldId = await newestInviteId('quinn');
    const since = await maxAuditId(kg);
    const r = await cli('reissue-invite', oldId);
    assert.equal(r.code, 0, show(r));
    const newToken = tokenOf(r);
    assert.notEqual(newToken, oldToken);
    const newId = await newestInviteId('quinn');
    assert.notEqual(newId, oldId);
    assert.match(r.stderr, new RegExp(`^Revoked invite ${oldId}; new invite ${newId} for quinn \\(admin\\), valid until \\S+, single use:\\n$`));
    const { rows } = await kg.db.query(
      `SELECT id::text AS id, grants_admin, created_by, extract(epoch FROM expires_at - created_at)::int AS life_s FROM invites WHERE id = $1`,
      [newId],
    );
    assert.deepEqual(rows[0], { id: newId, grants_admin: true, created_by: 'cli', life_s: 3 * 3600 });

    const written = await auditSince(kg, since);
    assert.deepEqual(
      written.map((a) => [a.event, a.actor, a.subject_username, a.details.inviteId, a.details.reissued ?? null, a.details.replaces ?? null]),
      [
        ['invite_revoked', 'cli', 'quinn', oldId, true, null],
        ['invite_created', 'cli', 'quinn', newId, null, oldId],
      ],
    );

    const browser = new TestClient(kg.url);
    assert.equal((await browser.get(`/-/enroll/${oldToken}`)).status, 410);
    assert.equal((await enroll(browser, new SoftwareAuthenticator(), newToken)).status, 200);
    const user = await kg.db.query(`SELECT is_admin FROM users WHERE username = 'quinn'`);
    assert.deepEqual(user.rows, [{ is_admin: true }]);
  });

  test('two re-issues of one invite at once: one prints a new link, the other is told it was already revoked; exactly one new invite exists', async () => {
    tokenOf(await cli('invite', 'rosa'));
    const id = await newestInviteId('rosa');
    const results = await Promise.all([cli('reissue-invite', id), cli('reissue-invite', id)]);
    const won = results.filter((r) => r.code === 0);
    const lost = results.filter((r) => r.code !== 0);
    assert.equal(won.length, 1, results.map(show).join('\n'));
    tokenOf(won[0]);
    assert.equal(lost.length, 1);
    assertRefused(lost[0], new RegExp(`Invite ${id} for rosa was already revoked`));
    const { rows } = await kg.db.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE expires_at > now())::int AS pending FROM invites WHERE username = 'rosa'`,
    );
    assert.deepEqual(rows[0], { n: 2, pending: 1 });
  });

  test('invite ids by unique prefix (at least 4 digits): a unique one is used, an ambiguous, unknown or short one exits 2 and changes nothing', async () => {
    await kg.db.query(`SELECT setval(pg_get_serial_sequence('invites', 'id'), 123400)`);
    await cli('invite', 'sam');
    await cli('invite', 'tess');
    await kg.db.query(`SELECT setval(pg_get_serial_sequence('invites', 'id'), 567890)`);
    await cli('invite', 'uma');
    assert.deepEqual([await newestInviteId('sam'), await newestInviteId('tess'), await newestInviteId('uma')], ['123401', '123402', '567891']);

    const before = await state();
    assertRefused(await cli('revoke-invite', '1234'), /^keygate: "1234" matches 2 pending invites: 123402 for tess, 123401 for sam; give more of the id\n$/);
    assertRefused(await cli('revoke-invite', '9999'), /^keygate: There is no invite with id 9999\n$/);
    assertRefused(await cli('revoke-invite', '567'), /^keygate: There is no invite with id 567 \(a prefix needs at least 4 characters\)\n$/);
    assert.deepEqual(await state(), before);

    const r = await cli('revoke-invite', '5678');
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'Revoked invite 567891 for uma; its link no longer works\n');
    const reissued = await cli('reissue-invite', '123401');
    assert.equal(reissued.code, 0, show(reissued));
    assert.match(reissued.stderr, /^Revoked invite 123401; new invite \d+ for sam/);
  });

  describe('credential ids', () => {
    let rita: Awaited<ReturnType<typeof signedInPerson>>;
    /** A second credential whose id shares rita's first 4 characters (3 bytes). */
    let twin: string;

    before(async () => {
      rita = await signedInPerson(kg, 'rita', { nickname: 'Laptop' });
      const twinId = Buffer.concat([Buffer.from(rita.credentialId, 'base64url').subarray(0, 3), randomBytes(13)]);
      await kg.db.query(
        `INSERT INTO credentials (credential_id, user_id, public_key, aaguid, device_type, backed_up, attestation_format, nickname)
         SELECT $1, user_id, public_key, aaguid, device_type, backed_up, attestation_format, 'Twin' FROM credentials WHERE credential_id = $2`,
        [twinId, Buffer.from(rita.credentialId, 'base64url')],
      );
      twin = twinId.toString('base64url');
      assert.equal(twin.slice(0, 4), rita.credentialId.slice(0, 4));
    });

    test('an ambiguous, unknown or too short credential id prefix exits 2, says what it matched, and changes nothing', async () => {
      const before = await state();
      const prefix = rita.credentialId.slice(0, 4);
      const ambiguous = await cli('revoke', prefix);
      assertRefused(
        ambiguous,
        new RegExp(`^keygate: "${prefix}" matches 2 keys: ${rita.credentialId} \\(rita's Laptop\\), ${twin} \\(rita's Twin\\); give more of the id\\n$`),
      );
      assertRefused(await cli('rename', prefix, 'Name'), /matches 2 keys/);
      const unknown = `${rita.credentialId.slice(0, 4) === 'ZZZZ' ? 'YYYY' : 'ZZZZ'}zz`;
      assertRefused(await cli('revoke', unknown), new RegExp(`^keygate: There is no key with id "${unknown}"\\n$`));
      const short = rita.credentialId.slice(0, 2);
      assertRefused(await cli('revoke', short), new RegExp(`^keygate: There is no key with id "${short}" \\(a prefix needs at least 4 characters\\)\n$`));
      assertRefused(await cli('revoke', 'not an id!'), /"not an id!" is not a key id/);
      assert.deepEqual(await state(), before);
    });

    test('a unique prefix renames and revokes; revoking a revoked key again exits 2 with "already revoked" and writes nothing', async () => {
      const prefix = rita.credentialId.slice(0, 12);
      const renamed = await cli('rename', prefix, 'Desk key');
      assert.equal(renamed.code, 0, show(renamed));
      assert.equal(renamed.stdout, `Renamed ${rita.credentialId} to "Desk key"\n`);

      const revoked = await cli('revoke', prefix);
      assert.equal(revoked.code, 0, show(revoked));
      assert.equal(revoked.stdout, `Revoked ${rita.credentialId} (Desk key); ended 1 session(s)\n`);
      assert.equal((await rita.client.get('/some/repo')).status, 303, 'its session ended');

      const before = await state();
      for (const id of [prefix, rita.credentialId]) {
        assertRefused(
          await cli('revoke', id),
          new RegExp(
            `^keygate: Credential ${rita.credentialId} \\(rita's Desk key\\) was already revoked, on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; nothing was changed\\n$`,
          ),
        );
      }
      assert.deepEqual(await state(), before, 'no second revocation, no audit row');
    });
  });

  test('audit --event with a name Keygate never writes exits 2 and lists the known events; a known one prints a header and its rows', async () => {
    const r = await cli('audit', '--event', 'invite_deleted');
    assertRefused(r, /^keygate: --event "invite_deleted" is not an event Keygate records; the events are: /);
    for (const event of AUDIT_EVENTS) assert.ok(r.stderr.includes(event), `${event} is not listed`);

    const known = await cli('audit', '--event', 'invite_revoked');
    assert.equal(known.code, 0, show(known));
    const [header, ...lines] = known.stdout.trimEnd().split('\n');
    assert.equal(header, 'TIME\tEVENT\tOUTCOME\tREASON\tACTOR\tUSERNAME\tIP\tREQUEST ID');
    const expected = (await kg.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'invite_revoked'`)).rows[0].n;
    assert.equal(lines.length, expected);
    assert.ok(lines.every((l) => l.split('\t')[1] === 'invite_revoked'));
  });

  test('help lists the invite commands, --json on every listing, and what an id prefix and the exit codes mean', async () => {
    const r = await cli('--help');
    assert.equal(r.code, 0, show(r));
    for (const line of [
      /^ {2}invites \[--user <username>\] \[--json\]/m,
      /^ {2}revoke-invite <invite-id>/m,
      /^ {2}reissue-invite <invite-id> \[--ttl <duration>\]/m,
      /^ {2}users \[--json\]/m,
      /^ {2}devices <username> \[--json\]/m,
      /^ {2}sessions <username> \[--json\]/m,
      /unique prefix of at least\s+4 characters/,
      /2 refused/,
    ]) {
      assert.match(r.stdout, line);
    }
  });
});

/**
 * `npm run cli -- check-gogs` against the real Gogs 0.14.3 (test/support/real-gogs), set up as
 * shipped and then wrong in each way it can see from Keygate's side: each problem named, with the
 * app.ini line (or Keygate setting) to change, and exit status 1; a sound set-up exits 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createOrGetUser } from '../server/users/users.js';
import { runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startRealGogs, type RealGogs } from './support/real-gogs/start.js';

const SOURCE = '127.0.0.3';
const PUBLIC_URL = 'http://localhost:18080';

/** The findings, as `check-gogs --json` prints them, by check. */
async function check(database: TestDatabase, gogs: RealGogs, env: Record<string, string | undefined> = {}) {
  const r = await runCli(['check-gogs', '--json'], {
    DATABASE_URL: database.url,
    GOGS_URL: gogs.url,
    PUBLIC_URL,
    GOGS_ADMIN_TOKEN: gogs.adminToken,
    GOGS_SOURCE_ADDRESS: SOURCE,
    ...env,
  });
  const findings = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { check: string; status: string; detail: string; fix?: string });
  return { code: r.code, stderr: r.stderr, by: new Map(findings.map((f) => [f.check, f])), findings };
}

describe('check-gogs against the real Gogs', () => {
  let database: TestDatabase;
  let good: RealGogs;
  before(async () => {
    database = await createTestDatabase();
    good = await startRealGogs({ publicUrl: PUBLIC_URL, trustedProxyIps: `${SOURCE}/32` });
    await good.createUser('ana');
    await createOrGetUser(database.db, 'ana', randomBytes(32), false);
  });
  after(async () => {
    await good?.stop();
    await database?.drop();
  });

  test('set up as shipped: every check passes (auto-registration is not tried), exit 0', async () => {
    const r = await check(database, good);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.findings.map((f) => `${f.check}: ${f.status}`),
      [
        'reachable: ok',
        'admin token: ok',
        'external URL: ok',
        'identity header: ok',
        'trusted addresses: ok',
        'token is an admin: ok',
        'Gogs accounts: ok',
        'auto-registration: skip',
      ],
    );
    assert.match(r.by.get('identity header')!.detail, /from 127\.0\.0\.3/);
    assert.match(r.stderr, /Gogs is set up as Keygate needs/);
  });

  test("Keygate's PUBLIC_URL is not Gogs' EXTERNAL_URL: named, with the line", async () => {
    const r = await check(database, good, { PUBLIC_URL: 'https://git.example.com' });
    assert.equal(r.code, 1);
    assert.equal(r.by.get('external URL')!.status, 'fail');
    assert.equal(r.by.get('external URL')!.fix, '[server] EXTERNAL_URL = https://git.example.com/');
  });

  test('a token of someone who is not a site administrator: named, with what to do', async () => {
    const password = await good.createUser('plain');
    const res = await fetch(`${good.url}/api/v1/users/plain/tokens`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`plain:${password}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'not-admin' }),
    });
    const token = ((await res.json()) as { sha1: string }).sha1;
    const r = await check(database, good, { GOGS_ADMIN_TOKEN: token });
    assert.equal(r.code, 1);
    assert.equal(r.by.get('token is an admin')!.status, 'fail');
    assert.match(r.by.get('token is an admin')!.detail, /plain is not a Gogs site administrator/);
  });

  test('a refused token, no token, and a Keygate person without a Gogs account', async () => {
    const refused = await check(database, good, { GOGS_ADMIN_TOKEN: 'f'.repeat(40) });
    assert.equal(refused.by.get('admin token')!.status, 'fail');
    const none = await check(database, good, { GOGS_ADMIN_TOKEN: undefined });
    assert.equal(none.by.get('admin token')!.status, 'warn');
    // Without a token nobody is tried: under auto-registration a try could create a Gogs account.
    assert.equal(none.by.get('identity header')!.status, 'skip');
    assert.equal(refused.by.get('identity header')!.status, 'skip');
    await createOrGetUser(database.db, 'ghost', randomBytes(32), false);
    const missing = await check(database, good);
    assert.equal(missing.code, 1);
    assert.equal(missing.by.get('Gogs accounts')!.status, 'fail');
    assert.match(missing.by.get('Gogs accounts')!.detail, /no Gogs account for ghost\b/);
    await database.db.query(`DELETE FROM users WHERE username = 'ghost'`);
  });

  test('Gogs not answering at GOGS_URL: one failure, nothing else tried', async () => {
    const r = await runCli(['check-gogs'], { DATABASE_URL: database.url, GOGS_URL: 'http://127.0.0.1:1', PUBLIC_URL });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL {2}reachable: Gogs does not answer at http:\/\/127\.0\.0\.1:1\/healthcheck/);
    assert.match(r.stdout, /fix: GOGS_URL = where Gogs listens/);
    assert.equal(r.stdout.trim().split('\n').length, 2);
  });

  for (const [what, options, expected] of [
    [
      "TRUSTED_PROXY_IPS wider than Keygate's address",
      { trustedProxyIps: '127.0.0.0/8' },
      { check: 'trusted addresses', fix: '[auth] TRUSTED_PROXY_IPS = 127.0.0.3/32' },
    ],
    [
      'reverse-proxy authentication off',
      { trustedProxyIps: `${SOURCE}/32`, settings: [['auth', 'ENABLE_REVERSE_PROXY_AUTHENTICATION', 'false']] },
      { check: 'identity header', fix: /ENABLE_REVERSE_PROXY_AUTHENTICATION = true/ },
    ],
    [
      'another header than Keygate sends',
      { trustedProxyIps: `${SOURCE}/32`, settings: [['auth', 'REVERSE_PROXY_AUTHENTICATION_HEADER', 'X-REMOTE-USER']] },
      { check: 'identity header', fix: /REVERSE_PROXY_AUTHENTICATION_HEADER = X-WEBAUTH-USER/ },
    ],
    ["not trusting Keygate's address", { trustedProxyIps: '127.0.0.9/32' }, { check: 'identity header', fix: /TRUSTED_PROXY_IPS = 127\.0\.0\.3\/32/ }],
  ] as const) {
    test(`Gogs with ${what}: named, with the app.ini line, exit 1`, async () => {
      const gogs = await startRealGogs({ publicUrl: PUBLIC_URL, ...(options as { trustedProxyIps: string; settings?: Array<[string, string, string]> }) });
      try {
        await gogs.createUser('ana');
        const r = await check(database, gogs);
        assert.equal(r.code, 1, JSON.stringify(r.findings));
        const finding = r.by.get(expected.check)!;
        assert.equal(finding.status, 'fail', JSON.stringify(r.findings));
        if (typeof expected.fix === 'string') assert.equal(finding.fix, expected.fix);
        else assert.match(finding.fix ?? '', expected.fix);
      } finally {
        await gogs.stop();
      }
    });
  }
});

/**
 * People managing their own devices at /-/account, through the real app: the list (model, kind,
 * created, last use with address and browser), renaming and removing (owner only, audited, the
 * removed key's sessions end at once, the last key needs an explicit confirmation). Step-up before
 * these changes is in account-step-up.test.ts.
 *
 * Keygate runs behind a trusted front proxy here (TRUST_PROXY), so each browser's address and each
 * request id are chosen by the test and can be checked exactly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { formatUtc } from '../web/pages/account.js';
import {
  accountHtml,
  addDevice,
  CHROME_120_MAC,
  credentialRow,
  deviceText,
  isSignedIn,
  listedIds,
  MODELS,
  remove,
  rename,
  SAFARI_17_IPHONE,
} from './support/account.js';
import { auditSince, maxAuditId } from './support/audit.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { assertRefused, HeaderClient, lastAudit, signedInPerson, signIn, snapshot } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const NAME_RULE = "A key's name must be 1 to 64 characters.";
const LAST_KEY = 'This is your last key. If you remove it you will need a recovery link from your administrator to get back in.';

describe('the account page: listing, renaming and removing keys', () => {
  let kg: TestKeygate;
  let n = 0;
  before(async () => {
    kg = await startKeygate({ env: { TRUST_PROXY: 'true' } });
  });
  after(() => kg.close());

  /** A browser behind the front proxy, at `ip`, with this User-Agent. */
  const browserAt = (ip: string, userAgent = SAFARI_17_IPHONE) => new HeaderClient(kg.url, kg.url, { 'user-agent': userAgent, 'x-forwarded-for': ip });

  /** A person who has just enrolled `key` in their browser (so they are signed in with it). */
  async function signedInUser(key = new SoftwareAuthenticator(), nickname = 'First key') {
    const username = `acct${++n}`;
    const { client: browser } = await signedInPerson(kg, username, { client: browserAt('203.0.113.10'), key, nickname });
    const { rows } = await kg.db.query('SELECT id::text, user_handle FROM users WHERE username = $1', [username]);
    return {
      username,
      browser,
      key,
      id: key.credentials[0].id,
      userId: rows[0].id as string,
      userHandle: (rows[0].user_handle as Buffer).toString('base64url'),
    };
  }

  test('each key shows its model, its kind, when it was added, and its last use with address and browser', async () => {
    const yubikey = new SoftwareAuthenticator({ aaguid: MODELS.yubikey.aaguid });
    const u = await signedInUser(yubikey, 'Keyring');
    const hello = new SoftwareAuthenticator({ aaguid: MODELS.windowsHello.aaguid, attachment: 'platform' });
    const synced = { attachment: 'platform' as const, transports: ['internal', 'hybrid'], backupEligible: true };
    const apple = new SoftwareAuthenticator({ ...synced, aaguid: MODELS.applePasswords.aaguid, backedUp: true });
    const google = new SoftwareAuthenticator({ ...synced, aaguid: MODELS.googlePasswords.aaguid, backedUp: false });
    const ids = [u.id, await addDevice(u.browser, hello, 'Work PC'), await addDevice(u.browser, apple, 'iPhone'), await addDevice(u.browser, google, 'Pixel')];
    // Windows Hello signs in from Chrome on a Mac, at another address.
    assert.equal((await signIn(browserAt('198.51.100.23', CHROME_120_MAC), hello)).status, 200);

    const html = await accountHtml(u.browser);
    assert.deepEqual(listedIds(html), ids);
    const rows = await Promise.all(ids.map((id) => credentialRow(kg, id)));
    const added = rows.map((r) => `Added ${formatUtc(r.created_at)}`);
    assert.ok(rows[1].last_used_at);
    // Enrolment signed the person in with it: its first use, when it was added.
    assert.equal(rows[0].last_used_at?.getTime(), rows[0].created_at.getTime());
    assert.equal(
      deviceText(html, ids[0]),
      `Keyring (used for this session) YubiKey 5 Series Security key ${added[0]} Last used ${formatUtc(rows[0].created_at)} from 203.0.113.10 (Safari 17 on iOS)`,
    );
    assert.equal(
      deviceText(html, ids[1]),
      `Work PC Windows Hello Built-in authenticator ${added[1]} Last used ${formatUtc(rows[1].last_used_at)} from 198.51.100.23 (Chrome 120 on macOS)`,
    );
    assert.equal(deviceText(html, ids[2]), `iPhone Apple Passwords Synced passkey (backed up) ${added[2]} Last used never`);
    assert.equal(deviceText(html, ids[3]), `Pixel Google Password Manager Synced passkey (backup eligible) ${added[3]} Last used never`);
    assert.equal(html.match(/\(used for this session\)/g)?.length, 1, 'only the key this session signed in with is marked');
    // What the page's script needs for the Signal API.
    assert.match(html, new RegExp(`<main id="app" data-rp-id="localhost" data-user-id="${u.userHandle}" data-username="${u.username}">`));
  });

  describe('renaming', () => {
    test('renames the key, stores the cleaned name, and audits credential_renamed with who, whose, which key, from where', async () => {
      const u = await signedInUser();
      const since = await maxAuditId(kg);
      const res = await u.browser.post(`/-/api/account/devices/${u.id}/rename`, { nickname: '  Office\u0007 key ' }, { 'x-request-id': 'rename-req-1' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { ok: true, nickname: 'Office key' });
      const row = await credentialRow(kg, u.id);
      assert.equal(row.nickname, 'Office key');
      assert.match(deviceText(await accountHtml(u.browser), u.id) ?? '', /^Office key \(used for this session\)/);

      const audit = await auditSince(kg, since);
      assert.equal(audit.length, 1, JSON.stringify(audit));
      const { id: _id, ...rest } = audit[0];
      assert.deepEqual(rest, {
        actor: `user:${u.username}`,
        subject_user_id: u.userId,
        subject_username: u.username,
        credential_id: row.id,
        event: 'credential_renamed',
        outcome: 'success',
        reason: null,
        ip: '203.0.113.10',
        user_agent: SAFARI_17_IPHONE,
        request_id: 'rename-req-1',
        details: { from: 'First key', to: 'Office key' },
      });
    });

    test("another person's key is answered like an unknown one (404), and nothing is written", async () => {
      const alice = await signedInUser();
      const mallory = await signedInUser();
      const before = await snapshot(kg);
      const since = await maxAuditId(kg);
      const unknown = randomBytes(16).toString('base64url');
      for (const id of [alice.id, unknown]) {
        for (const res of [await rename(mallory.browser, id, 'Pwned'), await remove(mallory.browser, id, { confirmLast: true })]) {
          await assertRefused(kg, res, { status: 404, code: 'no_such_credential', message: `There is no credential with id "${id}".` }, before);
        }
      }
      await assertRefused(kg, await rename(mallory.browser, 'not a credential id', 'Pwned'), { status: 404, code: 'no_such_credential' }, before);
      assert.equal((await credentialRow(kg, alice.id)).nickname, 'First key');
      assert.deepEqual(await auditSince(kg, since), []);
      assert.ok(await isSignedIn(alice.browser));
    });

    test('a name that is empty, blank, control characters only, too long or not text is refused with a clear message and no write', async () => {
      const u = await signedInUser();
      const before = await snapshot(kg);
      const since = await maxAuditId(kg);
      for (const nickname of ['', '    ', '\u0001\u0002', 'x'.repeat(65)]) {
        await assertRefused(kg, await rename(u.browser, u.id, nickname), { status: 400, code: 'invalid_name', message: NAME_RULE }, before);
      }
      for (const nickname of [42, undefined, ['a']]) {
        await assertRefused(
          kg,
          await rename(u.browser, u.id, nickname),
          { status: 400, code: 'invalid_request', message: /nickname: the new name must be text/ },
          before,
        );
      }
      assert.equal((await credentialRow(kg, u.id)).nickname, 'First key');
      assert.deepEqual(await auditSince(kg, since), []);
      // 64 characters is allowed.
      assert.equal((await rename(u.browser, u.id, 'y'.repeat(64))).status, 200);
    });

    test('C1 controls (U+009B CSI), bidi overrides and isolates are taken out of a name; letters of any script and emoji joiners stay', async () => {
      const u = await signedInUser();
      const cases: Array<[string, string]> = [
        ['Work\u009b31mkey', 'Work31mkey'],
        ['\u202egnp.exe', 'gnp.exe'],
        ['a\u2066b\u2069c\u200e\u200f\u061c', 'abc'],
        ['line\u2028break', 'linebreak'],
        ['Clé 鍵 👩\u200d💻', 'Clé 鍵 👩\u200d💻'],
      ];
      for (const [typed, stored] of cases) {
        const res = await rename(u.browser, u.id, typed);
        assert.equal(res.status, 200, res.text);
        assert.equal((await credentialRow(kg, u.id)).nickname, stored, JSON.stringify(typed));
      }
      await assertRefused(kg, await rename(u.browser, u.id, '\u009b\u202e'), { status: 400, code: 'invalid_name', message: NAME_RULE }, await snapshot(kg));
    });
  });

  describe('removing', () => {
    test("removing a key ends every session it signed in, at once; the other key's sessions stay; audited credential_removed", async () => {
      const u = await signedInUser();
      const spare = new SoftwareAuthenticator();
      const spareId = await addDevice(u.browser, spare, 'Spare');
      const withSpare = browserAt('198.51.100.40', CHROME_120_MAC);
      const alsoFirst = browserAt('198.51.100.41');
      assert.equal((await signIn(withSpare, spare)).status, 200);
      assert.equal((await signIn(alsoFirst, u.key)).status, 200);
      assert.ok(await isSignedIn(withSpare), 'signed in (and now in the proxy cache)');

      const since = await maxAuditId(kg);
      const res = await u.browser.post(`/-/api/account/devices/${spareId}/remove`, {}, { 'x-request-id': 'remove-req-1' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { ok: true, signedOut: false });

      assert.equal(await isSignedIn(withSpare), false, 'the browser signed in with the removed key lands on /-/login');
      const page = await withSpare.get('/-/account');
      assert.equal(page.status, 303);
      assert.match(page.location ?? '', /^\/-\/login\?return_to=/);
      assert.ok(await isSignedIn(u.browser));
      assert.ok(await isSignedIn(alsoFirst));

      const audit = await auditSince(kg, since);
      assert.equal(audit.length, 1, JSON.stringify(audit));
      assert.deepEqual(
        { ...audit[0], id: undefined },
        {
          id: undefined,
          actor: `user:${u.username}`,
          subject_user_id: u.userId,
          subject_username: u.username,
          credential_id: (await credentialRow(kg, spareId)).id,
          event: 'credential_removed',
          outcome: 'success',
          reason: null,
          ip: '203.0.113.10',
          user_agent: SAFARI_17_IPHONE,
          request_id: 'remove-req-1',
          details: { nickname: 'Spare', sessionsEnded: 1, alreadyRevoked: false },
        },
      );
      assert.deepEqual(listedIds(await accountHtml(u.browser)), [u.id]);
      // The removed key can never sign in again.
      const again = await signIn(new TestClient(kg.url), spare);
      assert.equal(again.json?.error?.code, 'unknown_credential', again.text);
      assert.deepEqual(await lastAudit(kg), { event: 'sign_in', outcome: 'failure', reason: 'revoked_credential' });
    });

    test('the last key is only removed with confirmLast, after a 409 that explains; then the person is signed out', async () => {
      const u = await signedInUser();
      const before = await snapshot(kg);
      const since = await maxAuditId(kg);
      await assertRefused(kg, await remove(u.browser, u.id), { status: 409, code: 'last_device', message: LAST_KEY }, before);
      await assertRefused(kg, await remove(u.browser, u.id, { confirmLast: false }), { status: 409, code: 'last_device', message: LAST_KEY }, before);
      await assertRefused(kg, await remove(u.browser, u.id, { confirmLast: 'yes' }), { status: 400, code: 'invalid_request' }, before);
      assert.deepEqual(await auditSince(kg, since), []);
      assert.ok(await isSignedIn(u.browser));

      const res = await remove(u.browser, u.id, { confirmLast: true });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { ok: true, signedOut: true });
      assert.equal(u.browser.cookies.has(kg.config.sessionCookieName), false, 'the session cookie is cleared');
      assert.equal((await credentialRow(kg, u.id)).revoked, true);
      assert.equal(await isSignedIn(u.browser), false);
      const { rows } = await kg.db.query(`SELECT count(*)::int AS n FROM session WHERE sess -> 'auth' ->> 'userId' = $1`, [u.userId]);
      assert.equal(rows[0].n, 0, 'no session of this person is left');
    });

    test('removing the key this session signed in with signs this browser out, and only this one', async () => {
      const u = await signedInUser();
      const spare = new SoftwareAuthenticator();
      await addDevice(u.browser, spare, 'Spare');
      const withSpare = browserAt('198.51.100.50');
      assert.equal((await signIn(withSpare, spare)).status, 200);
      const replayed = new TestClient(kg.url);
      for (const [k, v] of u.browser.cookies) replayed.cookies.set(k, v);

      const res = await remove(u.browser, u.id);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { ok: true, signedOut: true });
      assert.equal(await isSignedIn(u.browser), false);
      assert.equal(await isSignedIn(replayed), false, 'the old cookie is worth nothing: the session row is gone');
      assert.ok(await isSignedIn(withSpare));
      assert.deepEqual(listedIds(await accountHtml(withSpare)), [spare.credentials[0].id]);
    });
  });
});

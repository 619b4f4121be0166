/**
 * Keygate's pages in the person's language (issue 17, item 11): Accept-Language picks Simplified
 * Chinese or English on real answers from Keygate, and the page says which in `<html lang>`,
 * Content-Language and Vary: its own pages, its error pages and JSON errors, the sign-in page's
 * notice of why a session ended, and the proxy's own pages (Gogs unreachable, "Continue to
 * Gogs?"). Pages and git transfers passed on to Gogs carry neither header: the proxy does not
 * negotiate for them. What the authenticator policy asks for and why it refuses a key, and the
 * admin API's refusals, are said in Chinese too. The catalogues themselves are
 * test/unit/i18n.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { strings } from '../web/i18n/index.js';
import { person, stepUp } from './support/admin.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { HeaderClient, invite, signedInPerson, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const zh = strings('zh-CN');
const en = strings('en');
const ZH = { 'accept-language': 'zh-CN' };

/** The header a browser sends → the language Keygate must answer in. */
const CASES: Array<[string | undefined, 'en' | 'zh-CN']> = [
  ['zh-CN,zh;q=0.9', 'zh-CN'],
  ['zh', 'zh-CN'],
  ['zh-Hans-CN', 'zh-CN'],
  ['en-US', 'en'],
  ['fr', 'en'],
  ['zh-TW', 'en'],
  [undefined, 'en'],
  ['garbage;;;q=x,,', 'en'],
];

const headersFor = (acceptLanguage: string | undefined): Record<string, string> => (acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage });

/** The language an HTML answer says it is in, three ways: they must agree. */
function assertInLanguage(res: ClientResponse, lang: 'en' | 'zh-CN', what: string): void {
  assert.equal(/<html lang="([^"]*)">/.exec(res.text)?.[1], lang, `${what}: <html lang>`);
  assert.equal(res.headers.get('content-language'), lang, `${what}: Content-Language`);
  assert.match(res.headers.get('vary') ?? '', /\bAccept-Language\b/i, `${what}: Vary`);
}

describe('Accept-Language on real answers from Keygate', () => {
  let kg: TestKeygate;
  let down: TestKeygate;
  let strict: TestKeygate;
  before(async () => {
    kg = await startKeygate();
    // Gogs at a port nobody listens on: the proxy answers with its own 502 page, and Gogs' admin
    // API (GOGS_ADMIN_TOKEN) does not answer an invite for someone Gogs may not know.
    down = await startKeygate({ env: { GOGS_URL: 'http://127.0.0.1:9', GOGS_CONNECT_TIMEOUT: '500ms', GOGS_ADMIN_TOKEN: 'a'.repeat(40) } });
    // kg's database under a policy with requirements: security keys only (and user verification, the default).
    strict = await startKeygate({ database: kg.database, upstream: kg.gogs, env: { AUTHENTICATOR_ATTACHMENT: 'cross-platform' } });
  });
  after(async () => {
    await strict?.close();
    await kg?.close();
    await down?.close();
  });

  for (const [header, lang] of CASES) {
    test(`Accept-Language ${JSON.stringify(header ?? null)}: the sign-in page is in ${lang}, and says so in lang, Content-Language and Vary`, async () => {
      const res = await new TestClient(kg.url).get('/-/login', headersFor(header));
      assert.equal(res.status, 200);
      assertInLanguage(res, lang, '/-/login');
      assert.ok(res.text.includes(`<h1>${strings(lang).login.title}</h1>`), 'the heading is the catalogue’s');
      assert.ok(res.text.includes(strings(lang).login.passkeyButton));
    });
  }

  test("Keygate's own 404 page and the sign-out confirmation, in Chinese", async () => {
    const client = new TestClient(kg.url);
    const notFound = await client.get('/-/no-such-page', { 'accept-language': 'zh-CN' });
    assert.equal(notFound.status, 404);
    assertInLanguage(notFound, 'zh-CN', '404');
    assert.ok(notFound.text.includes(zh.errors.notFound) && notFound.text.includes(zh.actions.goToSignIn));
    const logout = await client.get('/-/logout', { 'accept-language': 'zh' });
    assertInLanguage(logout, 'zh-CN', '/-/logout');
    assert.ok(logout.text.includes(zh.logout.button));
  });

  test('an invite link that does not work says so in Chinese, with its status', async () => {
    const res = await new TestClient(kg.url).get(`/-/enroll/${'A'.repeat(43)}`, { 'accept-language': 'zh-CN' });
    assert.equal(res.status, 404);
    assertInLanguage(res, 'zh-CN', 'unknown invite');
    assert.ok(res.text.includes(zh.invite.unknown.title));
  });

  test("a JSON error the page shows is in the browser's language; its code stays the same", async () => {
    const client = new TestClient(kg.url);
    const zhRes = await client.post('/-/api/account/devices/options', {}, { 'accept-language': 'zh-CN,zh;q=0.9' });
    const enRes = await client.post('/-/api/account/devices/options', {}, { 'accept-language': 'zh-TW' });
    assert.equal(zhRes.status, 401);
    assert.deepEqual(zhRes.json, { error: { code: 'unauthorized', message: zh.errors.sessionEnded } });
    assert.deepEqual(enRes.json, { error: { code: 'unauthorized', message: en.errors.sessionEnded } });
    assert.equal(zhRes.headers.get('content-language'), 'zh-CN');
    assert.match(zhRes.headers.get('vary') ?? '', /Accept-Language/);
  });

  test('a body over the limit, refused before Express reads it, is refused in Chinese too', async () => {
    const res = await new TestClient(kg.url).post('/-/api/login/verify', { response: { id: 'A'.repeat(70 * 1024) } }, ZH);
    assert.equal(res.status, 413);
    assert.deepEqual(res.json, { error: { code: 'body_too_large', message: zh.errors.bodyTooLargeAtMost(64) } });
    assert.equal(res.headers.get('content-language'), 'zh-CN');
  });

  test('why a session ended is said on the sign-in page in Chinese', async () => {
    const res = await new TestClient(kg.url).get('/-/login?signed_out', { 'accept-language': 'zh-CN' });
    assert.ok(res.text.includes(zh.sessionEnded.signed_out));
  });

  test('the account and admin pages of a signed-in admin, in Chinese', async () => {
    const admin = await person(kg, 'lang_admin', { admin: true });
    for (const path of ['/-/account', '/-/welcome', '/-/admin', '/-/admin/audit', '/-/admin/policy', '/-/admin/users/lang_admin']) {
      const res = await admin.client.get(path, { 'accept-language': 'zh-CN' });
      assert.equal(res.status, 200, path);
      assertInLanguage(res, 'zh-CN', path);
    }
  });

  test('under a policy with requirements, the enrolment page lists them in Chinese, and a key the policy refuses is refused in Chinese; the code stays the same', async () => {
    const token = await invite(strict, 'lang_enrolling');
    const page = await new TestClient(strict.url).get(`/-/enroll/${token}`, ZH);
    assert.equal(page.status, 200);
    assertInLanguage(page, 'zh-CN', 'enrolment page');
    for (const line of [zh.policy.requiresSecurityKey, zh.policy.requiresUserVerification]) assert.ok(page.text.includes(`<li>${line}</li>`), line);
    assert.ok(!page.text.includes(en.policy.requiresSecurityKey), 'not in English');

    const browser = new HeaderClient(strict.url, strict.origin, ZH);
    const options = await browser.post('/-/api/enroll/options', { token });
    assert.equal(options.status, 200, options.text);
    const builtIn = new SoftwareAuthenticator({ attachment: 'platform' });
    const refused = await browser.post('/-/api/enroll/verify', { token, response: await builtIn.register(options.json, strict.origin) });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.json, { error: { code: 'policy_attachment', message: zh.policy.onlySecurityKeys } });

    // A built-in authenticator enrolled before the policy was tightened: refused at sign-in, in Chinese and in English.
    const enrolled = await signedInPerson(kg, 'lang_built_in', { key: new SoftwareAuthenticator({ attachment: 'platform' }) });
    const zhSignIn = await signIn(new HeaderClient(strict.url, strict.origin, ZH), enrolled.key);
    assert.equal(zhSignIn.status, 403);
    assert.deepEqual(zhSignIn.json, { error: { code: 'policy_attachment', message: zh.policy.noLongerAccepted(zh.policy.onlySecurityKeys) } });
    const enSignIn = await signIn(new HeaderClient(strict.url, strict.origin, { 'accept-language': 'en' }), enrolled.key);
    assert.equal(
      enSignIn.json.error.message,
      'This key is no longer accepted here. This organisation accepts only security keys (such as a YubiKey), not the authenticator built into a computer or phone. Ask your administrator for a recovery link to enrol an allowed key.',
    );
  });

  test("the admin API's refusals in Chinese: a lifetime that is not one, a field its schema refuses, an unknown user, a recovery link for someone disabled; the code stays the same", async () => {
    const admin = await person(kg, 'lang_api_admin', { admin: true });
    await stepUp(admin.client, admin.key);
    const post = (path: string, body: unknown, lang = 'zh-CN') => admin.client.post(path, body, { 'accept-language': lang });
    const refusals: Array<[ClientResponse, number, string, string]> = [
      [await post('/-/api/admin/invites', { username: 'lang_newcomer', ttl: 'soon' }), 400, 'invalid_ttl', zh.adminErrors.notADuration('soon')],
      [await post('/-/api/admin/invites', { username: 'lang_newcomer', ttl: '60d' }), 400, 'invalid_ttl', zh.adminErrors.inviteTtl],
      [await post('/-/api/admin/invites', { username: 'Admin' }), 400, 'invalid_invite', zh.adminErrors.reservedName('Admin')],
      [
        await post('/-/api/admin/invites', { username: '' }),
        400,
        'invalid_request',
        zh.adminErrors.invalidRequestField('username', zh.adminErrors.issues.enterUsername),
      ],
      [await post('/-/api/admin/users/nobody/disable', {}), 404, 'no_such_user', zh.adminErrors.noSuchUser('nobody')],
      [await post('/-/api/admin/users/lang_api_admin/disable', {}), 409, 'cannot_disable_self', zh.adminErrors.cannotDisableSelf],
    ];
    await person(kg, 'lang_dormant');
    assert.equal((await post('/-/api/admin/users/lang_dormant/disable', {})).status, 200);
    refusals.push([await post('/-/api/admin/invites', { username: 'lang_dormant' }), 409, 'user_disabled', zh.adminErrors.recoveryForDisabled('lang_dormant')]);
    for (const [res, status, code, message] of refusals) {
      assert.equal(res.status, status, res.text);
      assert.deepEqual(res.json, { error: { code, message } });
    }
    const inEnglish = await post('/-/api/admin/invites', { username: 'lang_dormant' }, 'en');
    assert.deepEqual(inEnglish.json, {
      error: { code: 'user_disabled', message: 'lang_dormant is disabled, so a recovery link would not work. Enable them first, then send one.' },
    });

    // The admin pages' own refusals of an address.
    const badTime = await admin.client.get('/-/admin/audit?from=yesterday', ZH);
    assert.equal(badTime.status, 400);
    assertInLanguage(badTime, 'zh-CN', 'audit filter');
    assert.ok(badTime.text.includes(zh.adminErrors.fromNotATime), badTime.text);
    const badPage = await admin.client.get('/-/admin?page=abc', ZH);
    assert.equal(badPage.status, 400);
    assert.ok(badPage.text.includes(zh.adminErrors.invalidNamedParameter('page', zh.adminErrors.issues.pageNumber)), badPage.text);
  });

  test("Gogs' admin API not answering an invite, in Chinese", async () => {
    const admin = await person(down, 'lang_gogs_admin', { admin: true });
    await stepUp(admin.client, admin.key);
    const res = await admin.client.post('/-/api/admin/invites', { username: 'lang_new', email: 'new@example.com' }, ZH);
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.error.code, 'gogs_unreachable');
    const [before, after] = zh.adminErrors.gogsUnreachable(zh.adminErrors.gogsLookingUp('lang_new'), '\u0000').split('\u0000');
    assert.ok(res.json.error.message.startsWith(before) && res.json.error.message.endsWith(after), res.json.error.message);
  });

  test('the proxy\'s "Continue to Gogs?" page is in Chinese; a Gogs page passed on carries no Content-Language of Keygate\'s', async () => {
    const p = await person(kg, 'lang_person');
    const confirm = await p.client.get('/lang_person/repo/milestones/3/close', { 'sec-fetch-site': 'cross-site', 'accept-language': 'zh-CN' });
    assert.equal(confirm.status, 200);
    assertInLanguage(confirm, 'zh-CN', 'Continue to Gogs?');
    assert.ok(confirm.text.includes(zh.titles.continueToGogs));
    const gogsPage = await p.client.get('/lang_person/repo', { 'accept-language': 'zh-CN' });
    assert.equal(gogsPage.status, 200);
    assert.equal(gogsPage.headers.get('content-language'), null, 'the proxy hot path does not negotiate');
    assert.doesNotMatch(gogsPage.headers.get('vary') ?? '', /Accept-Language/i);
  });

  test('the 401 page for an account password on git says so in Chinese to a browser that asks for it', async () => {
    const git = '/someone/repo.git/info/refs?service=git-upload-pack';
    const authorization = `Basic ${Buffer.from('bob:hunter2').toString('base64')}`;
    const zhRes = await new TestClient(kg.url).get(git, { authorization, 'accept-language': 'zh-CN' });
    assert.equal(zhRes.status, 401);
    assertInLanguage(zhRes, 'zh-CN', '401');
    assert.ok(zhRes.text.includes(zh.proxy.authorization.password), zhRes.text);
    const enRes = await new TestClient(kg.url).get(git, { authorization });
    assert.ok(enRes.text.includes(en.proxy.authorization.password), 'git clients send no Accept-Language: English');
  });

  test("the proxy's 502 page when Gogs is unreachable, in Chinese and in English", async () => {
    const git = '/someone/repo.git/info/refs?service=git-upload-pack';
    const zhRes = await new TestClient(down.url).get(git, { 'accept-language': 'zh-Hans-CN' });
    assert.equal(zhRes.status, 502);
    assertInLanguage(zhRes, 'zh-CN', '502');
    assert.ok(zhRes.text.includes(zh.titles[502]) && zhRes.text.includes(zh.proxy.gogsUnreachable));
    const enRes = await new TestClient(down.url).get(git, { 'accept-language': 'fr' });
    assertInLanguage(enRes, 'en', '502');
    assert.ok(enRes.text.includes(en.titles[502]));
  });
});

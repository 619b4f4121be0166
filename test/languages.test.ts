/**
 * Keygate's pages in the person's language (issue 17, item 11): Accept-Language picks Simplified
 * Chinese or English on real answers from Keygate, and the page says which in `<html lang>`,
 * Content-Language and Vary: its own pages, its error pages and JSON errors, the sign-in page's
 * notice of why a session ended, and the proxy's own pages (Gogs unreachable, "Continue to
 * Gogs?"). Pages and git transfers passed on to Gogs carry neither header: the proxy does not
 * negotiate for them. The catalogues themselves are test/unit/i18n.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { strings } from '../web/i18n/index.js';
import { person } from './support/admin.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const zh = strings('zh-CN');
const en = strings('en');

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
  before(async () => {
    kg = await startKeygate();
    // Gogs at a port nobody listens on: the proxy answers with its own 502 page.
    down = await startKeygate({ env: { GOGS_URL: 'http://127.0.0.1:9', GOGS_CONNECT_TIMEOUT: '500ms' } });
  });
  after(async () => {
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

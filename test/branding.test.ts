/**
 * The organisation's own name and logo (issue 17, item 9): RP_NAME in every page's header and
 * title, LOGO_FILE beside it (PNG, JPEG, WebP or SVG, read at start-up, served sandboxed so an SVG
 * can run nothing in this origin); the sign-in page says it leads on to Gogs. A bad LOGO_FILE is
 * a start-up error that names it (test/unit/config.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { person } from './support/admin.js';
import { TestClient } from './support/client.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const SVG =
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script><rect width="10" height="10"/></svg>\n';
const HEADER = /<header class="site-header">\n<span class="brand">([\s\S]*?)<\/span>\n<\/header>/;

describe('branding', () => {
  let dir: string;
  let kg: TestKeygate;
  let plain: TestKeygate;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-brand-'));
    await writeFile(path.join(dir, 'logo.svg'), SVG);
    kg = await startKeygate({ env: { RP_NAME: 'Acme Git', LOGO_FILE: path.join(dir, 'logo.svg') } });
    plain = await startKeygate();
  });
  after(async () => {
    await kg?.close();
    await plain?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("every page carries the organisation's name and logo: Keygate's pages, its error pages and the proxy's", async () => {
    const admin = await person(kg, 'brand_admin', { admin: true });
    const anonymous = new TestClient(kg.url);
    const pages = [
      await anonymous.get('/-/login'),
      await anonymous.get('/-/enroll/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
      await anonymous.get('/-/no-such-page'),
      await anonymous.post('/some/repo', {}), // the proxy's own "Sign-in needed" page
      await admin.client.get('/-/account'),
      await admin.client.get('/-/admin'),
      await admin.client.get('/-/admin/audit'),
      await admin.client.get('/-/logout'),
    ];
    for (const page of pages) {
      assert.equal(HEADER.exec(page.text)?.[1], '<img class="brand-logo" src="/-/brand/logo" alt="" width="28" height="28">Acme Git', page.text.slice(0, 300));
      assert.match(page.text, /<title>[^<]+ · Acme Git<\/title>/);
    }
    assert.match(pages[0].text, /<p class="lead">Sign in to Acme Git with your security key or passkey\. No password needed\.<\/p>/);
    assert.match(pages[0].text, /After you sign in, you go on to Gogs, where your repositories are\./);
  });

  test('the logo is served as the image it is, cached, and sandboxed so that an SVG runs nothing here', async () => {
    const res = await fetch(`${kg.url}/-/brand/logo`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    assert.equal(await res.text(), SVG);
  });

  test("without RP_NAME and LOGO_FILE: Keygate's name and its key symbol, and no logo to fetch", async () => {
    const page = await new TestClient(plain.url).get('/-/login');
    assert.match(HEADER.exec(page.text)?.[1] ?? '', /^<svg class="brand-icon"[\s\S]*<\/svg>Keygate$/);
    assert.match(page.text, /<title>Sign in · Keygate<\/title>/);
    assert.equal((await fetch(`${plain.url}/-/brand/logo`)).status, 404);
  });
});

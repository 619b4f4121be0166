/**
 * The way from Gogs to Keygate (issue 17, item 1): deploy/gogs/custom/templates/inject/footer.tmpl,
 * rendered by Go's html/template as Gogs renders its templates, adds "Your keys and sessions" to a
 * signed-in person's menu, after "Your settings", in Chromium; for a visitor it renders nothing.
 * The menu here has the structure of Gogs 0.14.3's (templates/base/head.tmpl: the avatar dropdown
 * `.ui.dropdown.head .menu` with `a.item` links); that real Gogs renders the file on every page is
 * not shown here (the real Gogs cannot be built on this machine, see the closing notes).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../../server/root.js';
import { goCommand } from '../support/goreader.js';
import { openPage, useBrowser } from './support.js';

const run = promisify(execFile);
const TEMPLATE = path.join(ROOT, 'deploy/gogs/custom/templates/inject/footer.tmpl');

async function render(isLogged: boolean): Promise<string> {
  const { stdout } = await run(await goCommand(), ['run', path.join(ROOT, 'test/support/gotemplate/main.go'), TEMPLATE, String(isLogged)], { cwd: ROOT });
  return stdout;
}

/** The signed-in person's menu, shaped as Gogs 0.14.3 draws it. */
const GOGS_MENU = `<div class="ui dropdown head link jump item poping up"><div class="menu">
<div class="ui header">Signed in as <strong>ana</strong></div>
<a class="item" href="/ana">Your profile</a>
<a class="item" href="/user/settings">Your settings</a>
<a class="item" href="https://gogs.io/docs">Help</a>
<form id="logout-form" class="item" action="/user/logout" method="POST"><div class="submit-button">Sign out</div></form>
</div></div>`;

describe("Gogs' custom footer template", () => {
  const browser = useBrowser();

  test('renders with Go; for a signed-in person it adds "Your keys and sessions" under "Your settings", for a visitor nothing', async () => {
    assert.equal((await render(false)).trim(), '');
    const signedIn = await render(true);
    assert.match(signedIn, /<script>[\s\S]*\/-\/account[\s\S]*<\/script>/);

    const p = await openPage(browser());
    try {
      await p.page.setContent(`<!doctype html><html><body>${GOGS_MENU}</body>${signedIn}</html>`);
      const items = await p.page.$$eval('.ui.dropdown.head .menu > .item', (els) =>
        els.map((e) => `${(e.textContent ?? '').trim()} ${e.getAttribute('href') ?? ''}`.trim()),
      );
      assert.deepEqual(items, [
        'Your profile /ana',
        'Your settings /user/settings',
        'Your keys and sessions /-/account',
        'Help https://gogs.io/docs',
        'Sign out',
      ]);
      assert.deepEqual(p.consoleErrors, []);
      // A page without that menu (a visitor's, or a future Gogs) is left as it is, without an error.
      await p.page.setContent(`<!doctype html><html><body><p>Explore</p></body>${signedIn}</html>`);
      assert.equal(await p.page.locator('a[href="/-/account"]').count(), 0);
      assert.deepEqual(p.consoleErrors, []);
    } finally {
      await p.context.close();
    }
  });
});

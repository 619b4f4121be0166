/**
 * Every page (tour.ts), as a person sees it (issue 17, items 5 and 6): at 1280 and at 390 px wide,
 * in the light and the dark colour scheme, no page scrolls sideways; and axe-core, run in the
 * browser on each page in both schemes, finds no violation of WCAG 2.2 A or AA (contrast,
 * names, labels, landmarks, ARIA). Each page also keeps to its CSP and logs no error.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../../server/root.js';
import { strings } from '../../web/i18n/index.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import { assertNoHorizontalOverflow, assertPageHealthy, openPage, useBrowser, type E2ePage } from './support.js';
import { axeViolations, englishLeftOn, lowContrastFields, prepareTour, SCHEMES, show, WIDTHS, type TourPage } from './tour.js';

/** Set by `npm run screenshots`: the folder the pages are also saved into (docs/screenshots). */
const SCREENSHOTS = process.env.KEYGATE_SCREENSHOTS ? path.resolve(ROOT, process.env.KEYGATE_SCREENSHOTS) : undefined;

describe('every page, light and dark, phone and desktop', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  let admin: E2ePage;
  let anonymous: E2ePage;
  let other: E2ePage;
  let tour: TourPage[];
  before(async () => {
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
    kg = await startKeygate();
    [admin, anonymous, other] = await Promise.all([openPage(browser()), openPage(browser()), openPage(browser())]);
    tour = await prepareTour(kg, admin, other);
  });
  after(async () => {
    for (const p of [admin, anonymous, other]) await p?.context.close();
    await kg?.close();
  });

  test('no page scrolls sideways at 1280 or 390 px, in either colour scheme', async () => {
    for (const t of tour) {
      const { page } = t.as === 'admin' ? admin : anonymous;
      for (const scheme of SCHEMES) {
        for (const width of WIDTHS) {
          await show(kg, page, t, width, scheme);
          await assertNoHorizontalOverflow(page, width);
          // npm run screenshots: the same pages, as checked, for reviewers to look at.
          if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${t.name}-${width}-${scheme}.png`), fullPage: true });
        }
      }
    }
    assertPageHealthy(admin);
  });

  test('axe-core finds no WCAG 2.2 A or AA violation on any page, light or dark', async () => {
    const found: string[] = [];
    for (const t of tour) {
      const { page } = t.as === 'admin' ? admin : anonymous;
      for (const scheme of SCHEMES) {
        await show(kg, page, t, WIDTHS[0], scheme);
        for (const v of await axeViolations(page)) found.push(`${t.name} (${scheme}): ${v}`);
        for (const v of await lowContrastFields(page)) found.push(`${t.name} (${scheme}): non-text contrast (WCAG 1.4.11): ${v}`);
      }
    }
    assert.deepEqual(found, []);
  });

  describe('in Simplified Chinese (Accept-Language: zh-CN)', () => {
    const ZH = { 'Accept-Language': 'zh-CN,zh;q=0.9' };
    before(async () => {
      for (const p of [admin, anonymous]) await p.page.setExtraHTTPHeaders(ZH);
    });
    after(async () => {
      for (const p of [admin, anonymous]) await p?.page.setExtraHTTPHeaders({});
    });

    test('every page is in Chinese (<html lang="zh-CN">, Chinese text), does not scroll sideways at 1280 or 390 px, and axe-core finds no WCAG 2.2 A or AA violation', async () => {
      const found: string[] = [];
      for (const t of tour) {
        const { page } = t.as === 'admin' ? admin : anonymous;
        for (const width of WIDTHS) {
          await show(kg, page, t, width, 'light');
          await assertNoHorizontalOverflow(page, width);
        }
        assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN', t.name);
        assert.match(await page.locator('main').innerText(), /[\u4e00-\u9fff]{2}/, `${t.name} shows Chinese text`);
        for (const v of await axeViolations(page)) found.push(`${t.name} (zh-CN): ${v}`);
      }
      assert.deepEqual(found, []);
      assertPageHealthy(admin);
    });

    test('no English sentence of the catalogue is left on any page in Chinese (product names and people’s data aside)', async () => {
      const found: string[] = [];
      for (const t of tour) {
        const { page } = t.as === 'admin' ? admin : anonymous;
        await show(kg, page, t, WIDTHS[0], 'light');
        for (const left of await englishLeftOn(page)) found.push(`${t.name}: “${left}”`);
      }
      assert.deepEqual(found, []);
    });

    test('a message the browser script shows is in Chinese too: the username form asks for a username in Chinese', async () => {
      const { page } = anonymous;
      await show(kg, page, tour[0], WIDTHS[0], 'light');
      await page.click('#username-button');
      assert.equal(await page.locator('#message').innerText(), strings('zh-CN').client.enterUsername);
    });
  });

  test('the checks can fail: a field without a label and a faint border, planted in a page, are both reported', async () => {
    const { page } = anonymous;
    await show(kg, page, tour[0], WIDTHS[0], 'light');
    await page.evaluate(() => {
      const input = document.createElement('input');
      input.id = 'planted';
      input.type = 'text';
      // Through the CSSOM: the CSP refuses style attributes.
      input.style.borderColor = '#eeeeee';
      document.querySelector('main')?.append(input);
    });
    assert.ok((await axeViolations(page)).some((v) => v.startsWith('label:') && v.includes('#planted')));
    assert.deepEqual(await lowContrastFields(page), ['#planted: border rgb(238, 238, 238) is 1.16:1']);
  });
});

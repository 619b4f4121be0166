/**
 * Every page Keygate shows, with the state that fills it: an admin with a key and a session, a
 * second person, a pending invite, audit rows. The page-by-page checks (pages.test.ts: layout at
 * 1280 and 390 px, light and dark, and axe-core's WCAG 2.2 AA rules) and `npm run screenshots`
 * walk the same list, so the pictures reviewers look at are the pages the tests checked.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { strings } from '../../web/i18n/index.js';
import { invite } from '../support/flows.js';
import type { TestKeygate } from '../support/keygate.js';
import { PLATFORM_PASSKEY, type E2ePage, continueFromWelcome } from './support.js';

export interface TourPage {
  /** File-name stem: docs/screenshots/<name>-<width>-<scheme>.png. */
  name: string;
  path: string;
  /** Who looks at it: nobody signed in, or the admin. */
  as: 'anonymous' | 'admin';
  /** Something on the page once it is ready. */
  ready: string;
}

export const ADMIN = 'ada_admin';
export const PERSON = 'pat_person';

export const WIDTHS = [1280, 390] as const;
export const SCHEMES = ['light', 'dark'] as const;

/**
 * Enrols the admin in `admin` (a platform passkey), enrols a second person through another
 * context's page, and leaves a pending invite: the state the pages show. Returns the tour.
 */
export async function prepareTour(kg: TestKeygate, admin: E2ePage, other: E2ePage): Promise<TourPage[]> {
  await admin.addAuthenticator(PLATFORM_PASSKEY);
  await enrol(kg, admin, ADMIN, true);
  await other.addAuthenticator(PLATFORM_PASSKEY);
  await enrol(kg, other, PERSON, false);
  const pending = await invite(kg, 'newcomer_with_a_long_username');
  return [
    { name: 'sign-in', path: '/-/login', as: 'anonymous', ready: '#passkey-button' },
    { name: 'signed-out', path: '/-/login?signed_out', as: 'anonymous', ready: '.notice' },
    { name: 'enrol', path: `/-/enroll/${pending}`, as: 'anonymous', ready: '#enroll-button' },
    { name: 'enrol-used-link', path: `/-/enroll/${'A'.repeat(43)}`, as: 'anonymous', ready: 'h1' },
    { name: 'not-found', path: '/-/no-such-page', as: 'anonymous', ready: 'h1' },
    { name: 'welcome', path: '/-/welcome', as: 'admin', ready: '#continue' },
    { name: 'account', path: '/-/account?added', as: 'admin', ready: '#session-list' },
    { name: 'sign-out', path: '/-/logout', as: 'admin', ready: 'h1' },
    { name: 'admin-users', path: '/-/admin', as: 'admin', ready: '#user-list' },
    { name: 'admin-user', path: `/-/admin/users/${PERSON}`, as: 'admin', ready: '#credential-list' },
    { name: 'admin-audit', path: '/-/admin/audit', as: 'admin', ready: 'table' },
    { name: 'admin-policy', path: '/-/admin/policy', as: 'admin', ready: 'h1' },
  ];
}

async function enrol(kg: TestKeygate, p: E2ePage, username: string, admin: boolean): Promise<void> {
  await p.page.bringToFront(); // browsers refuse WebAuthn in a tab that is not in front
  await p.page.goto(`${kg.url}/-/enroll/${await invite(kg, username, { admin })}`);
  await p.page.click('#enroll-button');
  await continueFromWelcome(p.page);
  await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));
}

/** Opens a tour page at a width and colour scheme, and waits until it is ready. */
export async function show(kg: TestKeygate, page: Page, t: TourPage, width: number, scheme: (typeof SCHEMES)[number]): Promise<void> {
  await page.setViewportSize({ width, height: width > 600 ? 900 : 844 });
  await page.emulateMedia({ colorScheme: scheme });
  await page.goto(`${kg.url}${t.path}`);
  await page.locator(t.ready).first().waitFor();
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's findings on the page against WCAG 2.0, 2.1 and 2.2 A and AA, as readable lines. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through DevTools, so the page's CSP (no inline or eval'd script) does not apply.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: Document, opts: object): Promise<{ violations: Array<{ id: string; help: string; nodes: Array<{ target: string[] }> }> }> };
      }
    ).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return result.violations.map((v) => ({ id: v.id, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.map((v) => `${v.id}: ${v.help} (${v.targets.slice(0, 5).join(', ')})`);
}

/**
 * WCAG 1.4.11 (non-text contrast), which axe-core does not check: the border that shows where
 * each visible text field, select and checkbox is must have a contrast of at least 3:1 against
 * the background behind it. Returns the fields below that, as readable lines.
 */
export async function lowContrastFields(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (css: string): [number, number, number, number] => {
      const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(css);
      return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : [0, 0, 0, 0];
    };
    const luminance = ([r, g, b]: number[]) => {
      const c = [r, g, b].map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (el: Element | null): [number, number, number, number] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c[3] > 0.5) return c;
      }
      return [255, 255, 255, 1];
    };
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('input:not([type=hidden]), select, textarea')) {
      if (el.offsetParent === null) continue;
      const style = getComputedStyle(el);
      const border = rgb(style.borderTopColor);
      if (Number.parseFloat(style.borderTopWidth) === 0 || border[3] === 0) continue;
      const [a, b] = [luminance(border), luminance(background(el.parentElement))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 3) out.push(`#${el.id || el.getAttribute('name') || el.tagName}: border ${style.borderTopColor} is ${ratio.toFixed(2)}:1`);
    }
    return out;
  });
}

type Entry = string | ((...args: never[]) => string) | { [key: string]: Entry };

/**
 * The English catalogue's text, cut at its placeholders into the pieces a page shows verbatim;
 * only pieces with a word of three letters or more, and none that the Chinese catalogue also has
 * (product names, "UTC", "Keygate (…)").
 */
function englishPieces(): string[] {
  const chinese = JSON.stringify(textsOf(strings('zh-CN')));
  return [...new Set(textsOf(strings('en') as unknown as Entry).flatMap((text) => text.split(/\s*\u241f\d+\u241f\s*/)))]
    .map((piece) => piece.trim())
    .filter((piece) => /[A-Za-z]{3}/.test(piece) && piece.length >= 4 && !chinese.includes(piece));
}

/** Every text of a catalogue, sentences with their placeholders as ␟0␟, ␟1␟… */
function textsOf(node: Entry): string[] {
  if (typeof node === 'string') return [node];
  if (typeof node === 'function') {
    const f = node as (...args: string[]) => string;
    return [f(...Array.from({ length: f.length }, (_, i) => `\u241f${i}\u241f`))];
  }
  return Object.values(node).flatMap(textsOf);
}

const ENGLISH = englishPieces();

/**
 * English left on a page shown in Chinese: each piece of the English catalogue found in the text
 * a person sees, or in a label a screen reader says (aria-label, placeholder, title, alt).
 */
export async function englishLeftOn(page: Page): Promise<string[]> {
  const seen = await page.evaluate(() =>
    [
      document.title,
      document.body.innerText,
      ...[...document.querySelectorAll('[aria-label], [placeholder], [title], [alt]')].flatMap((el) =>
        ['aria-label', 'placeholder', 'title', 'alt'].map((a) => el.getAttribute(a) ?? ''),
      ),
    ].join('\n'),
  );
  // As words: "with" in a username such as newcomer_with_a_long_username is not English left over.
  const escape = (piece: string) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return ENGLISH.filter((piece) => new RegExp(`(?<![\\w])${escape(piece)}(?![\\w])`).test(seen));
}

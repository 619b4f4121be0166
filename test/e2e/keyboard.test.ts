/**
 * The person's journeys with the keyboard alone (issue 17, item 6; WCAG 2.1.1 Keyboard and 2.4.7
 * Focus Visible): enrolment from the invite link, signing out, signing in with a passkey, adding
 * a second key, and removing it. Every step is reached with Tab and done with Enter or typing;
 * nothing is clicked, and every control that takes focus shows it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { invite } from '../support/flows.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import { assertPageHealthy, PLATFORM_PASSKEY, useBrowser, waitForAutofillArmed, withPage } from './support.js';

const USB_PASSKEY = { transport: 'usb', hasResidentKey: true, hasUserVerification: true } as const;

/**
 * Presses Tab until the focused element matches `selector` (at most `max` times, from wherever
 * focus is), and checks the focus can be seen: an outline or a ring drawn by the page's CSS.
 */
async function tabTo(page: Page, selector: string, max = 30): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) {
      const visible = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement!);
        return (style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
      });
      assert.ok(visible, `${selector} has focus but shows no focus indicator`);
      return;
    }
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120) ?? '(nothing)');
  assert.fail(`${selector} was not reached with ${max} presses of Tab on ${page.url()} (focus is on ${at})`);
}

describe('keyboard only', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  test('enrol, sign out, sign in with a passkey, add a second key and remove it, with Tab, typing and Enter alone', async () => {
    await withPage(browser(), { name: 'keyboard' }, async (p) => {
      const { page } = p;
      const laptop = await p.addAuthenticator(PLATFORM_PASSKEY);

      // Enrolment: name the key, then the enrol button.
      await page.goto(`${kg.url}/-/enroll/${await invite(kg, 'kim')}`);
      await tabTo(page, '#nickname');
      await page.keyboard.type('Laptop');
      await tabTo(page, '#enroll-button', 3);
      await page.keyboard.press('Enter');
      // The next steps, then on to Gogs: the Continue button.
      await page.waitForURL((u) => u.pathname === '/-/welcome');
      await tabTo(page, '#continue', 10);
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
      await page.getByText('Signed in as kim').waitFor();

      // Sign out from the account page (passkey autofill on the sign-in page left unanswered).
      await laptop.setAutomaticPresenceSimulation(false);
      await page.goto(`${kg.url}/-/account`);
      await tabTo(page, '#logout-form button[type=submit]', 40);
      await page.keyboard.press('Enter');
      await page.waitForURL(`${kg.url}/-/login?signed_out`);
      await waitForAutofillArmed(page);
      await laptop.setAutomaticPresenceSimulation(true);

      // Sign in: the passkey button, first in the page's order. (On this same page: the autofill
      // request it already made stays unanswered, where a new page's would be answered at once.)
      await tabTo(page, '#passkey-button', 3);
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
      await page.getByText('Signed in as kim').waitFor();

      // A second key, from a USB security key (the laptop's authenticator set aside so that only it answers).
      await laptop.remove();
      const usb = await p.addAuthenticator(USB_PASSKEY);
      await page.goto(`${kg.url}/-/account`);
      await tabTo(page, '#nickname');
      await page.keyboard.type('Spare key');
      await tabTo(page, '#add-device-button', 3);
      await page.keyboard.press('Enter');
      await page.locator('#device-list li[data-credential-id]').nth(1).waitFor();
      assert.equal((await usb.credentials()).length, 1);

      // Removing it: its Remove button, then the confirmation, which takes the focus.
      const spare = page.locator('#device-list li[data-credential-id]', { hasText: 'Spare key' });
      const spareId = await spare.getAttribute('data-credential-id');
      await tabTo(page, `li[data-credential-id="${spareId}"] .remove-button`, 40);
      await page.keyboard.press('Enter');
      assert.ok(await page.evaluate((id) => document.activeElement?.matches(`li[data-credential-id="${id}"] .remove-confirm-button`), spareId));
      await page.keyboard.press('Enter');
      await page.locator('#message.message-success', { hasText: 'Removed “Spare key”. It can no longer sign in.' }).waitFor();
      assert.equal(await page.locator('#device-list li[data-credential-id]').count(), 1);
      assertPageHealthy(p);
    });
  });
});

/**
 * The admin area in a real browser: an admin revokes one of a person's two keys by clicking through
 * /-/admin and confirming with their own key (step-up); that key's browser is sent to sign in at its
 * next navigation while the other browser stays signed in. An invite link is shown once, with a
 * copy button. Pending invites are listed, revoked and re-issued from /-/admin.
 *
 * STEP_UP_MAX_AGE is 1 s here, so every admin click needs the step-up ceremony.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { invite } from '../support/flows.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import { SESSION_END_MESSAGES } from '../../server/session/end-reasons.js';
import { ageStepUpInBrowser } from '../support/age.js';
import {
  assertNoHorizontalOverflow,
  assertPageHealthy,
  PHONE,
  screenshotPath,
  PLATFORM_PASSKEY,
  USB_KEY_NO_RESIDENT,
  useBrowser,
  withPage,
  type E2ePage,
  continueFromWelcome,
} from './support.js';

/** DevTools reports credential ids in base64; Keygate's pages use base64url. */
const base64url = (base64: string) => Buffer.from(base64, 'base64').toString('base64url');

/**
 * Answers the page's confirmation dialog (not the browser's confirm()): checks it is a modal
 * dialog whose button names the action, with the focus on Cancel; returns its question.
 */
async function confirmInDialog(page: Page, verb: string): Promise<string> {
  const dialog = page.locator('dialog.confirm-dialog[open]');
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'confirm-no', 'Cancel has the focus');
  assert.equal(await dialog.locator('#confirm-yes').innerText(), verb);
  const question = await dialog.locator('#confirm-question').innerText();
  await dialog.locator('#confirm-yes').click();
  return question;
}

describe('admin area in a real browser', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { STEP_UP_MAX_AGE: '1s' } });
  });
  after(() => kg?.close());

  /** Opens an invite link in this context and registers its authenticator; ends on Gogs as `username`. */
  async function enrollFromInvite(p: E2ePage, token: string, username: string): Promise<void> {
    await p.page.bringToFront(); // browsers refuse WebAuthn in a tab that is not in front
    await p.page.goto(`${kg.url}/-/enroll/${token}`);
    await p.page.click('#enroll-button');
    await continueFromWelcome(p.page);
    await expectGogsAs(p.page, username);
  }

  async function expectGogsAs(page: Page, username: string): Promise<void> {
    await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
    await page.getByText(`Signed in as ${username}`).first().waitFor();
  }

  async function stepUpsOf(admin: string): Promise<number> {
    const { rows } = await kg.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'step_up_passed' AND actor = $1`, [`user:${admin}`]);
    return rows[0].n;
  }

  test('an admin revokes one of two keys through /-/admin; that browser lands on sign-in, the other stays signed in', async () => {
    await withPage(browser(), { name: 'admin-revoke-laptop' }, async (laptop) => {
      await withPage(browser(), { name: 'admin-revoke-phone' }, async (phone) => {
        await withPage(browser(), { name: 'admin-revoke-admin' }, async (admin) => {
          const laptopKey = await laptop.addAuthenticator(PLATFORM_PASSKEY);
          await enrollFromInvite(laptop, await invite(kg, 'lena'), 'lena');
          await phone.addAuthenticator(USB_KEY_NO_RESIDENT);
          await enrollFromInvite(phone, await invite(kg, 'lena'), 'lena'); // a recovery link: a second key
          await admin.addAuthenticator(PLATFORM_PASSKEY);
          await enrollFromInvite(admin, await invite(kg, 'root', { admin: true }), 'root');
          await ageStepUpInBrowser(kg, admin.context); // the admin's sign-in no longer counts as a fresh step-up

          await admin.page.goto(`${kg.url}/-/admin`);
          await admin.page.click('#user-list a[href="/-/admin/users/lena"]');
          await admin.page.waitForURL(`${kg.url}/-/admin/users/lena`);
          const keys = admin.page.locator('#credential-list li[data-credential-id]');
          assert.equal(await keys.count(), 2);
          assert.equal(await admin.page.locator('#session-list li').count(), 2);

          const [laptopCredential] = await laptopKey.credentials();
          const laptopId = base64url(laptopCredential.credentialId);
          const questions: string[] = [];
          const stepUpsBefore = await stepUpsOf('root');
          await admin.page.click(`button[data-action="revoke"][data-credential-id="${laptopId}"]`);
          questions.push(await confirmInDialog(admin.page, 'Revoke key'));
          await admin.page.locator('#message.message-success', { hasText: 'Key revoked; 1 session ended.' }).waitFor();
          assert.match(questions[0] ?? '', /^Revoke lena's key “.*”\? It can never sign in again/);
          assert.equal(await stepUpsOf('root'), stepUpsBefore + 1, 'the admin confirmed with their key');
          assert.match(await admin.page.locator(`li[data-credential-id="${laptopId}"]`).innerText(), /Revoked \d{4}-/);
          assert.equal(await admin.page.locator('#session-list li').count(), 1);

          await laptop.page.goto(`${kg.url}/lena/repo`);
          assert.equal(new URL(laptop.page.url()).pathname, '/-/login', 'the revoked key’s browser must sign in again');
          assert.equal((await laptop.page.locator('.notice[role="status"]').innerText()).trim(), SESSION_END_MESSAGES.credential_revoked, 'and is told why');
          await phone.page.goto(`${kg.url}/lena/repo`);
          await expectGogsAs(phone.page, 'lena');
          assertPageHealthy(admin);
        });
      });
    });
  });

  test('an invite link is shown once, with a copy button (and a selected-text fallback)', async () => {
    await withPage(browser(), { name: 'admin-invite' }, async (admin) => {
      await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kg.url });
      await admin.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(admin, await invite(kg, 'chief', { admin: true }), 'chief');
      await ageStepUpInBrowser(kg, admin.context);

      await admin.page.goto(`${kg.url}/-/admin`);
      await admin.page.fill('#invite-username', 'mira');
      await admin.page.click('#invite-button');
      await admin.page.locator('#invite-result').waitFor({ state: 'visible' });
      const url = await admin.page.inputValue('#invite-url');
      const token = url.match(/\/-\/enroll\/([A-Za-z0-9_-]{43})$/)?.[1];
      assert.ok(url.startsWith(`${kg.origin}/-/enroll/`) && token, url);
      assert.match(await admin.page.locator('#invite-summary').innerText(), /^Invite link for mira\. It works once, until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/);

      await admin.page.click('#copy-invite');
      await admin.page.locator('#message.message-success', { hasText: 'Link copied.' }).waitFor();
      assert.equal(await admin.page.evaluate(() => navigator.clipboard.readText()), url);

      // Without the Clipboard API the link is selected for the person to copy.
      await admin.page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }));
      await admin.page.click('#copy-invite');
      await admin.page.locator('#message', { hasText: 'press Ctrl+C' }).waitFor();
      const selected = await admin.page.evaluate(() => {
        const input = document.activeElement as HTMLInputElement;
        return input.id === 'invite-url' && input.value.slice(input.selectionStart ?? 0, input.selectionEnd ?? 0);
      });
      assert.equal(selected, url);

      // Shown once: after a reload (or on any other admin page) it is gone.
      await admin.page.reload();
      assert.equal(await admin.page.locator('#invite-result').isVisible(), false);
      for (const path of ['/-/admin', '/-/admin/audit']) {
        await admin.page.goto(`${kg.url}${path}`);
        assert.ok(!(await admin.page.content()).includes(token), `${path} does not show the link`);
      }
      assertPageHealthy(admin);

      // And the link works.
      await withPage(browser(), { name: 'admin-invitee' }, async (invitee) => {
        await invitee.addAuthenticator(PLATFORM_PASSKEY);
        await enrollFromInvite(invitee, token, 'mira');
      });
    });
  });

  test('pending invites on /-/admin: listed with who made them and when they expire; one revoked, one re-issued with its new link shown once', async () => {
    await withPage(browser(), { name: 'admin-pending' }, async (admin) => {
      await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kg.url });
      await admin.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(admin, await invite(kg, 'warden', { admin: true }), 'warden');
      const piaToken = await invite(kg, 'pia');
      const rexToken = await invite(kg, 'rex', { admin: true });
      await ageStepUpInBrowser(kg, admin.context);
      const enrolStatus = async (token: string) => (await fetch(`${kg.url}/-/enroll/${token}`)).status;
      const questions: string[] = [];

      await admin.page.goto(`${kg.url}/-/admin`);
      const row = (name: string) => admin.page.locator(`#pending-invites tr[data-username="${name}"]`);
      assert.equal(await row('pia').count(), 1);
      assert.match(
        await row('rex').innerText(),
        /^rex\s+Invite\s+Admin\s+test\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+Re-issue\s+Revoke$/,
      );
      const oldRexId = await row('rex').getAttribute('data-invite-id');

      // Revoke: the row goes, after the admin confirms with their key; the link is dead.
      const stepUps = await stepUpsOf('warden');
      // Escape, or Cancel, does nothing.
      await row('pia').locator('button[data-action="revoke-invite"]').click();
      await admin.page.locator('dialog.confirm-dialog[open]').waitFor();
      await admin.page.keyboard.press('Escape');
      await admin.page.locator('dialog.confirm-dialog').waitFor({ state: 'detached' });
      await row('pia').locator('button[data-action="revoke-invite"]').click();
      await admin.page.locator('#confirm-no').click();
      await admin.page.locator('dialog.confirm-dialog').waitFor({ state: 'detached' });
      assert.equal(await row('pia').count(), 1);
      assert.equal(await stepUpsOf('warden'), stepUps, 'nothing was asked of the key');
      await row('pia').locator('button[data-action="revoke-invite"]').click();
      questions.push(await confirmInDialog(admin.page, 'Revoke link'));
      await admin.page.locator('#message.message-success', { hasText: 'The invite for pia is revoked' }).waitFor();
      assert.match(questions.at(-1) ?? '', /^Revoke the invite for pia\? Its link stops working now\.$/);
      assert.equal(await row('pia').count(), 0);
      assert.equal(await stepUpsOf('warden'), stepUps + 1, 'the admin confirmed with their key');
      assert.equal(await enrolStatus(piaToken), 410);

      // Re-issue: the row stands for the new invite, whose link is shown once with a copy button.
      await ageStepUpInBrowser(kg, admin.context);
      await row('rex').locator('button[data-action="reissue-invite"]').click();
      await confirmInDialog(admin.page, 'Re-issue link');
      await admin.page.locator('#reissue-result').waitFor({ state: 'visible' });
      const url = await admin.page.inputValue('#reissue-url');
      const token = url.match(/\/-\/enroll\/([A-Za-z0-9_-]{43})$/)?.[1];
      assert.ok(url.startsWith(`${kg.origin}/-/enroll/`) && token && token !== rexToken, url);
      assert.match(
        await admin.page.locator('#reissue-summary').innerText(),
        /^New invite link for rex, who will be an administrator: the old link no longer works\. This one works once, until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/,
      );
      const newRexId = await row('rex').getAttribute('data-invite-id');
      assert.ok(newRexId && newRexId !== oldRexId);
      assert.equal(await row('rex').locator('[data-field="created-by"]').innerText(), 'warden');
      assert.equal(await enrolStatus(rexToken), 410, 'the old link is dead');
      assert.equal(await enrolStatus(token), 200, 'the new one works');
      await admin.page.click('#copy-reissue');
      await admin.page.locator('#message.message-success', { hasText: 'Link copied.' }).waitFor();
      assert.equal(await admin.page.evaluate(() => navigator.clipboard.readText()), url);

      // Shown once: after a reload the new invite is listed, its link is not.
      await admin.page.reload();
      assert.equal(await admin.page.locator('#reissue-result').isVisible(), false);
      assert.equal(await row('rex').getAttribute('data-invite-id'), newRexId);
      assert.ok(!(await admin.page.content()).includes(token));
      assertPageHealthy(admin);
    });
  });

  test('the admin pages hold under the CSP and fit a phone screen', async () => {
    await withPage(browser(), { name: 'admin-phone', viewport: PHONE }, async (admin) => {
      await admin.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(admin, await invite(kg, 'pocket_admin_with_a_long_name', { admin: true }), 'pocket_admin_with_a_long_name');
      for (const [path, shot] of [
        ['/-/admin', 'users'],
        ['/-/admin/users/pocket_admin_with_a_long_name', 'user'],
        ['/-/admin/audit', 'audit'],
      ]) {
        await admin.page.goto(`${kg.url}${path}`);
        await admin.page.locator('.admin-nav').waitFor();
        await assertNoHorizontalOverflow(admin.page, PHONE.width);
        await admin.page.screenshot({ path: screenshotPath(`admin-${shot}-phone`), fullPage: true });
      }
      await admin.page.setViewportSize({ width: 1280, height: 900 });
      for (const path of ['/-/admin', '/-/admin/audit']) {
        await admin.page.goto(`${kg.url}${path}`);
        await admin.page.screenshot({ path: screenshotPath(`admin-${path.split('/').at(-1)}-desktop`), fullPage: true });
      }
      assertPageHealthy(admin);
    });
  });
});

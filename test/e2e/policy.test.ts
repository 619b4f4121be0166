/**
 * The authenticator policy in a real browser: Chromium's virtual security key (usb) and virtual
 * platform authenticator (internal) are accepted or refused according to AUTHENTICATOR_ATTACHMENT
 * and USER_VERIFICATION, and the page says why in words.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { invite } from '../support/flows.js';
import { useSharedKeygates, type TestKeygate } from '../support/keygate.js';
import { assertHumanSentence, assertPageHealthy, errorMessage, PLATFORM_PASSKEY, useBrowser, withPage, type AuthenticatorOptions } from './support.js';

const SECURITY_KEY: AuthenticatorOptions = { transport: 'usb', hasResidentKey: true, hasUserVerification: true };

describe('authenticator policy in a real browser', () => {
  const browser = useBrowser();
  // A short ceremony timeout: the browser gives up on an authenticator the options rule out.
  const keygate = useSharedKeygates({ CEREMONY_TIMEOUT: '3s' });

  let n = 0;
  /** Opens a fresh invite link and presses "Enrol your key". */
  async function enrolFromInvite(kg: TestKeygate, page: Page): Promise<string> {
    const username = `browser${++n}`;
    await page.goto(`${kg.url}/-/enroll/${await invite(kg, username)}`);
    await page.click('#enroll-button');
    return username;
  }

  async function landsOnGogs(kg: TestKeygate, page: Page, username: string): Promise<void> {
    // After an enrolment, through the next-steps page.
    await page.waitForURL((u) => !u.pathname.startsWith('/-/') || u.pathname === '/-/welcome');
    if (new URL(page.url()).pathname === '/-/welcome') await page.click('#continue');
    await page.waitForURL((u) => !u.pathname.startsWith('/-/'));
    await page.getByText(`Signed in as ${username}`).waitFor();
    assert.deepEqual(kg.gogs.last()?.authHeaderValues, [username]);
  }

  const credentialCount = async (kg: TestKeygate, username: string) =>
    (await kg.db.query('SELECT count(*)::int AS n FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = $1', [username])).rows[0].n;

  test('security keys only: a virtual security key enrols; a platform authenticator is not offered and the page says what is accepted', async () => {
    const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
    await withPage(browser(), { name: 'policy-usb' }, async (p) => {
      await p.addAuthenticator(SECURITY_KEY);
      await p.page.goto(`${kg.url}/-/enroll/${await invite(kg, 'usbperson')}`);
      await p.page.getByText('Security keys (such as a YubiKey) only, not the authenticator built into a computer or phone.').waitFor();
      await p.page.click('#enroll-button');
      await landsOnGogs(kg, p.page, 'usbperson');
      assertPageHealthy(p);
    });
    await withPage(browser(), { name: 'policy-platform-refused' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      const username = await enrolFromInvite(kg, p.page);
      const text = await errorMessage(p.page, /may not be one this organisation accepts/);
      assertHumanSentence(text);
      assert.equal(await credentialCount(kg, username), 0);
      assertPageHealthy(p);
    });
  });

  test('built-in authenticators only: a virtual platform authenticator enrols; a security key is not offered and the page says what is accepted', async () => {
    const kg = await keygate({ AUTHENTICATOR_ATTACHMENT: 'platform' });
    await withPage(browser(), { name: 'policy-platform' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      const username = await enrolFromInvite(kg, p.page);
      await landsOnGogs(kg, p.page, username);
    });
    await withPage(browser(), { name: 'policy-usb-refused' }, async (p) => {
      await p.addAuthenticator(SECURITY_KEY);
      await p.page.goto(`${kg.url}/-/enroll/${await invite(kg, 'usbrefused')}`);
      await p.page.getByText('Only the authenticator built into your device').waitFor();
      await p.page.click('#enroll-button');
      assertHumanSentence(await errorMessage(p.page, /may not be one this organisation accepts/));
      assert.equal(await credentialCount(kg, 'usbrefused'), 0);
    });
  });

  test('a platform authenticator enrolled before "security keys only" is refused at sign-in, and the login page says why and what to do', async () => {
    const open = await keygate({});
    const strict = await keygate({ AUTHENTICATOR_ATTACHMENT: 'cross-platform' });
    await withPage(browser(), { name: 'policy-tightened' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      const username = await enrolFromInvite(open, p.page);
      await landsOnGogs(open, p.page, username);
      // The same passkey, signing in again at the instance with the tightened policy. (Cookies
      // ignore ports, so the first instance's session cookie is dropped first: the policy is
      // judged at sign-in.)
      await p.page.context().clearCookies();
      await p.page.goto(`${strict.url}/-/login`);
      await p.page.click('#passkey-button');
      const text = await errorMessage(p.page, /no longer accepted here/);
      assert.match(text, /accepts only security keys \(such as a YubiKey\).*Ask your administrator for a recovery link to enrol an allowed key\./);
      assert.ok(!p.page.url().startsWith(`${strict.url}/some`), 'not let through');
      assert.equal(
        (await strict.db.query("SELECT reason FROM audit_events WHERE event = 'sign_in' ORDER BY id DESC LIMIT 1")).rows[0].reason,
        'policy_attachment',
      );
    });
  });

  test('user verification required: a key that does not verify the person is not accepted and the page says what is; discouraged: a key without it enrols', async () => {
    const strict = await keygate({});
    await withPage(browser(), { name: 'policy-no-uv' }, async (p) => {
      // A key that has user verification but does not perform it (the person skips the PIN):
      // Chromium does not let it answer a request that requires user verification.
      await p.addAuthenticator({ ...SECURITY_KEY, isUserVerified: false });
      const username = await enrolFromInvite(strict, p.page);
      assertHumanSentence(await errorMessage(p.page, /may not be one this organisation accepts/));
      assert.equal(await p.page.locator('#policy-requirements li').first().innerText(), 'Authenticators that verify you with a PIN, fingerprint or face.');
      assert.equal(await credentialCount(strict, username), 0);
    });
    // (Chromium asks for a PIN before it stores a resident credential, so this key stores none.)
    const relaxed = await keygate({ USER_VERIFICATION: 'discouraged', RESIDENT_KEY: 'discouraged' });
    await withPage(browser(), { name: 'policy-no-uv-ok' }, async (p) => {
      await p.addAuthenticator({ transport: 'usb', hasResidentKey: false, hasUserVerification: false });
      const username = await enrolFromInvite(relaxed, p.page);
      await landsOnGogs(relaxed, p.page, username);
    });
  });
});

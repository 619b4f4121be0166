/**
 * The account page in a real browser: renaming a key, removing one, the explained confirmation
 * before removing the last one, the step-up prompt when the last verification is too old (then the
 * same change carries on), and the WebAuthn Signal API calls (recorded by wrapping the browser's
 * own methods, or with the methods taken away to show the page does without them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { auditSince, maxAuditId } from '../support/audit.js';
import { ageStepUpInBrowser } from '../support/age.js';
import { invite } from '../support/flows.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import {
  assertHumanSentence,
  assertPageHealthy,
  errorMessage,
  PLATFORM_PASSKEY,
  useBrowser,
  webAuthnCalls,
  withPage,
  type E2ePage,
  continueFromWelcome,
} from './support.js';

const LAST_KEY = 'This is your last key. If you remove it you will need a recovery link from your administrator to get back in.';
/** A USB security key that keeps passkeys (resident credentials), so it can sign in without a username. */
const USB_PASSKEY = { transport: 'usb', hasResidentKey: true, hasUserVerification: true } as const;

interface SignalCall {
  name: string;
  options: Record<string, unknown>;
}

/**
 * Records every Signal API call the pages make. 'wrap' records, then calls the browser's own
 * method where it has one; 'absent' takes the methods away, as in a browser without the API.
 */
async function spyOnSignals(p: E2ePage, mode: 'wrap' | 'absent'): Promise<SignalCall[]> {
  const calls: SignalCall[] = [];
  await p.context.exposeBinding('__keygateSignal', (_source, name: string, options: Record<string, unknown>) => {
    calls.push({ name, options });
  });
  await p.context.addInitScript((how: string) => {
    if (typeof PublicKeyCredential === 'undefined') return;
    const api = PublicKeyCredential as unknown as Record<string, ((o: unknown) => Promise<void>) | undefined>;
    (window as unknown as { __keygateRealSignals: boolean }).__keygateRealSignals = 'signalAllAcceptedCredentials' in api;
    for (const name of ['signalAllAcceptedCredentials', 'signalCurrentUserDetails', 'signalUnknownCredential']) {
      const real = api[name];
      delete api[name];
      if (how === 'absent') continue;
      api[name] = (options: unknown) => {
        (window as unknown as { __keygateSignal: (n: string, o: unknown) => void }).__keygateSignal(name, options);
        return real ? real.call(PublicKeyCredential, options) : Promise.resolve();
      };
    }
  }, mode);
  return calls;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the browser itself has the Signal API (the spy's wrapper calls through to it). */
function hasSignalApi(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __keygateRealSignals?: boolean }).__keygateRealSignals === true);
}

/** DevTools reports credential ids in base64; Keygate uses base64url. */
const base64url = (base64: string) => Buffer.from(base64, 'base64').toString('base64url');

describe('the account page in a real browser', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  /** Opens an invite link on `server`, registers whatever authenticator is present, ends on Gogs. */
  async function enrollFromInvite(p: E2ePage, username: string, nickname: string, server = kg): Promise<void> {
    await p.page.goto(`${server.url}/-/enroll/${await invite(server, username)}`);
    await p.page.fill('#nickname', nickname);
    await p.page.click('#enroll-button');
    await continueFromWelcome(p.page);
    await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));
  }

  const device = (page: Page, credentialId: string) => page.locator(`#device-list li[data-credential-id="${credentialId}"]`);
  const deviceIds = (page: Page) =>
    page.locator('#device-list li[data-credential-id]').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-credential-id')));

  async function userHandle(username: string): Promise<string> {
    const { rows } = await kg.db.query('SELECT user_handle FROM users WHERE username = $1', [username]);
    return (rows[0].user_handle as Buffer).toString('base64url');
  }

  async function successMessage(page: Page, text: string | RegExp): Promise<void> {
    await page.locator('#message.message-success').filter({ hasText: text }).waitFor();
  }

  test('renaming a key in the page shows the new name, keeps it, and tells the passkey manager the account details', async () => {
    await withPage(browser(), { name: 'account-rename' }, async (p) => {
      const signals = await spyOnSignals(p, 'wrap');
      const passkey = await p.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(p, 'rhea', 'Laptop');
      const id = base64url((await passkey.credentials())[0].credentialId);
      await p.page.goto(`${kg.url}/-/account`);
      const item = device(p.page, id);
      await item.locator('.rename-button').click();
      assert.equal(await item.locator('.rename-input').inputValue(), 'Laptop');

      // A blank name is explained before anything is sent.
      await item.locator('.rename-input').fill('   ');
      await item.locator('.rename-save').click();
      assert.equal(await errorMessage(p.page), "A key's name must be 1 to 64 characters.");

      await item.locator('.rename-input').fill('Work laptop');
      await item.locator('.rename-input').press('Enter');
      await successMessage(p.page, 'Renamed to “Work laptop”.');
      assert.equal(await item.locator('.device-nickname').innerText(), 'Work laptop');
      assert.equal(await item.locator('.rename-form').isHidden(), true);
      await p.page.reload();
      assert.match(await device(p.page, id).innerText(), /^Work laptop \(used for this session\)/);

      await waitUntil(() => signals.some((s) => s.name === 'signalCurrentUserDetails'));
      const handle = await userHandle('rhea');
      assert.deepEqual(signals.find((s) => s.name === 'signalCurrentUserDetails')?.options, {
        rpId: 'localhost',
        userId: handle,
        name: 'rhea',
        displayName: 'rhea',
      });
      assertPageHealthy(p);
    });
  });

  test('removing the second key takes it off the page and the passkey manager; at sign-in it is refused and signalled unknown', async () => {
    await withPage(browser(), { name: 'account-remove' }, async (p) => {
      const signals = await spyOnSignals(p, 'wrap');
      const laptop = await p.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(p, 'sven', 'Laptop');
      const laptopId = base64url((await laptop.credentials())[0].credentialId);
      // The laptop's authenticator is taken away so that only the USB key answers from here on.
      await laptop.remove();
      const usb = await p.addAuthenticator(USB_PASSKEY);
      await p.page.goto(`${kg.url}/-/account`);
      await p.page.fill('#nickname', 'Spare key');
      await p.page.click('#add-device-button');
      await p.page.locator('#device-list li[data-credential-id]').nth(1).waitFor();
      const usbId = base64url((await usb.credentials())[0].credentialId);
      assert.deepEqual(await deviceIds(p.page), [laptopId, usbId]);
      const accepted = () => signals.filter((s) => s.name === 'signalAllAcceptedCredentials').map((s) => s.options);
      await waitUntil(() => accepted().some((o) => (o.allAcceptedCredentialIds as string[]).length === 2));
      const handle = await userHandle('sven');
      assert.deepEqual(accepted().at(-1), { rpId: 'localhost', userId: handle, allAcceptedCredentialIds: [laptopId, usbId] });

      // The USB key's passkey, as a second passkey manager that has not heard of the removal would keep it.
      const exported = await usb.credentials();
      const spare = device(p.page, usbId);
      await spare.locator('.remove-button').click();
      assert.match(await spare.locator('.remove-text').innerText(), /^Remove “Spare key”\? It will no longer sign you in/);
      await spare.locator('.remove-confirm-button').click();
      await successMessage(p.page, 'Removed “Spare key”. It can no longer sign in.');
      assert.deepEqual(await deviceIds(p.page), [laptopId]);
      await waitUntil(() => (accepted().at(-1)?.allAcceptedCredentialIds as string[]).length === 1);
      assert.deepEqual(accepted().at(-1), { rpId: 'localhost', userId: handle, allAcceptedCredentialIds: [laptopId] });
      await p.page.reload();
      assert.deepEqual(await deviceIds(p.page), [laptopId]);
      // This Chromium has the Signal API, and its virtual authenticator acts on it: the passkey is gone.
      if (await hasSignalApi(p.page)) await waitUntilAsync(async () => (await usb.credentials()).length === 0);

      // Signed out, the removed key is refused, and the browser is told the credential is unknown.
      // (Chrome offers passkey autofill only with a platform authenticator, so with just the USB key
      // present the button's ceremony is the only one.)
      await usb.addCredentials(exported.filter((c) => base64url(c.credentialId) === usbId));
      await p.page.locator('#logout-form button[type=submit]').click();
      await p.page.waitForURL(`${kg.url}/-/login?signed_out`);
      await p.page.click('#passkey-button');
      assert.equal(await errorMessage(p.page, /not enrolled/), 'This key is not enrolled here.');
      await waitUntil(() => signals.some((s) => s.name === 'signalUnknownCredential'));
      assert.deepEqual(
        signals.filter((s) => s.name === 'signalUnknownCredential').map((s) => s.options),
        [{ rpId: 'localhost', credentialId: usbId }],
      );
      if (await hasSignalApi(p.page)) await waitUntilAsync(async () => (await usb.credentials()).length === 0);
      assertPageHealthy(p);
    });
  });

  test('removing the last key shows why that locks the person out and needs a second, explicit confirmation (browser without the Signal API)', async () => {
    await withPage(browser(), { name: 'account-last-key' }, async (p) => {
      await spyOnSignals(p, 'absent');
      const passkey = await p.addAuthenticator(PLATFORM_PASSKEY);
      await enrollFromInvite(p, 'tove', 'Only key');
      const id = base64url((await passkey.credentials())[0].credentialId);
      await p.page.goto(`${kg.url}/-/account`);
      const item = device(p.page, id);
      const panel = item.locator('.remove-confirm');

      await item.locator('.remove-button').click();
      await item.locator('.remove-confirm-button').click();
      await panel.locator('.remove-text').filter({ hasText: LAST_KEY }).waitFor();
      assertHumanSentence(await panel.locator('.remove-text').innerText());
      assert.equal(await item.locator('.remove-confirm-button').innerText(), 'Remove my last key');
      // "Keep it" changes nothing.
      await panel.locator('.panel-cancel').click();
      assert.equal(await panel.isHidden(), true);
      const revoked = async () =>
        (await kg.db.query('SELECT revoked_at FROM credentials WHERE credential_id = $1', [Buffer.from(id, 'base64url')])).rows[0].revoked_at;
      assert.equal(await revoked(), null);

      await item.locator('.remove-button').click();
      await item.locator('.remove-confirm-button').click();
      await panel.locator('.remove-text').filter({ hasText: LAST_KEY }).waitFor();
      await item.locator('.remove-confirm-button').click();
      await p.page.waitForURL(`${kg.url}/-/login?signed_out`);
      assert.ok(await revoked());
      assert.equal((await p.page.goto(`${kg.url}/-/account`))?.url().startsWith(`${kg.url}/-/login?return_to=`), true, 'signed out');
      assertPageHealthy(p);
    });
  });

  test('with STEP_UP_MAX_AGE=1s, a rename after waiting asks for the key, then completes; a refused prompt is explained', async () => {
    const strict = await startKeygate({ env: { STEP_UP_MAX_AGE: '1s' } });
    try {
      await withPage(browser(), { name: 'account-step-up' }, async (p) => {
        const passkey = await p.addAuthenticator(PLATFORM_PASSKEY);
        await enrollFromInvite(p, 'ulla', 'Laptop', strict);
        const id = base64url((await passkey.credentials())[0].credentialId);
        await p.page.goto(`${strict.url}/-/account`);
        await ageStepUpInBrowser(strict, p.context);
        const item = device(p.page, id);
        const since = await maxAuditId(strict);
        const before = (await webAuthnCalls(p.page)).length;

        // The key does not verify the person: nothing changes, and the page says why.
        await passkey.setUserVerified(false);
        await item.locator('.rename-button').click();
        await item.locator('.rename-input').fill('Travel laptop');
        await item.locator('.rename-save').click();
        const refused = await errorMessage(p.page, /nothing was changed|did not verify/);
        assertHumanSentence(refused);
        assert.equal(await item.locator('.device-nickname').innerText(), 'Laptop');

        await passkey.setUserVerified(true);
        await item.locator('.rename-save').click();
        await successMessage(p.page, 'Renamed to “Travel laptop”.');
        assert.equal(await item.locator('.device-nickname').innerText(), 'Travel laptop');
        const calls = (await webAuthnCalls(p.page)).slice(before);
        assert.deepEqual(calls, ['get:optional', 'get:optional'], 'the key was asked for both times');
        const events = (await auditSince(strict, since)).map((r) => `${r.event}:${r.outcome}`);
        assert.equal(events.at(-1), 'credential_renamed:success');
        assert.ok(events.includes('step_up_prompted:success') && events.includes('step_up_passed:success'), events.join(' '));
        assertPageHealthy(p);
      });
    } finally {
      await strict.close();
    }
  });
});

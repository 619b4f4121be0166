/**
 * A browser without WebAuthn is told so in words, on the sign-in and enrolment pages, and the
 * buttons that would fail are disabled, instead of a click that does nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { invite } from '../support/flows.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import { errorMessage, useBrowser, withPage } from './support.js';

const NO_WEBAUTHN = /This browser has no WebAuthn support/;

describe('a browser with no WebAuthn', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  test('the sign-in and enrolment pages say the browser has no WebAuthn and disable their buttons', async () => {
    await withPage(browser(), { name: 'no-webauthn' }, async (p) => {
      // As an old browser: no PublicKeyCredential at all.
      await p.context.addInitScript(() => {
        delete (window as unknown as { PublicKeyCredential?: unknown }).PublicKeyCredential;
      });
      await p.page.goto(`${kg.url}/-/login`);
      assert.match(await errorMessage(p.page, NO_WEBAUTHN), NO_WEBAUTHN);
      assert.equal(await p.page.isDisabled('#passkey-button'), true);
      assert.equal(await p.page.isDisabled('#username-button'), true);

      await p.page.goto(`${kg.url}/-/enroll/${await invite(kg, 'oldbrowser')}`);
      assert.match(await errorMessage(p.page, NO_WEBAUTHN), NO_WEBAUTHN);
      assert.equal(await p.page.isDisabled('#enroll-button'), true);
    });
  });
});

/**
 * After enrolment, the next steps (issue 17, item 1): enrolment leads to /-/welcome, which offers
 * a backup key and explains git access (an access token from Gogs as the password), then goes on
 * to Gogs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll, invite } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&rarr;|→/g, '→')
    .replace(/\s+/g, ' ');

describe('next steps after enrolment', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  test('enrolment leads to /-/welcome: a backup key, git with an access token, then Gogs', async () => {
    const browser = new TestClient(kg.url);
    const enrolled = await enroll(browser, new SoftwareAuthenticator(), await invite(kg, 'wendy'));
    assert.equal(enrolled.status, 200, enrolled.text);
    assert.equal(enrolled.json.redirect, '/-/welcome');

    const page = await browser.get('/-/welcome');
    assert.equal(page.status, 200);
    const words = text(page.text);
    assert.match(words, /Your key is enrolled and you are signed in as wendy \. Two things to do next:/);
    assert.match(words, /Add a backup key This is your only key\. If you lose a key, another one still signs you in/);
    assert.match(
      words,
      /Set up git Git does not use your key\. In Gogs, open Your settings → Applications and generate an access token, then give it as the password when git asks \(your username stays wendy \)\. Your Gogs password does not work for git here\./,
    );
    assert.match(page.text, /<a class="button button-secondary" href="\/-\/account#add-heading">Add a backup key<\/a>/);
    assert.match(page.text, /<a class="button button-secondary" href="\/user\/settings\/applications">Create an access token in Gogs<\/a>/);
    assert.match(page.text, /<a id="continue" class="button button-primary" href="\/">Continue to Gogs<\/a>/);

    // A recovery link's enrolment: the page counts the keys.
    const phone = new TestClient(kg.url);
    assert.equal((await enroll(phone, new SoftwareAuthenticator(), await invite(kg, 'wendy'))).status, 200);
    assert.match(text((await phone.get('/-/welcome')).text), /Add a backup key You have 2 keys\./);
  });

  test('with ALLOW_GIT_PASSWORDS the page does not say the Gogs password is refused; signed out, it asks to sign in', async () => {
    const lenient = await startKeygate({ env: { ALLOW_GIT_PASSWORDS: 'true' } });
    try {
      const browser = new TestClient(lenient.url);
      assert.equal((await enroll(browser, new SoftwareAuthenticator(), await invite(lenient, 'walt'))).status, 200);
      assert.doesNotMatch((await browser.get('/-/welcome')).text, /password does not work/);
    } finally {
      await lenient.close();
    }
    const anonymous = await new TestClient(kg.url).get('/-/welcome');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.location, '/-/login?return_to=%2F-%2Fwelcome');
  });
});

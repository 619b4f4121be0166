/**
 * CSRF judged by what a real browser sends: a signed-in person visits another site whose form
 * posts to a Gogs page through Keygate. The other site is same-site (http://localhost on another
 * port), so the SameSite=Lax cookie does go along: only Keygate's Origin check stands between the
 * form and Gogs.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { invite } from '../support/flows.js';
import { startKeygate, type TestKeygate } from '../support/keygate.js';
import { PLATFORM_PASSKEY, useBrowser, withPage, continueFromWelcome } from './support.js';

describe('cross-site forms in a real browser', () => {
  const browser = useBrowser();
  let kg: TestKeygate;
  let attacker: http.Server;
  let attackerUrl: string;

  before(async () => {
    kg = await startKeygate();
    attacker = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form method="post" action="${kg.url}/victim/repo/settings/delete">
        <input name="confirm" value="yes"><button id="go" type="submit">Win a prize</button></form>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await new Promise<void>((resolve) => attacker?.close(() => resolve()));
    await kg?.close();
  });

  test("another site's form cannot post to Gogs as the signed-in person: 403 page, Gogs receives nothing", async () => {
    await withPage(browser(), { name: 'csrf' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      await p.page.goto(`${kg.url}/-/enroll/${await invite(kg, 'victim')}`);
      await p.page.click('#enroll-button');
      await continueFromWelcome(p.page);
      await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));
      assert.match((await p.page.textContent('body')) ?? '', /Signed in as victim/);

      kg.gogs.clear();
      await p.page.goto(attackerUrl);
      await p.page.click('#go');
      await p.page.waitForURL(`${kg.url}/victim/repo/settings/delete`);
      assert.match((await p.page.textContent('body')) ?? '', /This request came from another site/);
      assert.deepEqual(
        kg.gogs.requests.filter((r) => r.method === 'POST'),
        [],
        'Gogs received no POST',
      );

      // The person is still signed in: only the forged request was refused.
      await p.page.goto(`${kg.url}/victim/repo`);
      assert.match((await p.page.textContent('body')) ?? '', /Signed in as victim/);
    });
  });
});

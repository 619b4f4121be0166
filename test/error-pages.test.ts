/**
 * Error pages offer a next step that fits the person (issue 17): back to Gogs when they are signed
 * in, sign-in when they are not; a page Gogs could not answer, the same page again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { person } from './support/admin.js';
import { TestClient } from './support/client.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

/** The page's one button-styled link: [href, label]. */
function action(html: string): [string, string] | null {
  const m = /<a class="button button-primary" href="([^"]*)">([^<]*)<\/a>/.exec(html);
  return m ? [m[1], m[2]] : null;
}

describe('error pages', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg?.close());

  test("Keygate's 404: back to Gogs for a signed-in person, sign-in for anyone else", async () => {
    const p = await person(kg, 'err_a');
    const signedIn = await p.client.get('/-/no-such-page');
    assert.equal(signedIn.status, 404);
    assert.deepEqual(action(signedIn.text), ['/', 'Back to Gogs']);
    const anonymous = await new TestClient(kg.url).get('/-/no-such-page');
    assert.equal(anonymous.status, 404);
    assert.deepEqual(action(anonymous.text), ['/-/login', 'Go to sign-in']);
  });

  test('a Gogs form posted from another site: refused, with the way back to Gogs (the person is signed in)', async () => {
    const p = await person(kg, 'err_b');
    const res = await p.client.request('/err_b/repo/settings', { method: 'POST', body: 'x=1', origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    assert.deepEqual(action(res.text), ['/', 'Back to Gogs']);
  });
});

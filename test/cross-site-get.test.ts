/**
 * Gogs routes that change state on a GET (closing a milestone, emptying the admin notices, the task
 * trigger, 0.14's /debug profiler). Keygate's cookie is SameSite=Lax, so a cross-site top-level
 * navigation carries it: such a request from another site gets a confirmation page and never
 * reaches Gogs; the same request from Keygate's own origin (the Continue link) or typed in the
 * address bar goes through. Every other page opens from a link on another site as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { safeReturnPath } from '../server/http/return-path.js';
import { changesStateOnGet, normalizePath } from '../server/proxy/paths.js';
import { sendRaw } from './support/raw.js';
import { signedInPerson, type SignedInPerson } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const STATE_CHANGING = [
  '/alice/repo/milestones/3/close',
  '/alice/repo/milestones/3/open',
  '/admin/notices/empty',
  '/alice/repo/tasks/trigger?branch=x&secret=y',
  '/debug/profile/?op=startcpu',
  '/Alice/Repo/Milestones/3/CLOSE',
  '/alice/repo/milestones/3/%63lose',
];

describe('state-changing GETs from another site', () => {
  let kg: TestKeygate;
  let alice: SignedInPerson;
  before(async () => {
    kg = await startKeygate();
    alice = await signedInPerson(kg, 'alice');
  });
  after(() => kg.close());

  test('the list matches the routes in every spelling and leaves ordinary pages alone', () => {
    for (const path of STATE_CHANGING) assert.equal(changesStateOnGet(normalizePath(path)!), true, path);
    for (const path of [
      '/alice/repo/milestones',
      '/alice/repo/milestones/3',
      '/alice/repo/issues/7',
      '/admin/notices',
      '/alice/debug',
      '/alice/repo/milestones/3/closed',
    ]) {
      assert.equal(changesStateOnGet(normalizePath(path)!), false, path);
    }
  });

  test('from another site (cross-site or same-site, or no proof at all) they get a confirmation page and never reach Gogs', async () => {
    const fromElsewhere: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' },
      { referer: 'https://evil.example/page' },
      {},
    ];
    for (const path of STATE_CHANGING) {
      for (const headers of fromElsewhere) {
        kg.gogs.clear();
        const res = await alice.client.get(path, headers);
        const what = `${path} ${JSON.stringify(headers)}`;
        assert.equal(res.status, 200, what);
        assert.match(res.text, /Continue to Gogs\?/, what);
        assert.match(res.text, /You followed a link from another site/, what);
        assert.deepEqual(kg.gogs.requests, [], `${what} reached Gogs`);
      }
    }
  });

  test('the Continue link is the same request on this origin, and from there (or the address bar) it reaches Gogs', async () => {
    const res = await alice.client.get('/alice/repo/milestones/3/close?x=1', { 'sec-fetch-site': 'cross-site' });
    assert.match(res.text, /href="\/alice\/repo\/milestones\/3\/close\?x=1"/);
    const navigation = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    for (const headers of [
      { 'sec-fetch-site': 'same-origin', ...navigation },
      { 'sec-fetch-site': 'none', 'sec-fetch-user': '?1', ...navigation },
      { referer: `${kg.origin}/alice/repo/milestones` },
    ] as Array<Record<string, string>>) {
      kg.gogs.clear();
      // Raw: Node's fetch sets Sec-Fetch-Mode itself.
      const through = await sendRaw(kg.url, {
        path: '/alice/repo/milestones/3/close?x=1',
        headers: ['Cookie', alice.client.cookieHeader()!, ...Object.entries(headers).flat()],
      });
      assert.equal(through.status, 200, JSON.stringify(headers));
      assert.equal(kg.gogs.last()?.url, '/alice/repo/milestones/3/close?x=1');
      assert.deepEqual(kg.gogs.last()?.authHeaderValues, ['alice']);
    }
  });

  test('a same-origin subresource (an image in a Gogs issue pointing at the route) gets the confirmation, never Gogs', async () => {
    kg.gogs.clear();
    const res = await sendRaw(kg.url, {
      path: '/alice/repo/milestones/3/close',
      headers: ['Cookie', alice.client.cookieHeader()!, 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'no-cors', 'Sec-Fetch-Dest', 'image'],
    });
    assert.match(res.text, /Continue to Gogs\?/);
    assert.deepEqual(kg.gogs.requests, []);
    const typedWithoutUser = await sendRaw(kg.url, {
      path: '/admin/notices/empty',
      headers: ['Cookie', alice.client.cookieHeader()!, 'Sec-Fetch-Site', 'none', 'Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Dest', 'document'],
    });
    assert.match(typedWithoutUser.text, /Continue to Gogs\?/, 'Sec-Fetch-Site none without a user activation');
  });

  test('signing in never lands on such a route: return_to falls back to /, so the sign-in redirect cannot carry it out', () => {
    for (const path of STATE_CHANGING) assert.equal(safeReturnPath(path, 'https://git.example.com'), '/', path);
    assert.equal(safeReturnPath('/alice/repo/milestones', 'https://git.example.com'), '/alice/repo/milestones');
  });

  test('a confirmation for a path that starts with two slashes never links off this origin', async () => {
    const res = await sendRaw(kg.url, { path: '//admin/notices/empty', headers: ['Cookie', alice.client.cookieHeader()!, 'Sec-Fetch-Site', 'cross-site'] });
    assert.match(res.text, /Continue to Gogs\?/);
    assert.match(res.text, /href="\/admin\/notices\/empty"/);
  });

  test('an ordinary Gogs page opens from a link on another site, as before', async () => {
    kg.gogs.clear();
    const res = await alice.client.get('/alice/repo/issues/7', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' });
    assert.equal(res.status, 200);
    assert.equal(kg.gogs.last()?.url, '/alice/repo/issues/7');
  });
});

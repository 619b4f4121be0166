/**
 * The asset cache (server/proxy/asset-cache.ts) in front of the real Gogs 0.14.3: the files a Gogs
 * page loads reach the browser exactly as Gogs serves them, from a kept body after the first time;
 * Gogs stays the authority on every request (an admin's custom/public override shows at once, and
 * its removal too); and what Gogs renders for a person under a static folder is never shared.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { TestClient } from './support/client.js';
import { asGiven, sendRaw } from './support/raw.js';
import { signedInPerson, startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';
import { pageAssets } from './support/real-gogs/page-assets.js';

const viaKeygate = (env: KeygateOnRealGogs, client: TestClient, p: string, headers: string[] = []) =>
  sendRaw(env.kg.url, { path: p, headers: ['Cookie', client.cookieHeader()!, ...headers] });
/** Answers given from a kept body so far (keygate_asset_cache_hits_total). */
const hitsOf = async (env: KeygateOnRealGogs) => Number(/^keygate_asset_cache_hits_total (\d+)$/m.exec(await env.kg.gateway.metrics.registry.metrics())?.[1]);

describe("the asset cache in front of the real Gogs' static files", () => {
  let env: KeygateOnRealGogs;
  let ana: TestClient;
  let bob: TestClient;
  before(async () => {
    env = await startKeygateOnRealGogs();
    ana = await signedInPerson(env, 'ana');
    bob = await signedInPerson(env, 'bob');
  });
  after(() => env?.close());

  const via = (client: TestClient, p: string) => viaKeygate(env, client, p);
  /** Straight to Gogs from an address it does not trust: anyone's view of the file. */
  const direct = (p: string) => sendRaw(env.gogs.url, { path: p });
  const hits = () => hitsOf(env);

  test("every file a Gogs page loads is given exactly as Gogs serves it, the first time from Gogs and then from the kept body after Gogs' 304", async () => {
    const page = await via(ana, '/');
    assert.equal(page.status, 200);
    const assets = pageAssets(page.text);
    assert.ok(assets.length >= 10, `the dashboard loads its stylesheets and scripts: ${assets.join(' ')}`);
    const before = await hits();
    for (const client of [ana, bob]) {
      for (const asset of assets) {
        const [ours, gogs] = [await via(client, asset), await direct(asset)];
        assert.equal(ours.status, 200, asset);
        const { 'x-content-type-options': nosniff, ...rest } = asGiven(ours).headers;
        assert.equal(nosniff, 'nosniff', `${asset}: Keygate's default`);
        assert.deepEqual({ ...asGiven(ours), headers: rest }, asGiven(gogs), `${asset}: as Gogs serves it`);
      }
    }
    assert.equal((await hits()) - before, assets.length, "Bob's requests were all answered from kept bodies, after Gogs' 304");
  });

  test("an admin's custom/public override shows at the next request, and its removal too: Gogs is asked every time", async () => {
    const file = '/css/gogs.min.css';
    const original = await direct(file);
    assert.equal(original.status, 200);
    await via(ana, file);
    const kept = await hits();
    assert.equal(asGiven(await via(ana, file)).body, asGiven(original).body);
    assert.equal(await hits(), kept + 1, 'the file is kept');

    const override = path.join(env.gogs.workDir, 'custom', 'public', 'css', 'gogs.min.css');
    await mkdir(path.dirname(override), { recursive: true });
    await writeFile(override, '/* the site look */ body { background: teal }\n');
    try {
      for (const client of [ana, bob]) {
        const res = await via(client, file);
        assert.equal(res.status, 200);
        assert.equal(res.text, '/* the site look */ body { background: teal }\n');
      }
    } finally {
      await rm(override);
    }
    const back = await via(bob, file);
    assert.equal(asGiven(back).body, asGiven(original).body, 'the built-in file again');
    assert.equal(await hits(), kept + 1, 'nothing was answered from a kept body meanwhile');
  });

  test('a page Gogs renders under a static folder (no such file) is rendered for each person and never shared', async () => {
    for (const [client, name] of [
      [ana, 'ana'],
      [bob, 'bob'],
      [ana, 'ana'],
      [bob, 'bob'],
    ] as const) {
      const res = await via(client, '/css/no-such-file.css');
      assert.equal(res.status, 404);
      assert.match(res.text, new RegExp(`Signed in as <strong>${name}</strong>`), `${name} sees their own page`);
    }
  });
});

describe('the asset cache in front of a real Gogs that compresses (ENABLE_GZIP)', () => {
  let env: KeygateOnRealGogs;
  let ana: TestClient;
  before(async () => {
    env = await startKeygateOnRealGogs({}, [], [['server', 'ENABLE_GZIP', 'true']]);
    ana = await signedInPerson(env, 'ana');
  });
  after(() => env?.close());

  test('a browser that accepts gzip gets the compressed file, one that does not gets it plain: each kept apart, never the other', async () => {
    const file = '/css/gogs.min.css';
    const plain = await sendRaw(env.gogs.url, { path: file });
    assert.equal(plain.headers['content-encoding'], undefined);
    const before = await hitsOf(env);
    for (let i = 0; i < 2; i++) {
      const gz = await viaKeygate(env, ana, file, ['Accept-Encoding', 'gzip, deflate, br']);
      assert.equal(gz.status, 200);
      assert.equal(gz.headers['content-encoding'], 'gzip', `request ${i + 1}: compressed`);
      assert.ok(gunzipSync(gz.body).equals(plain.body), `request ${i + 1}: the file, compressed`);
      const identity = await viaKeygate(env, ana, file);
      assert.equal(identity.status, 200);
      assert.equal(identity.headers['content-encoding'], undefined, `request ${i + 1}: not compressed`);
      assert.ok(identity.body.equals(plain.body), `request ${i + 1}: the file as it is`);
    }
    assert.equal((await hitsOf(env)) - before, 2, 'the second of each from its own kept body');
  });
});

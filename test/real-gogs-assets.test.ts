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
import { CLI_ACTOR } from '../server/audit/actor.js';
import { issueInvite } from '../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enroll } from './support/flows.js';
import { sendRaw, type RawResponse } from './support/raw.js';
import { startKeygateOnRealGogs, type KeygateOnRealGogs } from './support/real-gogs/keygate.js';
import { pageAssets } from './support/real-gogs/page-assets.js';

/** Status, headers (less Date and Connection) and bytes: what a browser is given. */
function given(res: RawResponse): { status: number; headers: Record<string, unknown>; body: string } {
  const { date: _date, connection: _connection, ...headers } = res.headers;
  return { status: res.status, headers, body: res.body.toString('base64') };
}

describe("the asset cache in front of the real Gogs' static files", () => {
  let env: KeygateOnRealGogs;
  let ana: TestClient;
  let bob: TestClient;
  before(async () => {
    env = await startKeygateOnRealGogs();
    const person = async (name: string) => {
      const invite = await issueInvite(env.kg.db, env.kg.config, { username: name, email: `${name}@example.test` }, CLI_ACTOR);
      const client = new TestClient(env.kg.url);
      const res = await enroll(client, new SoftwareAuthenticator(), invite.token);
      assert.equal(res.status, 200, res.text);
      return client;
    };
    ana = await person('ana');
    bob = await person('bob');
  });
  after(() => env?.close());

  const viaKeygate = (client: TestClient, p: string) => sendRaw(env.kg.url, { path: p, headers: ['Cookie', client.cookieHeader()!] });
  /** Straight to Gogs from an address it does not trust: anyone's view of the file. */
  const direct = (p: string) => sendRaw(env.gogs.url, { path: p });
  const hits = async () => Number(/^keygate_asset_cache_hits_total (\d+)$/m.exec(await env.kg.gateway.metrics.registry.metrics())?.[1]);

  test("every file a Gogs page loads is given exactly as Gogs serves it, the first time from Gogs and then from the kept body after Gogs' 304", async () => {
    const page = await viaKeygate(ana, '/');
    assert.equal(page.status, 200);
    const assets = pageAssets(page.text);
    assert.ok(assets.length >= 10, `the dashboard loads its stylesheets and scripts: ${assets.join(' ')}`);
    const before = await hits();
    for (const client of [ana, bob]) {
      for (const asset of assets) {
        const [ours, gogs] = [await viaKeygate(client, asset), await direct(asset)];
        assert.equal(ours.status, 200, asset);
        const { 'x-content-type-options': nosniff, ...rest } = given(ours).headers;
        assert.equal(nosniff, 'nosniff', `${asset}: Keygate's default`);
        assert.deepEqual({ ...given(ours), headers: rest }, given(gogs), `${asset}: as Gogs serves it`);
      }
    }
    assert.equal((await hits()) - before, assets.length, "Bob's requests were all answered from kept bodies, after Gogs' 304");
  });

  test("an admin's custom/public override shows at the next request, and its removal too: Gogs is asked every time", async () => {
    const file = '/css/gogs.min.css';
    const original = await direct(file);
    assert.equal(original.status, 200);
    await viaKeygate(ana, file);
    const kept = await hits();
    assert.equal(given(await viaKeygate(ana, file)).body, given(original).body);
    assert.equal(await hits(), kept + 1, 'the file is kept');

    const override = path.join(env.gogs.workDir, 'custom', 'public', 'css', 'gogs.min.css');
    await mkdir(path.dirname(override), { recursive: true });
    await writeFile(override, '/* the site look */ body { background: teal }\n');
    try {
      for (const client of [ana, bob]) {
        const res = await viaKeygate(client, file);
        assert.equal(res.status, 200);
        assert.equal(res.text, '/* the site look */ body { background: teal }\n');
      }
    } finally {
      await rm(override);
    }
    const back = await viaKeygate(bob, file);
    assert.equal(given(back).body, given(original).body, 'the built-in file again');
    assert.equal(await hits(), kept + 1, 'nothing was answered from a kept body meanwhile');
  });

  test('a page Gogs renders under a static folder (no such file) is rendered for each person and never shared', async () => {
    for (const [client, name] of [
      [ana, 'ana'],
      [bob, 'bob'],
      [ana, 'ana'],
      [bob, 'bob'],
    ] as const) {
      const res = await viaKeygate(client, '/css/no-such-file.css');
      assert.equal(res.status, 404);
      assert.match(res.text, new RegExp(`Signed in as <strong>${name}</strong>`), `${name} sees their own page`);
    }
  });
});

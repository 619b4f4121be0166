/**
 * STRIP_HEADERS: headers an operator names (for instance ones another proxy or a Gogs plugin
 * trusts) never reach Gogs from a client, in any spelling, like the identity header.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../server/config.js';
import { signedInCookie } from './support/flows.js';
import type { RecordedRequest } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { sendRaw } from './support/raw.js';

const send = async (kg: TestKeygate, path: string, headers: string[]) => (await sendRaw(kg.url, { path, headers })).status;

const receivedNames = (rec: RecordedRequest) => {
  const names: string[] = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) names.push(rec.rawHeaders[i].toLowerCase().replace(/_/g, '-'));
  return names;
};

describe('STRIP_HEADERS', () => {
  let kg: TestKeygate;
  let cookie: string;
  before(async () => {
    kg = await startKeygate({ env: { STRIP_HEADERS: 'X-Internal-Auth, x_team' } });
    cookie = await signedInCookie(kg, 'stripper');
  });
  after(() => kg?.close());

  const forged = ['X-Internal-Auth', 'root', 'x_internal_auth', 'root', 'X-TEAM', 'admins', 'x-team', 'admins', 'X-Kept', 'yes'];

  test('named headers never reach Gogs, in any spelling, on pages (signed in) and git paths (anonymous)', async () => {
    for (const [path, extra] of [
      ['/stripper/repo', ['Cookie', cookie]],
      ['/stripper/repo.git/info/refs?service=git-upload-pack', []],
    ] as const) {
      kg.gogs.clear();
      await send(kg, path, [...extra, ...forged]);
      const rec = kg.gogs.last();
      assert.ok(rec, `Gogs received ${path}`);
      const names = receivedNames(rec);
      assert.equal(names.includes('x-internal-auth'), false, `${path}: x-internal-auth stripped`);
      assert.equal(names.includes('x-team'), false, `${path}: x-team stripped`);
      assert.equal(names.includes('x-kept'), true, `${path}: other headers pass`);
    }
  });

  test('a value that is not a header name is refused at start-up, naming STRIP_HEADERS', () => {
    assert.throws(() => loadConfig({ STRIP_HEADERS: 'X-Ok, not a header' }), /STRIP_HEADERS/);
  });
});

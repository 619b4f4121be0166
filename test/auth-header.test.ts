/**
 * GOGS_AUTH_HEADER through the running proxy: with Gogs' REVERSE_PROXY_AUTHENTICATION_HEADER set
 * to another name, Keygate asserts the signed-in person under that name, once, and neither that
 * name nor Gogs' default one ever comes through from a client (Gogs believes the header from any
 * trusted peer, internal/context/auth.go in Gogs 0.14.3, so a Gogs left on its default while Keygate uses another name must still
 * never see a forged X-WEBAUTH-USER).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signedInCookie } from './support/flows.js';
import type { RecordedRequest } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { rawValues, sendRaw } from './support/raw.js';

const send = (kg: TestKeygate, path: string, headers: string[]) => sendRaw(kg.url, { path, headers });
const valuesOf = (rec: RecordedRequest, name: string) => rawValues(rec.rawHeaders, name, { underscores: true });

describe('GOGS_AUTH_HEADER=X-Gate-User, with Gogs configured the same', () => {
  let kg: TestKeygate;
  let cookie: string;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_AUTH_HEADER: 'X-Gate-User' }, gogs: { authHeader: 'X-Gate-User' } });
    cookie = await signedInCookie(kg, 'alice');
  });
  after(() => kg?.close());

  const forged = ['X-Gate-User', 'eve', 'x_gate_user', 'eve', 'X-WEBAUTH-USER', 'eve', 'x_webauth_user', 'eve'];

  test('a signed-in page reaches Gogs as its user, under the configured name, once; forged copies of either name are gone', async () => {
    kg.gogs.clear();
    const page = await send(kg, '/alice/repo', ['Cookie', cookie, ...forged]);
    assert.equal(page.status, 200);
    assert.match(page.text, /Signed in as alice/);
    const rec = kg.gogs.last()!;
    assert.equal(rec.identity, 'alice');
    assert.equal(rec.identitySource, 'header');
    assert.deepEqual(valuesOf(rec, 'x-gate-user'), ['alice']);
    assert.deepEqual(valuesOf(rec, 'x-webauth-user'), [], "Gogs' default name never comes through");
  });

  test('an anonymous git request carries neither name: Gogs sees nobody and asks for credentials', async () => {
    kg.gogs.clear();
    const res = await send(kg, '/alice/repo.git/info/refs?service=git-upload-pack', forged);
    assert.equal(res.status, 401);
    const rec = kg.gogs.last()!;
    assert.equal(rec.identity, null);
    assert.deepEqual(valuesOf(rec, 'x-gate-user'), []);
    assert.deepEqual(valuesOf(rec, 'x-webauth-user'), []);
  });
});

describe('GOGS_AUTH_HEADER=X-Gate-User while Gogs was left on its default X-WEBAUTH-USER', () => {
  let kg: TestKeygate;
  let cookie: string;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_AUTH_HEADER: 'X-Gate-User' } });
    cookie = await signedInCookie(kg, 'alice');
  });
  after(() => kg?.close());

  test('a forged X-WEBAUTH-USER is still stripped, so Gogs believes nobody rather than the forger', async () => {
    kg.gogs.clear();
    const page = await send(kg, '/alice/repo', ['Cookie', cookie, 'X-WEBAUTH-USER', 'admin']);
    assert.equal(page.status, 200);
    assert.match(page.text, /Not signed in/, 'the mismatch fails closed');
    const rec = kg.gogs.last()!;
    assert.equal(rec.identity, null);
    assert.deepEqual(valuesOf(rec, 'x-webauth-user'), []);
  });
});

/**
 * Security review finding 6: a username-first decoy must not be told from a real account by its
 * shape. Each decoy copies a real account's shape (how many keys, each id's length, each key's
 * transports), chosen per name, and stays the same for that name.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DecoyCredentials } from '../server/login/decoy.js';
import { addDevice } from './support/account.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enrolledUser } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

let kg: TestKeygate;
before(async () => {
  kg = await startKeygate();
});
after(() => kg.close());

type Allow = Array<{ id: string; transports?: string[] }>;
const shapeOf = (allow: Allow) => JSON.stringify(allow.map((c) => [Buffer.from(c.id, 'base64url').length, c.transports ?? []]));

async function allowFor(username: string): Promise<Allow> {
  const res = await new TestClient(kg.url).post('/-/api/login/options', { username });
  assert.equal(res.status, 200, res.text);
  return res.json.allowCredentials;
}

test('a decoy for an unknown name has the shape of a real account (keys, id lengths, transports), differs between names, and is stable per name', async () => {
  // Real accounts of different shapes: a phone passkey, and a person with a security key and a laptop.
  await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator({ transports: ['hybrid', 'internal'], attachment: 'platform' }), 'phone-person');
  const laptop = new TestClient(kg.url);
  await enrolledUser(kg, laptop, new SoftwareAuthenticator({ transports: ['nfc', 'usb'] }), 'two-keys');
  await addDevice(laptop, new SoftwareAuthenticator({ transports: ['internal'], attachment: 'platform' }));
  await enrolledUser(kg, new TestClient(kg.url), new SoftwareAuthenticator({ transports: ['usb'] }), 'one-key');

  const real = new Set<string>();
  for (const name of ['phone-person', 'two-keys', 'one-key']) real.add(shapeOf(await allowFor(name)));
  assert.equal(real.size, 3, 'the real accounts differ in shape');

  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const name = `nobody-${i}`;
    const decoy = await allowFor(name);
    assert.ok(real.has(shapeOf(decoy)), `${name}: ${shapeOf(decoy)} is the shape of no real account`);
    assert.deepEqual(await allowFor(name.toUpperCase()), decoy, `${name}: the same answer every time, in any letter case`);
    seen.add(shapeOf(decoy));
  }
  assert.ok(seen.size >= 2, `decoys all have one shape: ${[...seen].join(' ')}`);
});

test('a new account changes no decoy but those that now resemble it (rendezvous, not a reshuffle)', async () => {
  const names = Array.from({ length: 40 }, (_, i) => `someone-${i}`);
  const shapes = async () => {
    // A fresh instance reads the accounts anew (the router's refreshes every 10 minutes).
    const decoys = new DecoyCredentials(kg.db, 'decoy-test-secret'.repeat(2));
    return Promise.all(names.map(async (n) => shapeOf(await decoys.forUsername(n))));
  };
  const before = await shapes();
  const browser = new TestClient(kg.url);
  await enrolledUser(kg, browser, new SoftwareAuthenticator({ transports: ['ble'] }), 'newcomer');
  await addDevice(browser, new SoftwareAuthenticator({ transports: ['nfc'] }));
  const newcomer = shapeOf(await allowFor('newcomer'));
  const after = await shapes();
  const changed = names.filter((_, i) => before[i] !== after[i]);
  for (const name of changed) assert.equal(after[names.indexOf(name)], newcomer, `${name} changed to a shape that is not the newcomer's`);
  assert.ok(changed.length < names.length / 2, `${changed.length} of ${names.length} decoys changed`);
});

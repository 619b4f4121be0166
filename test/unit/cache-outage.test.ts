/**
 * The session cache never keeps an answer that may predate what it was told (issue 8,
 * "Reliability"): a session read from the database before the invalidation channel came back
 * (its NOTIFY may have been lost in the gap), or before the notification that the session ended,
 * serves that one request but is not cached.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionAuth } from '../../server/session/auth.js';
import { SessionCache } from '../../server/session/cache.js';

const auth: SessionAuth = { userId: '1', username: 'alice', credentialId: 'abc', signedInAt: 0, lastSeenAt: 0 };

test('a session read before the channel came back is not cached; one read after it is', () => {
  const cache = new SessionCache(30_000);
  cache.goLive(1_000);
  cache.goDark();
  cache.goLive(5_000);
  cache.set('a', auth, 4_000);
  assert.equal(cache.get('a', 5_001), undefined, 'read at 4 s, channel back at 5 s: not cached');
  cache.set('a', auth, 5_000);
  assert.deepEqual(cache.get('a', 5_001), auth);
});

test('a session read before its end was notified is not cached, even if the answer arrives after', () => {
  const cache = new SessionCache(30_000);
  cache.goLive(0);
  // The read began at 100; the NOTIFY that the session ended arrived at 150; the answer at 200.
  cache.forget('a', 150);
  cache.set('a', auth, 100);
  assert.equal(cache.get('a', 200), undefined);
  // A read that began after the forget is cached as usual (it sees the row gone: null).
  cache.set('a', null, 151);
  assert.equal(cache.get('a', 200), null);
});

test('while the channel is down nothing is cached or served from the cache', () => {
  const cache = new SessionCache(30_000);
  cache.goLive(0);
  cache.set('a', auth, 10);
  cache.goDark();
  assert.equal(cache.get('a', 20), undefined);
  cache.set('b', auth, 20);
  assert.equal(cache.size, 0);
});

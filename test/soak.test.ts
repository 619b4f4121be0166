/**
 * The soak's short CI version (issue 8, "Reliability"; `npm run soak` runs it for 10 minutes):
 * a bounded mixed load against Keygate as a child process, with an admin revocation halfway.
 * It proves no answer other than what the scenario expects, and that Keygate's memory and open
 * file descriptors stay within generous bounds (counts, not timings). SOAK_CI_SECONDS overrides
 * the length (default 6).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { runSoak, soakMarkdown, type SoakResult } from './support/soak.js';

const SECONDS = Number(process.env.SOAK_CI_SECONDS ?? 6);

let database: TestDatabase;
let result: SoakResult;

before(async () => {
  database = await createTestDatabase({ migrate: false });
  result = await runSoak({ databaseUrl: database.url, durationMs: SECONDS * 1000, sampleMs: 1000, pauseMs: 25 });
  console.log(`# reliability: soak (CI, ${SECONDS} s)\n${soakMarkdown(result, `npm test, ${SECONDS} s`)}`);
});
after(() => database?.drop());

test('mixed load with a revocation halfway: every answer is what the scenario expects, and Keygate keeps running', () => {
  assert.ok(result.requests > 50, `only ${result.requests} requests`);
  // No tolerance: the one 502 an earlier soak saw (a GET on a pooled connection Gogs was closing,
  // docs/reliability.md finding 9) is now retried on a fresh connection (test/proxy-stale-connection).
  assert.deepEqual(result.unexpected, [], 'no unexpected answers');
  assert.equal(result.keygateExited, false);
  assert.equal(result.stderr, '');
  for (const kind of [
    'page view',
    'sign-in-verify',
    'page view (new session)',
    'git-info-refs',
    'git-upload-pack',
    'account page',
    'page view (revoked halfway)',
  ]) {
    assert.ok(
      result.kinds.some((k) => k.kind === kind && k.expected > 0),
      `${kind} ran`,
    );
  }
});

test('the revoked session is refused after the revocation, for the rest of the run', () => {
  assert.notEqual(result.revocation.firstRefusedAfterMs, null, 'the victim was refused');
  assert.ok(result.revocation.refusedAfter > 0);
  // Pages sent after the revocation and served are only those already in flight (unexpected otherwise).
});

test('open file descriptors and memory stay within generous bounds once warm', () => {
  const f = result.flatness;
  assert.ok(f.fdsMax - f.fdsMin <= 40, `open FDs ranged ${f.fdsMin}–${f.fdsMax}`);
  assert.ok(f.fdsLast <= f.fdsFirst + 20, `open FDs grew ${f.fdsFirst} → ${f.fdsLast}`);
  assert.ok(f.rssMaxMiB <= f.rssFirstMiB + 150, `RSS grew ${f.rssFirstMiB} → max ${f.rssMaxMiB} MiB`);
  assert.ok(f.heapMaxMiB > 0 && f.heapMaxMiB <= f.heapFirstMiB + 100, `heap grew ${f.heapFirstMiB} → max ${f.heapMaxMiB} MiB`);
});

test('the session cache forgets expired entries as new ones come in: its size follows the TTL, not the sessions ever seen', async () => {
  const { SessionCache } = await import('../server/session/cache.js');
  const cache = new SessionCache(1_000, 100);
  cache.goLive(0);
  // 1000 sessions, one every 10 ms of (simulated) time: about 100 fit in a one-second TTL.
  for (let i = 0; i < 1000; i++) cache.set(`s${i}`, null, i * 10);
  assert.ok(cache.size <= 102, `cache holds ${cache.size} entries`);
  // An entry seen again moves to the back, so it is not dropped while fresh.
  cache.set('s990', null, 10_000);
  for (let i = 0; i < 50; i++) cache.set(`t${i}`, null, 10_000 + i);
  assert.equal(cache.get('s990', 10_100), null);
  assert.equal(cache.get('s0', 10_100), undefined);
});

/**
 * Issue 4, class 7: rate limits per address on every ceremony endpoint and on invite redemption,
 * per typed username on username-first options, and per credential owner on failed sign-ins;
 * shared by every instance through PostgreSQL; 429 with Retry-After; audited; fail closed.
 *
 * The instances here trust a front proxy (TRUST_PROXY=true), so each test picks its own client
 * address through X-Forwarded-For (the last entry, as a TLS terminator appends it) and does not
 * spend another test's budget.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { loadConfig, ConfigError } from '../server/config.js';
import { clientAddress, rateLimitSubject } from '../server/ratelimit/client-address.js';
import { rateLimitEvents, type RateLimitRejected } from '../server/ratelimit/limits.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import type { ClientResponse } from './support/client.js';
import { enrolledUser, HeaderClient, invite, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const IP_LIMIT = 5;
const USERNAME_LIMIT = 3;
const LIMITS = { RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT), RATE_LIMIT_USERNAME_PER_15MIN: String(USERNAME_LIMIT), TRUST_PROXY: 'true' };

let nextAddress = 1;
/** A fresh client address (TEST-NET-2; only ever written into a header). */
const newAddress = () => `198.51.100.${nextAddress++}`;

/** A browser tab at this address, on kg (whose public origin may be another instance's). */
const browserAt = (kg: TestKeygate, address: string, origin = kg.origin) => new HeaderClient(kg.url, origin, { 'x-forwarded-for': address });

function assertRateLimited(res: ClientResponse, what: string, maxRetryAfter: number): number {
  assert.equal(res.status, 429, `${what}: ${res.text}`);
  const retryAfter = res.headers.get('retry-after');
  assert.match(retryAfter ?? '', /^\d+$/, `${what}: Retry-After in seconds`);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1 && seconds <= maxRetryAfter, `${what}: Retry-After ${seconds}`);
  return seconds;
}

function assertJson429(res: ClientResponse, what: string, maxRetryAfter: number): void {
  assertRateLimited(res, what, maxRetryAfter);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.json?.error?.code, 'rate_limited');
  assert.match(res.json.error.message, /^Too many attempts\. Wait \d+ (seconds?|minutes), then try again\.$/);
}

async function rateLimitedAudits(kg: TestKeygate, where: { ip?: string; username?: string }) {
  const { rows } = await kg.db.query<{
    actor: string;
    outcome: string;
    reason: string;
    subject_username: string | null;
    ip: string | null;
    details: Record<string, unknown>;
  }>(
    `SELECT actor, outcome, reason, subject_username, host(ip) AS ip, details FROM audit_events
      WHERE event = 'rate_limited' AND ($1::text IS NULL OR host(ip) = $1) AND ($2::text IS NULL OR subject_username = $2) ORDER BY id`,
    [where.ip ?? null, where.username ?? null],
  );
  return rows;
}

/** Every audit row written for requests from this address. */
async function auditRowsFrom(kg: TestKeygate, address: string): Promise<number> {
  return (await kg.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE host(ip) = $1`, [address])).rows[0].n;
}

describe('rate limits', () => {
  let kg: TestKeygate;
  /** A second instance on the same database and the same public origin. */
  let other: TestKeygate;

  before(async () => {
    kg = await startKeygate({ env: LIMITS });
    other = await startKeygate({ database: kg.database, upstream: kg.gogs, env: { ...LIMITS, PUBLIC_URL: kg.origin } });
  });
  after(async () => {
    await other.close();
    await kg.close();
  });

  describe('per client address', () => {
    test('past the limit a ceremony request gets 429 with Retry-After and a JSON error; another address is unaffected', async () => {
      const address = newAddress();
      const browser = browserAt(kg, address);
      for (let i = 0; i < IP_LIMIT; i++) {
        const res = await browser.post('/-/api/login/options', {});
        assert.equal(res.status, 200, `request ${i + 1}: ${res.text}`);
      }
      assertJson429(await browser.post('/-/api/login/options', {}), 'over the limit', 60);
      assertJson429(await browser.post('/-/api/login/verify', {}), 'another ceremony endpoint, same address', 60);

      const elsewhere = await browserAt(kg, newAddress()).post('/-/api/login/options', {});
      assert.equal(elsewhere.status, 200, 'the limit is per address');
    });

    test("sign-in options past the limit write nothing: the point and the ceremony's row are one statement, so a refused request leaves no row, sets no cookie, and leaves a browser's earlier ceremony as it was", async () => {
      const address = newAddress();
      const sessions = async () => (await kg.db.query<{ sid: string; sess: string }>(`SELECT sid, sess::text FROM session ORDER BY sid`)).rows;
      // The first options of this browser: a ceremony in a new session, its row and its cookie.
      const browser = browserAt(kg, address);
      const first = await browser.post('/-/api/login/options', {});
      assert.equal(first.status, 200, first.text);
      assert.ok(browser.cookieHeader(), 'the ceremony has its session cookie');
      for (let i = 1; i < IP_LIMIT; i++) assert.equal((await browserAt(kg, address).post('/-/api/login/options', {})).status, 200);
      const before = await sessions();

      // Crossing the limit (the statement counts the point and writes no row), with the browser's
      // session row in place; then a new browser, refused from memory.
      const again = await browser.post('/-/api/login/options', {});
      assertJson429(again, 'the browser with a ceremony, past the limit', 60);
      assert.deepEqual(again.setCookies, [], 'no cookie for a refused request');
      const fresh = await browserAt(kg, address).post('/-/api/login/options', {});
      assertJson429(fresh, 'a new browser, past the limit', 60);
      assert.deepEqual(fresh.setCookies, [], 'no cookie for a refused request');
      assert.deepEqual(await sessions(), before, 'no session row written or changed by the refused requests');
      const { rows } = await kg.db.query<{ points: number }>(`SELECT points FROM rate_limits WHERE key = $1`, [`ip:${address}`]);
      assert.equal(rows[0]?.points, IP_LIMIT + 1, 'the crossing request counted; the one refused from memory did not reach PostgreSQL');
    });

    test('a sign-in options body that is not JSON gets a 400 and takes no point: nothing is read or written for it', async () => {
      const address = newAddress();
      const browser = browserAt(kg, address);
      for (let i = 0; i < IP_LIMIT + 2; i++) {
        const res = await browser.request('/-/api/login/options', { method: 'POST', body: '{"username": ', headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 400, res.text);
        assert.deepEqual(res.setCookies, []);
      }
      const { rows } = await kg.db.query(`SELECT points FROM rate_limits WHERE key = $1`, [`ip:${address}`]);
      assert.deepEqual(rows, [], 'no point taken');
      assert.equal((await browser.post('/-/api/login/options', {})).status, 200, 'the address still has its whole budget');
    });

    test('every ceremony endpoint and invite redemption count against one budget, in any spelling', async () => {
      const token = await invite(kg, 'dora');
      const browser = browserAt(kg, newAddress());
      const spent = [
        await browser.get(`/-/enroll/${token}`),
        await browser.post('/-/api/enroll/options', { token }),
        await browser.post('/-/API/Login/options', {}),
        await browser.post('/-/api/step-up/options', {}),
        await browser.post('/-/api/account/devices/options', {}),
      ];
      assert.deepEqual(
        spent.map((r) => r.status),
        [200, 200, 200, 401, 401],
      );

      // Invite redemption: the message page, not JSON, with the same Retry-After.
      const page = await browser.get(`/-/enroll/${token}`);
      assertRateLimited(page, 'invite redemption', 60);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.text, /Too many attempts/);
      assert.doesNotMatch(page.text, new RegExp(token), 'the page does not echo the token');
      for (const path of ['/-/api/enroll/verify', '/-/api/step-up/verify', '/-/api/account/devices/verify', '/-/api/login/options/']) {
        assertJson429(await browser.post(path, {}), path, 60);
      }
    });

    test("a sign-in that succeeds spends only its options' point; every verify that fails spends one of its own", async () => {
      const key = new SoftwareAuthenticator();
      await enrolledUser(kg, browserAt(kg, newAddress()), key, 'iris');
      const points = async (address: string) =>
        (await kg.db.query<{ points: number }>(`SELECT points FROM rate_limits WHERE key = $1`, [`ip:${address}`])).rows[0]?.points;

      // As many sign-ins as the budget has points, each from a new tab at one address.
      const signingIn = newAddress();
      for (let i = 0; i < IP_LIMIT; i++) {
        const ok = await signIn(browserAt(kg, signingIn), key);
        assert.equal(ok.status, 200, `sign-in ${i + 1}: ${ok.text}`);
      }
      assert.equal(await points(signingIn), IP_LIMIT, 'one point per sign-in: its options');
      assertJson429(await browserAt(kg, signingIn).post('/-/api/login/options', {}), 'the budget is spent', 60);

      // Verifies that fail (here, with no ceremony at all) each count, and past the budget are refused.
      const failing = newAddress();
      const tab = browserAt(kg, failing);
      for (let i = 0; i < IP_LIMIT; i++) assert.equal((await tab.post('/-/api/login/verify', {})).status, 400, `failure ${i + 1}`);
      assert.equal(await points(failing), IP_LIMIT);
      assertJson429(await tab.post('/-/api/login/verify', {}), 'the next failure', 60);
      assertJson429(await tab.post('/-/api/login/options', {}), 'and any ceremony request', 60);
      // Refused from memory before anything else: no further point, no audit row of any kind.
      const rowsBefore = await auditRowsFrom(kg, failing);
      assertJson429(await tab.post('/-/api/login/verify', {}), 'a later verify', 60);
      assert.equal(await points(failing), IP_LIMIT + 1);
      assert.equal(await auditRowsFrom(kg, failing), rowsBefore);
      assert.equal((await rateLimitedAudits(kg, { ip: failing })).length, 1);
    });

    test('many verifies at once from one address write no more failure rows than its budget: each without a ceremony of its own pays before it is worked on', async () => {
      const address = newAddress();
      const sent = 4 * IP_LIMIT;
      // Without a session (no ceremony), with a garbage body, and with a body that is not JSON, all at once.
      const answers = await Promise.all(
        Array.from({ length: sent }, (_, i) =>
          i % 3 === 2
            ? browserAt(kg, address).request('/-/api/login/verify', { method: 'POST', body: '{"response": ', headers: { 'content-type': 'application/json' } })
            : browserAt(kg, address).post('/-/api/login/verify', i % 3 === 0 ? {} : { response: { id: 'x', rawId: 'x' } }),
        ),
      );
      const statuses = answers.map((r) => r.status);
      assert.equal(statuses.filter((st) => st === 400).length, IP_LIMIT, statuses.join(' '));
      assert.equal(statuses.filter((st) => st === 429).length, sent - IP_LIMIT, statuses.join(' '));
      const { rows } = await kg.db.query<{ event: string; n: number }>(
        `SELECT event, count(*)::int AS n FROM audit_events WHERE host(ip) = $1 GROUP BY event ORDER BY event`,
        [address],
      );
      assert.deepEqual(rows, [
        { event: 'rate_limited', n: 1 },
        { event: 'sign_in', n: IP_LIMIT },
      ]);
    });

    test('bodies refused for their size before Express count against the address too: past its budget they are refused without an audit row', async () => {
      const address = newAddress();
      const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
      const statuses: number[] = [];
      for (let i = 0; i < 2 * IP_LIMIT; i++) {
        const res = await browserAt(kg, address).request('/-/api/login/verify', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
        statuses.push(res.status);
      }
      assert.deepEqual([...new Set(statuses)], [413]);
      const { rows } = await kg.db.query<{ reason: string; n: number }>(
        `SELECT reason, count(*)::int AS n FROM audit_events WHERE host(ip) = $1 GROUP BY reason`,
        [address],
      );
      assert.deepEqual(rows, [{ reason: 'body_too_large', n: IP_LIMIT }]);
      assertJson429(await browserAt(kg, address).post('/-/api/login/options', {}), 'a ceremony request after them', 60);
    });

    test('Keygate pages outside the ceremonies and Gogs pages are not limited', async () => {
      const browser = browserAt(kg, newAddress());
      for (let i = 0; i < IP_LIMIT * 2; i++) {
        assert.equal((await browser.get('/-/login')).status, 200);
        assert.equal((await browser.get('/bob/repo')).status, 303);
      }
    });

    test('the first refusal is audited as rate_limited, once per window: later refusals write nothing', async () => {
      const address = newAddress();
      const browser = browserAt(kg, address);
      for (let i = 0; i < IP_LIMIT; i++) await browser.post('/-/api/login/options', {});
      for (let i = 0; i < 4; i++) assert.equal((await browser.post('/-/api/login/options', {})).status, 429);
      const rows = await rateLimitedAudits(kg, { ip: address });
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.deepEqual(
        { actor: rows[0].actor, outcome: rows[0].outcome, reason: rows[0].reason, route: rows[0].details.route, method: rows[0].details.method },
        { actor: 'anonymous', outcome: 'failure', reason: 'ip', route: '/-/api/login', method: 'POST' },
      );
    });

    test('two instances on one database share the count', async () => {
      const address = newAddress();
      const here = browserAt(kg, address);
      const there = browserAt(other, address, kg.origin);
      assert.equal((await here.post('/-/api/login/options', {})).status, 200);
      assert.equal((await there.post('/-/api/login/options', {})).status, 200);
      assert.equal((await here.post('/-/api/login/options', {})).status, 200);
      assert.equal((await there.post('/-/api/login/options', {})).status, 200);
      assert.equal((await here.post('/-/api/login/options', {})).status, 200);
      assertJson429(await there.post('/-/api/login/options', {}), 'the sixth, on the other instance', 60);
      const { rows } = await kg.db.query<{ points: number }>(`SELECT points FROM rate_limits WHERE key = $1`, [`ip:${address}`]);
      assert.equal(rows[0]?.points, IP_LIMIT + 1, "one row in PostgreSQL holds both instances' count");
    });

    test("a client cannot pick its own address: only the last X-Forwarded-For entry (the front proxy's) counts", async () => {
      const address = newAddress();
      for (let i = 0; i < IP_LIMIT; i++) {
        const spoofing = new HeaderClient(kg.url, kg.origin, { 'x-forwarded-for': `203.0.113.${i}, ${address}` });
        assert.equal((await spoofing.post('/-/api/login/options', {})).status, 200);
      }
      const again = new HeaderClient(kg.url, kg.origin, { 'x-forwarded-for': `203.0.113.99, ${address}` });
      assertJson429(await again.post('/-/api/login/options', {}), 'a new first entry', 60);
    });
  });

  describe('per username', () => {
    test('username-first options count against the typed name, lower-cased and trimmed', async () => {
      await enrolledUser(kg, browserAt(kg, newAddress()), new SoftwareAuthenticator({ residentKey: false }), 'erin');
      for (const typed of ['erin', 'ERIN', ' Erin ']) {
        const res = await browserAt(kg, newAddress()).post('/-/api/login/options', { username: typed });
        assert.equal(res.status, 200, typed);
      }
      const res = await browserAt(kg, newAddress()).post('/-/api/login/options', { username: 'eRiN' });
      assertJson429(res, 'the fourth, from a fresh address', 15 * 60);
      const other = await browserAt(kg, newAddress()).post('/-/api/login/options', { username: 'frank' });
      assert.equal(other.status, 200, 'another name has its own budget');
      const rows = await rateLimitedAudits(kg, { username: 'erin' });
      assert.deepEqual(
        rows.map((r) => r.reason),
        ['username'],
      );
    });

    test('an unknown name is limited exactly like a known one, so the limit tells nothing about who exists', async () => {
      const statuses = [];
      for (let i = 0; i <= USERNAME_LIMIT; i++)
        statuses.push((await browserAt(kg, newAddress()).post('/-/api/login/options', { username: 'nobody-here' })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    });

    test("failed sign-ins count against the credential's owner: past the limit a failure is 429, yet the key's holder still signs in", async () => {
      const key = new SoftwareAuthenticator();
      await enrolledUser(kg, browserAt(kg, newAddress()), key, 'gina');
      const statuses: number[] = [];
      let last: ClientResponse | undefined;
      for (let i = 0; i <= USERNAME_LIMIT; i++) {
        last = await signIn(browserAt(kg, newAddress()), key, { tamper: { badSignature: true } });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [400, 400, 400, 429]);
      assertJson429(last!, 'the fourth failure', 15 * 60);
      const rows = await rateLimitedAudits(kg, { username: 'gina' });
      assert.deepEqual(
        rows.map((r) => [r.reason, r.details.route]),
        [['sign_in_failures', '/-/api/login/verify']],
      );

      // No lock-out: a valid assertion is never refused by this limit (ASVS 6.1.1).
      const ok = await signIn(browserAt(kg, newAddress()), key);
      assert.equal(ok.status, 200, ok.text);
    });

    test('failures with an unregistered credential id get the same budget as a registered one', async () => {
      const key = new SoftwareAuthenticator();
      await enrolledUser(kg, browserAt(kg, newAddress()), key, 'hank');
      const unknownId = randomBytes(32).toString('base64url');
      const statuses: number[] = [];
      for (let i = 0; i <= USERNAME_LIMIT; i++) {
        statuses.push((await signIn(browserAt(kg, newAddress()), key, { tamper: { credentialId: unknownId } })).status);
      }
      assert.deepEqual(statuses, [400, 400, 400, 429]);
    });
  });

  describe('the hook for metrics', () => {
    test('each refusal is announced on RateLimits.events and rateLimitEvents, with a fixed-set limit name', async () => {
      const seen: RateLimitRejected[] = [];
      const listener = (e: RateLimitRejected) => seen.push(e);
      rateLimitEvents.on('rejected', listener);
      try {
        const browser = browserAt(kg, newAddress());
        for (let i = 0; i < IP_LIMIT + 2; i++) await browser.post('/-/api/enroll/options', { token: 'x' });
      } finally {
        rateLimitEvents.off('rejected', listener);
      }
      assert.deepEqual(
        seen.map((e) => [e.limit, e.route]),
        [
          ['ip', '/-/api/enroll'],
          ['ip', '/-/api/enroll'],
        ],
      );
      assert.ok(seen.every((e) => e.retryAfterSeconds >= 1 && e.retryAfterSeconds <= 60));
    });
  });
});

describe('rate limits when PostgreSQL fails', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: LIMITS });
  });
  after(() => kg.close());

  test('ceremonies fail closed with 503 and Retry-After, Keygate keeps running, and recovers', async () => {
    const unavailable: string[] = [];
    const listener = (e: { limit: string }) => unavailable.push(e.limit);
    rateLimitEvents.on('unavailable', listener);
    const browser = browserAt(kg, newAddress());
    await kg.db.query('ALTER TABLE rate_limits RENAME TO rate_limits_gone');
    try {
      const res = await browser.post('/-/api/login/options', {});
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(res.json?.error?.code, 'unavailable');
      assert.doesNotMatch(res.text, /rate_limits|relation|postgres|at .+:\d+/i, 'no internals in the answer');
      const page = await browser.get('/-/login');
      assert.equal(page.status, 200, 'pages outside the ceremonies keep working');
    } finally {
      await kg.db.query('ALTER TABLE rate_limits_gone RENAME TO rate_limits');
      rateLimitEvents.off('unavailable', listener);
    }
    assert.deepEqual(unavailable, ['ip']);
    assert.equal((await browser.post('/-/api/login/options', {})).status, 200, 'back once the store is');
  });
});

describe('rate limit settings', () => {
  test('defaults: 60 per address per minute, 20 per username per 15 minutes; both configurable', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.rateLimitIpPerMinute, 60);
    assert.equal(defaults.rateLimitUsernamePer15Min, 20);
    const set = loadConfig({ RATE_LIMIT_IP_PER_MINUTE: '120', RATE_LIMIT_USERNAME_PER_15MIN: ' 5 ' });
    assert.equal(set.rateLimitIpPerMinute, 120);
    assert.equal(set.rateLimitUsernamePer15Min, 5);
  });

  for (const [name, value] of [
    ['RATE_LIMIT_IP_PER_MINUTE', '0'],
    ['RATE_LIMIT_IP_PER_MINUTE', '-1'],
    ['RATE_LIMIT_IP_PER_MINUTE', '1.5'],
    ['RATE_LIMIT_USERNAME_PER_15MIN', 'many'],
    ['RATE_LIMIT_USERNAME_PER_15MIN', '1e3'],
  ]) {
    test(`${name}="${value}" is refused, naming ${name}`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(`${name}:`)),
      );
    });
  }
});

describe('clientAddress', () => {
  const req = (remoteAddress: string, forwarded?: string) =>
    ({ socket: { remoteAddress }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as IncomingMessage;

  test('without TRUST_PROXY it is the TCP peer, whatever X-Forwarded-For says', () => {
    assert.equal(clientAddress(req('192.0.2.1', '203.0.113.5'), false), '192.0.2.1');
  });

  test('with TRUST_PROXY it is the last X-Forwarded-For entry, if it is an address', () => {
    assert.equal(clientAddress(req('10.0.0.2', '203.0.113.5, 192.0.2.9'), true), '192.0.2.9');
    assert.equal(clientAddress(req('10.0.0.2', 'junk'), true), '10.0.0.2');
    assert.equal(clientAddress(req('10.0.0.2'), true), '10.0.0.2');
  });

  test('IPv6 counts by /64, IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(rateLimitSubject('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(rateLimitSubject('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(rateLimitSubject('2001:DB8:1:2::ffff'), '2001:db8:1:2::/64');
    assert.equal(rateLimitSubject('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(rateLimitSubject('::1'), '0:0:0:0::/64');
    assert.equal(rateLimitSubject('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(rateLimitSubject('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  });
});

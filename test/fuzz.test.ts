/**
 * Issue 4, "a small fuzz run of the JSON ceremony endpoints": bounded, seeded and reproducible.
 *
 * FUZZ_CASES malformed requests (default 250) go to /-/api/login/options, /-/api/login/verify,
 * /-/api/enroll/options, /-/api/enroll/verify and /-/api/step-up/verify. Every verify request
 * follows a ceremony started on the same session, and most are built from a genuine response to
 * that very ceremony (made by the software authenticator) and then broken: so they get past the
 * body parser and the schema and reach the WebAuthn library, CBOR and base64url decoding.
 * Bodies: random JSON of any shape, the right keys with wrong types, huge strings under 64 KiB,
 * bad base64url, truncated or ill-typed CBOR inside valid JSON, nested garbage, bytes that are not
 * JSON, wrong content types and encodings, and bodies over the limit.
 *
 * Asserted for every response: never 5xx; a 2xx is JSON (options only: a verify never succeeds,
 * since every verify body is broken on purpose), anything else is JSON with error.code and
 * error.message; no stack trace. Afterwards the users, credentials and invites tables are exactly
 * as before. Audit rows are written for the failed ceremonies (sign_in, invite_redeemed and
 * step_up_failed failures): that is expected and only counted.
 *
 * The seed is printed; FUZZ_SEED=<n> npm test -- fuzz replays the same run.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { decodeCBOR, encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';
import type { Db } from '../server/db/pool.js';
import { cborItemEnd, isUsablePublicKey } from '../server/webauthn/well-formed.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { Rng } from './support/rng.js';
import { enrolledUser, invite } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const CASES = Number(process.env.FUZZ_CASES ?? 250);
const BODY_LIMIT = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Generators

const KEYS = [
  'response',
  'token',
  'username',
  'mode',
  'returnTo',
  'nickname',
  'id',
  'rawId',
  'type',
  'clientDataJSON',
  'authenticatorData',
  'signature',
  'userHandle',
  'attestationObject',
  '__proto__',
  'constructor',
  'toString',
  '',
];
const ODD_CHARS = ['\u0000', '\u0007', '\n', '"', '\\', '\u202e', '\ud800', '\udfff', 'é', '😀', '%00', '../', '<script>', "'", ' ', '\u2028'];
const BAD_B64URL_CHARS = ['!', '+', '/', ' ', '.', '~', '%', 'é', '\u0000', '*', '"', '\n'];

function randomString(r: Rng, max = 40): string {
  let s = '';
  const n = r.int(max);
  for (let i = 0; i < n; i++) s += r.chance(0.3) ? r.pick(ODD_CHARS) : String.fromCharCode(32 + r.int(95));
  return s;
}

function hugeString(r: Rng): string {
  // Large, but the whole body stays under the 64 KiB limit.
  return r.pick(['A', 'é', '0', '-_']).repeat(20_000 + r.int(10_000));
}

function deepNest(r: Rng): unknown {
  let v: unknown = r.pick([null, 1, 'x', {}]);
  const depth = 20 + r.int(800);
  for (let i = 0; i < depth; i++) v = r.chance(0.5) ? [v] : { a: v };
  return v;
}

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 10)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53 + 1, 123456789012345, Number.MIN_VALUE]);
    case 3:
      return randomString(r);
    case 4:
      return r.bytes(r.int(80)).toString('base64url');
    case 5:
      return r.chance(0.1) ? hugeString(r).slice(0, 4000) : randomString(r, 200);
    case 6:
    case 7: {
      const a: unknown[] = [];
      for (let i = r.int(5); i > 0; i--) a.push(randomJson(r, depth + 1));
      return a;
    }
    case 8: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(6); i > 0; i--) o[r.chance(0.6) ? r.pick(KEYS) : randomString(r, 12)] = randomJson(r, depth + 1);
      return o;
    }
    default:
      return deepNest(r);
  }
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** CBOR of the wrong shape for an attestation object: other types, missing or extra fields. */
function wrongCbor(r: Rng): Buffer {
  const values: CBORType[] = [123, -1, 'none', r.bytes(r.int(40)), [], new Map(), true, null];
  const m = new Map<string | number, CBORType>();
  for (let i = r.int(4); i > 0; i--) m.set(r.pick(['fmt', 'attStmt', 'authData', 1, -1, 'x']), r.pick(values));
  return Buffer.from(encodeCBOR(r.chance(0.8) ? m : r.pick(values)));
}

/**
 * A change to a base64url field the ceremony verifies, that certainly changes its bytes (so the
 * response can no longer verify) or makes it unreadable.
 */
function breakField(r: Rng, original: unknown, kind: 'json' | 'cbor' | 'bytes', signed: boolean): unknown {
  // Broken once already (picked twice): break what is left of it.
  const value = typeof original === 'string' ? original : 'AA';
  const bytes = Buffer.from(value, 'base64url');
  switch (r.int(8)) {
    case 0:
      // Truncated: at least one byte is lost (also truncated CBOR or JSON inside valid JSON).
      return b64url(bytes.subarray(0, r.int(bytes.length)));
    case 1: {
      // A character base64url does not have, inside the value.
      const at = r.int(value.length);
      return value.slice(0, at) + r.pick(BAD_B64URL_CHARS) + value.slice(at);
    }
    case 2:
      return b64url(r.bytes(1 + r.int(300)));
    case 3:
      return randomJson(r, 2) ?? 0;
    case 4:
      return hugeString(r);
    case 5:
      if (kind === 'json') {
        const text = bytes.toString('utf8');
        return b64url(Buffer.from(r.chance(0.5) ? text.slice(0, r.int(text.length)) : (JSON.stringify(randomJson(r, 1)) ?? 'null')));
      }
      if (kind === 'cbor') return b64url(wrongCbor(r));
      return b64url(Buffer.concat([bytes, r.bytes(1 + r.int(40))]));
    case 6:
      // The same bytes, one flipped (a flag, the signature...). Only where a signature covers them:
      // a 'none' attestation signs nothing, so a flipped bit there could still be a valid response.
      if (!signed) return b64url(bytes.subarray(0, r.int(bytes.length)));
      {
        const copy = Buffer.from(bytes);
        if (copy.length === 0) return 'A';
        copy[r.int(copy.length)] ^= 1 << r.int(8);
        return b64url(copy);
      }
    default:
      return kind === 'json' ? b64url(Buffer.from(JSON.stringify({ type: randomJson(r, 3), challenge: randomJson(r, 3), origin: randomJson(r, 3) }))) : '';
  }
}

/** Sets or deletes a random field anywhere in a body (these alone may leave a response valid). */
function garble(r: Rng, body: Record<string, any>): void {
  const response = body.response && typeof body.response === 'object' ? body.response : undefined;
  const targets: Array<[Record<string, any>, string]> = [[body, r.pick(KEYS)]];
  if (response) {
    targets.push([response, r.pick(['id', 'rawId', 'type', 'clientExtensionResults', 'authenticatorAttachment', 'extra'])]);
    if (response.response && typeof response.response === 'object')
      targets.push([response.response, r.pick(['transports', 'userHandle', 'publicKey', 'extra'])]);
  }
  const [obj, key] = r.pick(targets);
  if (r.chance(0.3)) delete obj[key];
  else obj[key] = r.chance(0.2) ? deepNest(r) : randomJson(r, 1);
}

// ---------------------------------------------------------------------------------------------
// Requests

type Endpoint = 'login/options' | 'login/verify' | 'enroll/options' | 'enroll/verify' | 'step-up/verify';
const ENDPOINTS: readonly Endpoint[] = ['login/options', 'login/verify', 'enroll/options', 'enroll/verify', 'step-up/verify'];

interface FuzzRequest {
  kind: string;
  body: Buffer;
  headers: Record<string, string>;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');

/** Turns a body that is already broken into one of many malformed requests. */
function dress(r: Rng, kind: string, broken: unknown): FuzzRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const text = JSON.stringify(broken) ?? 'null';
  switch (r.int(14)) {
    case 0:
      return { kind: 'not JSON: random bytes', body: r.bytes(r.int(2000)), headers };
    case 1:
      return { kind: 'not JSON: truncated', body: Buffer.from(text.slice(0, r.int(text.length))), headers };
    case 2:
      return { kind: 'not JSON: trailing garbage', body: Buffer.from(`${text}${r.pick(['}', ']', ',', 'x', '\u0000', '{"a":1}'])}`), headers };
    case 3:
      return { kind: 'JSON scalar', body: json(r.pick([1, 'x', null, true, [1]])), headers };
    case 4:
      return {
        kind: `content-type ${(headers['content-type'] = r.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=nope', 'application/jsonx', '*/*', ';;', 'APPLICATION/JSON']))}`,
        body: Buffer.from(text),
        headers,
      };
    case 5: {
      delete headers['content-type'];
      return { kind: 'no content-type', body: Buffer.from(text), headers };
    }
    case 6:
      headers['content-encoding'] = r.pick(['gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip']);
      return { kind: `content-encoding ${headers['content-encoding']}: not encoded`, body: Buffer.from(text), headers };
    case 7:
      headers['content-encoding'] = 'gzip';
      return { kind: 'gzip-encoded', body: gzipSync(Buffer.from(text)), headers };
    case 8:
      return { kind: 'over the body limit', body: Buffer.from(JSON.stringify({ pad: 'A'.repeat(BODY_LIMIT + r.int(4096)), broken })), headers };
    case 9:
      return {
        kind: 'gzip bomb-ish: over the limit once inflated',
        body: gzipSync(Buffer.from(JSON.stringify({ pad: '0'.repeat(BODY_LIMIT * 4) }))),
        headers: { ...headers, 'content-encoding': 'gzip' },
      };
    case 10:
      return { kind: 'UTF-8 BOM and odd whitespace', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(` \t\n${text}\n`)]), headers };
    case 11:
      return {
        kind: 'invalid UTF-8 inside strings',
        body: Buffer.concat([
          Buffer.from('{"username":"'),
          Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
          Buffer.from('","response":'),
          Buffer.from(text),
          Buffer.from('}'),
        ]),
        headers,
      };
    default:
      return { kind, body: Buffer.from(text), headers };
  }
}

// ---------------------------------------------------------------------------------------------

interface Observed {
  endpoint: Endpoint;
  kind: string;
  status: number;
  code: string | undefined;
}

/** The rows no malformed request may change: users, credentials and invites, whole. */
async function protectedRows(db: Db) {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    users: await q('SELECT * FROM users ORDER BY id'),
    credentials: await q('SELECT * FROM credentials ORDER BY id'),
    invites: await q('SELECT * FROM invites ORDER BY id'),
  };
}

function assertNoStackTrace(text: string, what: string): void {
  assert.doesNotMatch(text, /\n\s+at\s|\bat (?:async )?[\w.$<>]+ \(|node:internal|node_modules|\/work\/|\.[jt]s:\d+|\bstack\b|Error:/i, what);
}

describe(`fuzz: ceremony endpoints (seed ${SEED}, ${CASES} cases)`, () => {
  let kg: TestKeygate;
  /** Anonymous: sign-in and enrolment ceremonies. */
  let anon: TestClient;
  /** Signed in as fuzzer: step-up ceremonies. */
  let signedIn: TestClient;
  let key: SoftwareAuthenticator;
  const enrolKey = new SoftwareAuthenticator();
  let token: string;

  before(async () => {
    // Every request comes from one address in a few seconds: raise the limits far above the run.
    kg = await startKeygate({ env: { RATE_LIMIT_IP_PER_MINUTE: '1000000', RATE_LIMIT_USERNAME_PER_15MIN: '1000000' } });
    key = new SoftwareAuthenticator();
    signedIn = new TestClient(kg.url);
    await enrolledUser(kg, signedIn, key, 'fuzzer');
    token = await invite(kg, 'newcomer');
    anon = new TestClient(kg.url);
  });
  after(() => kg.close());

  /** Starts a ceremony on the right session; returns the client and a genuine body for it. */
  async function start(endpoint: Endpoint): Promise<{ client: TestClient; genuine: Record<string, any> }> {
    switch (endpoint) {
      case 'login/options':
        return { client: anon, genuine: { username: 'fuzzer' } };
      case 'enroll/options':
        return { client: anon, genuine: { token } };
      case 'login/verify': {
        const options = await anon.post('/-/api/login/options', {});
        assert.equal(options.status, 200, options.text);
        return { client: anon, genuine: { response: await key.authenticate(options.json, kg.origin), returnTo: '/' } };
      }
      case 'enroll/verify': {
        const options = await anon.post('/-/api/enroll/options', { token });
        assert.equal(options.status, 200, options.text);
        return { client: anon, genuine: { token, response: await enrolKey.register(options.json, kg.origin), nickname: 'fuzz' } };
      }
      case 'step-up/verify': {
        const options = await signedIn.post('/-/api/step-up/options', {});
        assert.equal(options.status, 200, options.text);
        return { client: signedIn, genuine: { response: await key.authenticate(options.json, kg.origin) } };
      }
    }
  }

  /** A broken body for the endpoint, built from the genuine one or from nothing. */
  function brokenBody(r: Rng, endpoint: Endpoint, genuine: Record<string, any>): { kind: string; body: unknown } {
    const choice = r.int(10);
    if (choice === 0) return { kind: 'random JSON', body: randomJson(r) };
    if (choice === 1) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(genuine)) o[k] = randomJson(r, 1);
      return { kind: 'right keys, wrong types', body: o };
    }
    if (choice === 2) return { kind: 'nested garbage', body: { ...genuine, response: deepNest(r), [r.pick(KEYS)]: deepNest(r) } };
    const body = structuredClone(genuine);
    if (endpoint === 'login/options' || endpoint === 'enroll/options') {
      const field = endpoint === 'login/options' ? r.pick(['username', 'mode']) : 'token';
      body[field] = r.pick([randomString(r), hugeString(r), randomJson(r, 1), `${token}${r.pick(BAD_B64URL_CHARS)}`, ' '.repeat(r.int(100))]);
      if (r.chance(0.5)) garble(r, body);
      return { kind: `options: odd ${field}`, body };
    }
    // Verify: break at least one field the ceremony checks, then maybe garble others.
    const inner = body.response.response as Record<string, string>;
    const targets: Array<[string, 'json' | 'cbor' | 'bytes']> =
      endpoint === 'enroll/verify'
        ? [
            ['clientDataJSON', 'json'],
            ['attestationObject', 'cbor'],
          ]
        : [
            ['clientDataJSON', 'json'],
            ['authenticatorData', 'bytes'],
            ['signature', 'bytes'],
          ];
    const broken: string[] = [];
    for (let i = 1 + r.int(targets.length); i > 0; i--) {
      const [field, kind] = r.pick(targets);
      inner[field] = breakField(r, inner[field], kind, endpoint !== 'enroll/verify') as string;
      broken.push(field);
    }
    for (let i = r.int(3); i > 0; i--) garble(r, body);
    return { kind: `genuine, broken ${[...new Set(broken)].join('+')}`, body };
  }

  test('no malformed body gets a 5xx, a stack trace or a non-JSON answer, and none changes a user, credential or invite', async (t) => {
    t.diagnostic(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} npm test -- fuzz)`);
    process.stdout.write(`# fuzz seed ${SEED}\n`);
    const before = await protectedRows(kg.db);
    const auditBefore = Number((await kg.db.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
    const r = new Rng(SEED);
    const seen: Observed[] = [];

    for (let i = 0; i < CASES; i++) {
      const endpoint = r.pick(ENDPOINTS);
      const { client, genuine } = await start(endpoint);
      const { kind, body } = brokenBody(r, endpoint, genuine);
      const request = r.chance(0.5) ? dress(r, kind, body) : { kind, body: json(body), headers: { 'content-type': 'application/json' } };
      if (r.chance(0.05)) request.headers['x-fuzz-no-origin'] = '1';
      const headers: Record<string, string> = { ...request.headers };
      const noOrigin = headers['x-fuzz-no-origin'] === '1';
      delete headers['x-fuzz-no-origin'];
      if (!noOrigin) headers.origin = kg.origin;
      const cookie = client.cookieHeader();
      if (cookie) headers.cookie = cookie;

      const what = `case ${i} (seed ${SEED}): POST /-/api/${endpoint}, ${request.kind}${noOrigin ? ', no Origin' : ''}`;
      const res = await fetch(new URL(`/-/api/${endpoint}`, kg.url), { method: 'POST', headers, body: new Uint8Array(request.body), redirect: 'manual' });
      const text = await res.text();
      let parsed: any;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      seen.push({ endpoint, kind: request.kind, status: res.status, code: parsed?.error?.code });

      assert.ok(res.status < 500, `${what}: ${res.status} ${text.slice(0, 300)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: ${res.status} ${text.slice(0, 300)}`);
      assert.ok(parsed !== undefined, `${what}: the answer is not JSON`);
      assertNoStackTrace(text, what);
      if (res.status >= 200 && res.status < 300) {
        assert.ok(endpoint.endsWith('/options'), `${what}: a broken verify body succeeded: ${text.slice(0, 300)}`);
        assert.equal(typeof parsed.challenge, 'string', `${what}: options without a challenge`);
      } else {
        assert.equal(typeof parsed?.error?.code, 'string', `${what}: no error.code: ${text.slice(0, 300)}`);
        assert.equal(typeof parsed.error.message, 'string', `${what}: no error.message`);
      }
    }

    assert.deepEqual(await protectedRows(kg.db), before, 'no user, credential or invite changed');
    const auditAfter = Number((await kg.db.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);

    const byStatus = new Map<string, number>();
    for (const o of seen) byStatus.set(`${o.status} ${o.code ?? 'ok'}`, (byStatus.get(`${o.status} ${o.code ?? 'ok'}`) ?? 0) + 1);
    t.diagnostic(
      `answers: ${[...byStatus]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
    );
    t.diagnostic(`audit rows written for the failed ceremonies (expected): ${auditAfter - auditBefore}`);
    // The run must have reached the WebAuthn checks, not only the body parser and the schema.
    const deep = seen.filter(
      (o) =>
        o.endpoint.endsWith('/verify') &&
        o.code !== undefined &&
        !['malformed_json', 'body_too_large', 'unsupported_encoding', 'bad_request', 'invalid_request', 'cross_origin', 'malformed_response'].includes(o.code),
    );
    // About 1 case in 20 gets there (12 of 250 on average); 1 in 100 keeps the check from failing by
    // chance (seed 609538598 got only 5 of 250, below the 1 in 40 this asked before).
    assert.ok(deep.length >= Math.floor(CASES / 100), `only ${deep.length} cases reached the WebAuthn checks`);
    t.diagnostic(`verify requests refused by the WebAuthn checks themselves: ${deep.length}`);
  });
});

describe('fuzz findings, kept as regression tests', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate();
  });
  after(() => kg.close());

  /** A genuine registration for a fresh invite, with its attestation object changed by `change`. */
  async function enrolWith(change: (attestation: Buffer) => Buffer) {
    const token = await invite(kg, `cbor${randomInt(1e6)}`);
    const client = new TestClient(kg.url);
    const options = await client.post('/-/api/enroll/options', { token });
    const response = await new SoftwareAuthenticator().register(options.json, kg.origin);
    const genuine = Buffer.from(response.response.attestationObject, 'base64url');
    response.response.attestationObject = change(genuine).toString('base64url');
    return client.post('/-/api/enroll/verify', { token, response });
  }

  test('a truncated attestation object (its CBOR shorter than its header says) is refused and stores nothing', async () => {
    const res = await enrolWith((a) => a.subarray(0, a.length - 7));
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'malformed_response');
    const { users, credentials, invites } = await protectedRows(kg.db);
    assert.deepEqual([users, credentials], [[], []]);
    assert.ok(
      invites.every((i) => i.used_at === null),
      'the invite is still unused',
    );
  });

  test('authenticator data whose public key is cut short inside well-formed CBOR is refused', async () => {
    const res = await enrolWith((a) => {
      const map = decodeCBOR(new Uint8Array(a)) as Map<string, CBORType>;
      const authData = map.get('authData') as Uint8Array;
      map.set('authData', authData.subarray(0, authData.length - 7));
      return Buffer.from(encodeCBOR(map));
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'malformed_response');
  });

  test('cborItemEnd and isUsablePublicKey', () => {
    assert.equal(cborItemEnd(Uint8Array.from([0x43, 1, 2, 3]), 0), 4);
    assert.equal(cborItemEnd(Uint8Array.from([0x43, 1, 2]), 0), -1, 'a byte string shorter than its header');
    assert.equal(cborItemEnd(Uint8Array.from([0xa1, 0x01]), 0), -1, 'a map missing its value');
    assert.equal(cborItemEnd(Uint8Array.from([0x5f, 0x41, 0x00, 0xff]), 0), -1, 'indefinite length');
    assert.equal(cborItemEnd(Uint8Array.from([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0), -1, 'a huge count');
    const x = randomBytesOf(32);
    const ed25519 = (xs: Uint8Array) =>
      encodeCBOR(
        new Map<number, CBORType>([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, xs],
        ]),
      );
    assert.equal(isUsablePublicKey(ed25519(x)), true);
    assert.equal(isUsablePublicKey(ed25519(x.subarray(0, 25))), false);
    assert.equal(
      isUsablePublicKey(
        encodeCBOR(
          new Map<number, CBORType>([
            [1, 2],
            [3, -7],
            [-1, 1],
            [-2, x],
            [-3, x],
          ]),
        ),
      ),
      false,
      'not a point on P-256',
    );
  });
});

function randomBytesOf(n: number): Uint8Array {
  // Any 32 bytes are a valid Ed25519 public key encoding for node:crypto's import.
  return new Uint8Array(Buffer.alloc(n, 7));
}

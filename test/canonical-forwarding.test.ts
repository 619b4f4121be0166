/**
 * Security review findings 1 and 2, and the Gogs session cookie: Gogs must never read a byte
 * Keygate did not understand. Keygate forwards to the Go reader (test/support/goreader), which
 * reads each request with the Go standard-library calls Gogs 0.14.3 makes (Header.Get,
 * strings.Fields on Authorization, tool.BasicAuthDecode, Request.Cookie + QueryUnescape), so the
 * assertions see what Gogs would see, not what a JavaScript re-implementation thinks it would.
 *
 * The second half is a differential fuzz run: random and mutated requests through Keygate, the
 * bytes Gogs would receive parsed by Go and by Node, and no request in which Go's reading yields
 * an identity, credentials or a Gogs session that Keygate's reading did not authorise.
 * FUZZ_SEED=<n> replays a run; FUZZ_CASES sets its size (default 400).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse as parseCookies } from 'cookie';
import { judgeAuthorization, type ForwardedCredentials } from '../server/proxy/authorization.js';
import { classifyPath, normalizePath } from '../server/proxy/paths.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { Rng } from './support/rng.js';
import { enrolledUser } from './support/flows.js';
import { startGoReader, type GoReader, type GoReading } from './support/goreader.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const CASES = Number(process.env.FUZZ_CASES ?? 400);

/** Keygate's configured identity header: spelt with "_", which Go keeps apart from "-". */
const CONFIGURED = 'X_AUTH_USER';
/** Every name the Go reader reads with Header.Get, as Gogs would under one configuration or another. */
const WATCHED = [CONFIGURED, 'X-Auth-User', 'X-WEBAUTH-USER', 'X_WEBAUTH_USER', 'Remote-User', 'X-Forwarded-User', 'X-Remote-User'];
const TOKEN = '0123456789abcdef0123456789abcdef01234567';
const GOGS_SESSION = '5eed0fca11ab1e00';

let kg: TestKeygate;
let reader: GoReader;
let nodeReader: NodeReader;
/** alice's browser: its Cookie header (Keygate session, and the Gogs session cookie Keygate sealed). */
let keygateCookie: string;
let sealedGogsCookie: string;

// ---------------------------------------------------------------------------------------------
// Raw requests: bytes in, status, headers and body out (nothing normalised by a client library).

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** What Go read, when the request reached the upstream. */
  reading: GoReading | null;
}

function exchange(url: string, request: Buffer): Promise<Answer> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    // Not half-closed: Node's server would abort a request whose client has ended its side.
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const headEnd = all.indexOf('\r\n\r\n');
      if (headEnd === -1) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.slice(0, 200))}`));
      const [statusLine, ...lines] = all.slice(0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = all.slice(headEnd + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '';
        for (let i = 0; ;) {
          const eol = body.indexOf('\r\n', i);
          const size = parseInt(body.slice(i, eol), 16);
          if (!size) break;
          out += body.slice(eol + 2, eol + 2 + size);
          i = eol + 2 + size + 2;
        }
        body = out;
      }
      const reading = headers['x-goreader'] === '1' ? (JSON.parse(Buffer.from(body, 'latin1').toString('utf8')) as GoReading) : null;
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, reading });
    });
  });
}

/** A request as bytes: each header value a latin1 string (one character per byte) or a Buffer. */
function request(method: string, target: string, headers: Array<[string, string | Buffer]>, body = ''): Buffer {
  const parts: Buffer[] = [Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`, 'latin1')];
  for (const [name, value] of headers)
    parts.push(Buffer.from(`${name}: `, 'latin1'), typeof value === 'string' ? Buffer.from(value, 'latin1') : value, Buffer.from('\r\n'));
  if (body || method === 'POST') parts.push(Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n`));
  parts.push(Buffer.from('\r\n'), Buffer.from(body));
  return Buffer.concat(parts);
}

const utf8AsLatin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

// ---------------------------------------------------------------------------------------------
// Node's reading of the same forwarded bytes: a plain Node server, sent the raw bytes Go received.

interface NodeReader {
  read(raw: Buffer): Promise<http.IncomingHttpHeaders>;
  close(): Promise<void>;
}

async function startNodeReader(): Promise<NodeReader> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify(req.headers)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    async read(raw) {
      // The forwarded request, with its connection closed after it (it was keep-alive to Gogs).
      const text = raw.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const head = text.slice(0, headEnd).replace(/\r\nconnection: [^\r]*/i, '');
      const answer = await exchange(
        url,
        Buffer.concat([Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, 'latin1'), raw.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), 'latin1'))]),
      );
      assert.equal(answer.status, 200, `Node refused what Keygate forwarded: ${answer.body}`);
      return JSON.parse(answer.body) as http.IncomingHttpHeaders;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

before(async () => {
  reader = await startGoReader({ identityHeaders: WATCHED });
  nodeReader = await startNodeReader();
  kg = await startKeygate({
    env: {
      GOGS_URL: reader.url,
      GOGS_AUTH_HEADER: CONFIGURED,
      ALLOW_GIT_PASSWORDS: 'true',
      MAX_PASSTHROUGH_PER_CLIENT: '1000',
      MAX_CONNECTIONS_PER_CLIENT: '1000',
    },
  });
  const browser = new TestClient(kg.url);
  await enrolledUser(kg, browser, new SoftwareAuthenticator(), 'alice');
  keygateCookie = browser.cookieHeader()!;
  // Gogs starts a session for alice's browser: Keygate hands the browser a sealed value.
  const first = await exchange(kg.url, request('GET', `/alice/repo?goreader_set_session=${GOGS_SESSION}`, [['Cookie', keygateCookie]]));
  const setCookie = first.headers['set-cookie'] ?? '';
  assert.match(setCookie, new RegExp(`^i_like_gogs=${GOGS_SESSION}\\.[A-Za-z0-9_-]{22}; Path=/; HttpOnly$`), "Gogs' session cookie reaches the browser sealed");
  sealedGogsCookie = setCookie.split(';')[0];
});

after(async () => {
  await kg?.close();
  await reader?.close();
  await nodeReader?.close();
});

describe('canonical forwarding, read by Go as Gogs reads it', () => {
  test('Basic followed by a Unicode space (U+0085, U+00A0, U+2000–U+200A, U+3000) is refused with a clear 401 and never reaches Gogs', async () => {
    const spaces = ['\u0085', '\u00a0', '\u1680', ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)), '\u2028', '\u205f', '\u3000'];
    for (const path of ['/alice/repo.git/info/refs?service=git-upload-pack', '/api/v1/users/alice/tokens', '/alice/repo.git/info/lfs/objects/batch']) {
      for (const space of spaces) {
        for (const credentials of ['alice:alice-password', 'alice:']) {
          const answer = await exchange(kg.url, request('POST', path, [['Authorization', `Basic${utf8AsLatin1(space)}${b64(credentials)}`]], '{}'));
          const what = `${path} U+${space.charCodeAt(0).toString(16)} ${credentials}`;
          assert.equal(answer.reading, null, `${what} reached Gogs`);
          assert.equal(answer.status, 401, what);
          assert.equal(answer.headers['www-authenticate'], 'Basic realm="."');
          assert.match(answer.body, /may only contain plain ASCII characters/, what);
        }
      }
    }
  });

  test('Go reads exactly the credentials Keygate accepted, rebuilt in one canonical form', async () => {
    const cases: Array<[string, string | Buffer, { user: string; pass: string } | null, string]> = [
      ['/alice/repo.git/info/refs', `basic\t\t${b64(`alice:${TOKEN}`)}`, { user: 'alice', pass: TOKEN }, ''],
      ['/alice/repo.git/info/refs', `BASIC ${b64(`${TOKEN}:x`)}`, { user: TOKEN, pass: 'x' }, ''],
      ['/api/v1/user', `Token ${TOKEN}`, null, TOKEN],
      ['/api/v1/user', 'Bearer abc', null, ''],
    ];
    for (const [path, authorization, basic, token] of cases) {
      const answer = await exchange(kg.url, request('GET', path, [['Authorization', authorization]]));
      assert.ok(answer.reading, `${authorization}: ${answer.status} ${answer.body}`);
      assert.deepEqual(answer.reading.basic, basic, String(authorization));
      assert.equal(answer.reading.token, token);
      if (basic) assert.match(answer.reading.authorization, /^Basic [A-Za-z0-9+/]+=*$/);
    }
  });

  test("a signed-in page never carries the browser's Authorization to Gogs: Keygate asserts who this is", async () => {
    const answer = await exchange(
      kg.url,
      request('GET', '/alice/repo', [
        ['Cookie', keygateCookie],
        ['Authorization', `Basic ${b64('root:root-password')}`],
      ]),
    );
    assert.ok(answer.reading);
    assert.equal(answer.reading.authorization, '');
    assert.equal(answer.reading.identity[CONFIGURED], 'alice');
  });

  test("with GOGS_AUTH_HEADER=X_AUTH_USER, a client's X_AUTH_USER in any spelling never reaches Gogs: Go's Header.Get reads only Keygate's", async () => {
    const forged: Array<[string, string]> = [
      ['X_AUTH_USER', 'root'],
      ['x_auth_user', 'root'],
      ['X_Auth_User', 'root'],
      ['X-Auth-User', 'root'],
      ['X-WEBAUTH-USER', 'root'],
      ['x_webauth_user', 'root'],
    ];
    const anonymous = await exchange(kg.url, request('GET', '/alice/repo.git/info/refs?service=git-upload-pack', forged));
    assert.ok(anonymous.reading);
    for (const name of WATCHED) assert.equal(anonymous.reading.identity[name], '', `anonymous: ${name}`);
    const signedIn = await exchange(kg.url, request('GET', '/alice/repo', [...forged, ['Cookie', keygateCookie]]));
    assert.ok(signedIn.reading);
    assert.equal(signedIn.reading.identity[CONFIGURED], 'alice');
    assert.deepEqual(signedIn.reading.identityValues[CONFIGURED], ['alice'], "one copy, Keygate's");
    for (const name of WATCHED.filter((n) => n !== CONFIGURED)) assert.equal(signedIn.reading.identity[name], '', `signed in: ${name}`);
  });

  test('a Gogs session cookie planted in the browser (cookie tossing) never reaches Gogs; the one Gogs issued to this Keygate session does', async () => {
    const read = async (cookie: string) => {
      const answer = await exchange(kg.url, request('GET', '/alice/repo', [['Cookie', cookie]]));
      assert.ok(answer.reading, answer.body);
      return answer.reading.cookies.i_like_gogs;
    };
    assert.equal(await read(`${keygateCookie}; ${sealedGogsCookie}`), GOGS_SESSION);
    assert.equal(await read(`${keygateCookie}; i_like_gogs=0badc0ffee000001`), undefined, 'planted, unsealed');
    assert.equal(await read(`i_like_gogs=0badc0ffee000001; ${keygateCookie}; ${sealedGogsCookie}`), GOGS_SESSION, 'planted beside the real one');
    // Another person's sealed cookie (taken from their browser) names nobody in this one.
    const bob = new TestClient(kg.url);
    await enrolledUser(kg, bob, new SoftwareAuthenticator(), 'bob-planted');
    assert.equal(await read(`${bob.cookieHeader()}; ${sealedGogsCookie}`), undefined, "alice's Gogs session in bob's browser");
    // Pass-through requests carry no Gogs session at all.
    const git = await exchange(kg.url, request('GET', '/alice/repo.git/info/refs', [['Cookie', `${keygateCookie}; ${sealedGogsCookie}`]]));
    assert.equal(git.reading?.cookies.i_like_gogs, undefined);
    // Remember-me cookies and Keygate's own never reach Gogs.
    const answer = await exchange(
      kg.url,
      request('GET', '/alice/repo', [['Cookie', `gogs_awesome=root; gogs_incredible=x; GOGS_AWESOME=root; ${keygateCookie}`]]),
    );
    assert.deepEqual(answer.reading?.allCookies, []);
  });
});

// ---------------------------------------------------------------------------------------------
// Differential fuzz

const PATHS = [
  '/alice/repo',
  '/explore/repos',
  '/alice/repo/milestones',
  '/api/v1/user',
  '/api/v1/users/alice/tokens',
  '/alice/repo.git/info/refs?service=git-upload-pack',
  '/alice/repo.git/git-receive-pack',
  '/alice/repo.git/info/lfs/objects/batch',
  '/Alice/Repo.GIT/info/refs',
];
const SCHEMES = ['Basic', 'basic', 'BASIC', 'BaSiC', 'token', 'Token', 'Bearer', 'Digest', ''];
/** Separators as bytes (latin1 strings): ASCII ones, UTF-8 Unicode spaces, single high bytes. */
const SEPARATORS = [
  ' ',
  '\t',
  '  ',
  ' \t',
  utf8AsLatin1('\u00a0'),
  utf8AsLatin1('\u0085'),
  utf8AsLatin1('\u2000'),
  utf8AsLatin1('\u3000'),
  '\u00a0',
  '\u0085',
  '',
];
const CREDENTIALS = [
  () => b64('alice:alice-password'),
  () => b64('alice:'),
  () => b64(':'),
  () => b64(`${TOKEN}:`),
  () => b64(`alice:${TOKEN}`),
  () => b64(`root:${TOKEN.toUpperCase()}`),
  () => b64('alice:pässword'),
  () => b64('alice'),
  () => b64('alice:alice-password').replace(/=+$/, ''),
  () => `${b64('alice:x')}junk`,
  () => TOKEN,
  () => 'YWxpY2U6cHc=,',
  () => Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64'),
];
const IDENTITY_NAMES = ['X_AUTH_USER', 'x_auth_user', 'X-Auth-User', 'X-WEBAUTH-USER', 'x_webauth_user', 'Remote-User', 'remote_user', 'X-Forwarded-User'];
const COOKIES = [
  () => 'i_like_gogs=0badc0ffee000001',
  () => 'i_like_gogs="0badc0ffee000001"',
  () => sealedGogsCookie,
  () => `${sealedGogsCookie.replace(/.$/, 'A')}`,
  () => 'I_LIKE_GOGS=0badc0ffee000001',
  () => 'gogs_awesome=root',
  () => 'gogs_incredible=abc',
  () => 'i_like_gogs = 0badc0ffee000001',
  () => 'lang=en-US',
  () => 'i_like_gogs',
  () => '_csrf=abc',
  () => 'keygate=s%3Aforged.sig',
];

interface FuzzCase {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  signedIn: boolean;
  /** Authorization as Node presents it to Keygate (first copy, ends trimmed). */
  authorization: string | undefined;
  includesSealed: boolean;
}

function generate(r: Rng): FuzzCase {
  const path = r.pick(PATHS);
  const method = path.includes('git-receive-pack') || path.includes('lfs') || path.includes('tokens') ? 'POST' : r.pick(['GET', 'GET', 'POST']);
  const headers: Array<[string, string]> = [];
  let authorization: string | undefined;
  const authCount = r.chance(0.8) ? (r.chance(0.1) ? 2 : 1) : 0;
  for (let i = 0; i < authCount; i++) {
    let value = `${r.pick(SCHEMES)}${r.pick(SEPARATORS)}${r.pick(CREDENTIALS)()}`;
    if (r.chance(0.1)) value = `${r.pick([' ', '\t'])}${value}`;
    if (r.chance(0.1)) value += `${r.pick(SEPARATORS)}${r.pick(CREDENTIALS)()}`;
    headers.push([r.pick(['Authorization', 'authorization', 'AUTHORIZATION']), value]);
    // Node keeps the first Authorization and trims spaces and tabs at its ends.
    authorization ??= value.replace(/^[ \t]+|[ \t]+$/g, '');
  }
  for (let i = 0, n = r.chance(0.5) ? 1 + Math.floor(r.next() * 3) : 0; i < n; i++)
    headers.push([r.pick(IDENTITY_NAMES), r.pick(['root', 'alice', ' root', 'root, alice'])]);
  const signedIn = r.chance(0.5);
  const cookies: string[] = [];
  for (let i = 0, n = Math.floor(r.next() * 4); i < n; i++) cookies.push(r.pick(COOKIES)());
  if (signedIn) cookies.splice(Math.floor(r.next() * (cookies.length + 1)), 0, keygateCookie);
  const includesSealed = cookies.includes(sealedGogsCookie);
  if (cookies.length) headers.push(['Cookie', cookies.join(r.pick(['; ', ';', ' ; ']))]);
  return { method, path, headers, signedIn, authorization, includesSealed };
}

describe('differential fuzz: Go never reads an identity, credentials or a Gogs session that Keygate did not authorise', () => {
  test(`${CASES} random and mutated requests (seed ${SEED})`, async () => {
    console.log(`canonical-forwarding fuzz: seed ${SEED}, ${CASES} cases (FUZZ_SEED=${SEED} to replay)`);
    const r = new Rng(SEED);
    const tally = { forwarded: 0, refused: 0, statuses: new Map<number, number>() };
    for (let i = 0; i < CASES; i++) {
      const c = generate(r);
      const label = `case ${i} (seed ${SEED}): ${JSON.stringify(c.method)} ${c.path} ${JSON.stringify(c.headers)}`;
      const answer = await exchange(kg.url, request(c.method, c.path, c.headers, c.method === 'POST' ? '{}' : ''));
      tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status < 500, `${label}: ${answer.status} ${answer.body.slice(0, 200)}`);
      const reading = answer.reading;
      if (!reading) {
        tally.refused++;
        continue;
      }
      tally.forwarded++;
      const route = classifyPath(normalizePath(c.path)!, c.method);
      const asserted = route === 'page' && c.signedIn ? 'alice' : '';
      // Identity: only Keygate's, under the configured name, once.
      assert.equal(reading.identity[CONFIGURED], asserted, `${label}: identity`);
      assert.ok((reading.identityValues[CONFIGURED] ?? []).length <= 1, `${label}: one copy`);
      for (const name of WATCHED.filter((n) => n !== CONFIGURED)) assert.equal(reading.identity[name], '', `${label}: ${name}`);
      // Credentials: exactly what Keygate's own reading accepted, and nothing on a signed-in page.
      let expected: ForwardedCredentials = { kind: 'none' };
      if (route !== 'page') {
        const verdict = judgeAuthorization(c.authorization, { allowPasswords: true });
        assert.ok(verdict.ok, `${label}: Keygate refused these credentials, yet the request reached Gogs`);
        expected = verdict.credentials;
      }
      assert.notEqual(reading.basic?.panic, true, `${label}: Gogs' decoder would panic`);
      assert.deepEqual(
        reading.basic,
        expected.kind === 'basic' ? { user: expected.username, pass: expected.password } : null,
        `${label}: Basic as Go reads it`,
      );
      const isApi = reading.path.startsWith('/api/');
      assert.equal(reading.token, expected.kind === 'token' && isApi ? expected.token : '', `${label}: token as Go reads it`);
      // Gogs' session: only the one Gogs issued to this Keygate session, on a signed-in page.
      const gogsSession = route === 'page' && c.signedIn && c.includesSealed ? GOGS_SESSION : undefined;
      assert.equal(reading.cookies.i_like_gogs, gogsSession, `${label}: Gogs session`);
      for (const [name] of reading.allCookies) assert.ok(!/^(gogs_awesome|gogs_incredible|keygate|__host-keygate)$/i.test(name), `${label}: cookie ${name}`);
      // Node reads the same forwarded bytes the same way.
      const node = await nodeReader.read(Buffer.from(reading.raw, 'base64'));
      assert.equal(node[CONFIGURED.toLowerCase()] ?? '', reading.identity[CONFIGURED], `${label}: Node's identity`);
      assert.equal(node.authorization ?? '', reading.authorization, `${label}: Node's Authorization`);
      assert.equal(node.cookie ? parseCookies(node.cookie).i_like_gogs : undefined, reading.cookies.i_like_gogs, `${label}: Node's Gogs session`);
    }
    console.log(
      `canonical-forwarding fuzz: ${tally.forwarded} forwarded, ${tally.refused} answered by Keygate; statuses ${JSON.stringify([...tally.statuses])}`,
    );
    // The run must exercise both sides, or it proves nothing.
    assert.ok(tally.forwarded > CASES / 5, `only ${tally.forwarded} of ${CASES} reached the upstream`);
    assert.ok(tally.refused > CASES / 20, `only ${tally.refused} of ${CASES} were refused`);
  });
});

/**
 * Security review finding 4: one anonymous client cannot starve everyone. Bounded connections per
 * client address, bounded pass-through requests in flight per client, a pool of Gogs connections
 * for signed-in pages that anonymous traffic never touches, stalled bodies cut, clients that stop
 * reading their answer cut, and ceremony bodies refused as soon as their declared size is too large.
 *
 * Different clients are different loopback addresses (127.0.0.x): the attacker's sockets bind
 * their own source address.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestClient } from './support/client.js';
import { signedInPerson } from './support/flows.js';
import { startKeygate, startKeygateFor, type TestKeygate } from './support/keygate.js';
import { downloadSha256 } from './support/gogs.js';
import { sleep } from './support/net.js';

const TOKEN = 'e'.repeat(30) + '0123456789';
const basic = `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}`;

/** A socket from `from` with the request head written; the body is up to the test. */
function openRequest(kg: TestKeygate, from: string, head: string): Promise<{ socket: net.Socket; answer: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(new URL(kg.url).port), localAddress: from });
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => {
      socket.write(head);
      resolve({ socket, answer: () => received, closed });
    });
    socket.once('error', reject);
  });
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('ceremony bodies', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { CLIENT_BODY_TIMEOUT: '1s' } });
  });
  after(() => kg.close());

  test('a declared 100 MB body to a ceremony endpoint is refused with 413 before a byte of it is sent, with no "100 Continue", and audited', async () => {
    for (const expect of [true, false]) {
      const r = await openRequest(
        kg,
        '127.0.0.1',
        `POST /-/api/login/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n${expect ? 'Expect: 100-continue\r\n' : ''}\r\n`,
      );
      await r.closed;
      assert.equal(statusOf(r.answer()), 413, r.answer());
      assert.doesNotMatch(r.answer(), /100 Continue/);
      assert.match(r.answer(), /"code":"body_too_large"/);
      assert.match(r.answer(), /[Cc]onnection: close/);
    }
    const { rows } = await kg.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'sign_in' AND reason = 'body_too_large'`);
    assert.equal(rows[0].n, 2);
  });

  test('a ceremony body that trickles in is cut at CLIENT_BODY_TIMEOUT with a 408, however often a byte arrives', async () => {
    const r = await openRequest(
      kg,
      '127.0.0.1',
      `POST /-/api/login/verify HTTP/1.1\r\nHost: localhost\r\nOrigin: ${kg.origin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const started = Date.now();
    // One byte every 100 ms: never idle, but never done (bounded: at most 60 bytes).
    for (let i = 0; i < 60 && !r.socket.destroyed && !r.answer(); i++) {
      r.socket.write(' ');
      await sleep(100);
    }
    await r.closed;
    assert.equal(statusOf(r.answer()), 408, r.answer());
    assert.match(r.answer(), /"code":"body_timeout"/);
    assert.ok(Date.now() - started < 5000, 'cut at the timeout, not when the body ended');
  });
});

describe('slow request headers', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { CLIENT_HEADER_TIMEOUT: '1s' } });
  });
  after(() => kg.close());

  test('a client that sends its request headers too slowly is answered 408 and cut after CLIENT_HEADER_TIMEOUT', async () => {
    const r = await openRequest(kg, '127.0.0.1', 'GET /-/login HTTP/1.1\r\nHost: localhost\r\n');
    const started = Date.now();
    // A header line now and then, never the blank line that ends them (bounded: at most 60).
    for (let i = 0; i < 60 && !r.socket.destroyed && !r.answer(); i++) {
      r.socket.write(`X-Slow-${i}: 1\r\n`);
      await sleep(100);
    }
    await r.closed;
    assert.equal(statusOf(r.answer()), 408, r.answer());
    assert.ok(Date.now() - started < 5000, 'cut at the header timeout');
  });
});

describe('one client cannot starve the others', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_CONNECTIONS: '4', MAX_PASSTHROUGH_PER_CLIENT: '3', MAX_CONNECTIONS_PER_CLIENT: '30', CLIENT_BODY_TIMEOUT: '1s' } });
    kg.gogs.addToken('alice', TOKEN);
  });
  after(() => kg.close());

  test('connections beyond MAX_CONNECTIONS_PER_CLIENT from one address get a 429 and are closed; another address still gets in', async () => {
    const held = await Promise.all(Array.from({ length: 30 }, () => openRequest(kg, '127.0.0.7', '')));
    const extra = await openRequest(kg, '127.0.0.7', 'GET /-/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await extra.closed;
    assert.equal(statusOf(extra.answer()), 429, extra.answer());
    assert.match(extra.answer(), /Too many connections from your address/);
    const other = await openRequest(kg, '127.0.0.8', 'GET /-/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await other.closed;
    assert.equal(statusOf(other.answer()), 200, other.answer());
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    // Once they are closed, the address may connect again.
    const again = await openRequest(kg, '127.0.0.7', 'GET /-/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await again.closed;
    assert.equal(statusOf(again.answer()), 200);
  });

  test("an anonymous client holding many slow git bodies: its extra requests get a 429 at once; signed-in pages and other clients' git keep working; stalled bodies are cut", async () => {
    const alice = await signedInPerson(kg, 'alice');
    kg.gogs.clear();
    const head = `POST /alice/repo.git/git-receive-pack HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 1000000\r\n\r\n`;
    const slow = await Promise.all(Array.from({ length: 20 }, () => openRequest(kg, '127.0.0.9', head)));
    // A byte now and then on each: never idle long enough to be cut while the test looks.
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.socket.destroyed) s.socket.write('0');
    }, 200);
    try {
      await until(() => slow.filter((s) => statusOf(s.answer()) === 429).length === 17, '17 of the 20 slow bodies refused');
      for (const s of slow.filter((x) => statusOf(x.answer()) === 429)) assert.match(s.answer(), /Too many requests from your address are still in progress/);
      // The three admitted ones are with Gogs, holding three of the pass-through pool's four connections.

      const page = await alice.client.get('/alice/repo');
      assert.equal(page.status, 200, 'a signed-in page is served while the anonymous client holds its bodies');
      assert.match(page.text, /Signed in as alice\b/);
      const otherGit = await openRequest(
        kg,
        '127.0.0.10',
        `GET /alice/repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic}\r\nConnection: close\r\n\r\n`,
      );
      await otherGit.closed;
      assert.equal(statusOf(otherGit.answer()), 200, `another client's clone is served: ${otherGit.answer().slice(0, 200)}`);
    } finally {
      clearInterval(trickle);
    }
    // Now the bodies stall: each is cut after CLIENT_BODY_TIMEOUT, and the pool is free again.
    await Promise.all(slow.map((s) => s.closed));
    const anonymousAgain = await new TestClient(kg.url).get('/alice/repo.git/info/refs?service=git-upload-pack', { authorization: basic });
    assert.equal(anonymousAgain.status, 200);
  });
});

describe('pipelined requests and bodies that wait their turn (review findings)', () => {
  let kg: TestKeygate;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_CONNECTIONS: '2', MAX_PASSTHROUGH_PER_CLIENT: '3', CLIENT_BODY_TIMEOUT: '1s' } });
    kg.gogs.addToken('alice', TOKEN);
  });
  after(() => kg.close());

  test('a client that pipelines large downloads and leaves holds no Gogs connection: signed-in pages are still served', async () => {
    const mallory = await signedInPerson(kg, 'mallory');
    const alice = await signedInPerson(kg, 'alice');
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nCookie: ${mallory.client.cookieHeader()}\r\n\r\n`;
    const r = await openRequest(kg, '127.0.0.12', [1, 2, 3, 4].map(() => get('/download/5000000')).join(''));
    r.socket.pause();
    await sleep(200);
    r.socket.destroy();
    await r.closed;
    for (let i = 0; i < 3; i++) {
      const page = await Promise.race([alice.client.get('/alice/repo'), sleep(10_000).then(() => ({ status: 0 }))]);
      assert.equal(page.status, 200, 'a signed-in page is served (within 10 s) after the pipelining client left');
    }
  });

  test('pass-through requests pipelined by a client that leaves are not counted against it for good', async () => {
    const get = `GET /alice/repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic}\r\n\r\n`;
    const r = await openRequest(kg, '127.0.0.13', get.repeat(3));
    r.socket.pause();
    r.socket.destroy();
    await r.closed;
    for (let i = 0; i < 4; i++) {
      const again = await openRequest(kg, '127.0.0.13', get.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
      await again.closed;
      assert.equal(statusOf(again.answer()), 200, `request ${i + 1} after the pipelining client left: ${again.answer().slice(0, 120)}`);
    }
  });

  test('a body sent whole that waits for a Gogs connection is not cut as stalled: it is served once one is free', async () => {
    const alice = await signedInPerson(kg, 'alice-upload');
    const cookie = alice.client.cookieHeader()!;
    // Two downloads nobody reads hold both of the signed-in pool's connections.
    const holders = await Promise.all(
      [1, 2].map(() => openRequest(kg, '127.0.0.14', `GET /download/50000000 HTTP/1.1\r\nHost: localhost\r\nCookie: ${cookie}\r\n\r\n`)),
    );
    for (const h of holders) h.socket.pause();
    await sleep(300);
    const upload = await openRequest(
      kg,
      '127.0.0.15',
      `POST /upload HTTP/1.1\r\nHost: localhost\r\nOrigin: ${kg.origin}\r\nCookie: ${cookie}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    );
    // Longer than CLIENT_BODY_TIMEOUT: the body arrived whole, it only waits.
    await sleep(1500);
    assert.equal(upload.socket.destroyed, false, 'the waiting request was cut');
    for (const h of holders) h.socket.destroy();
    await upload.closed;
    assert.equal(statusOf(upload.answer()), 200, upload.answer().slice(0, 200));
    assert.match(upload.answer(), /"bytes":5/);
  });
});

describe('a client that stops reading its answer (CLIENT_SEND_TIMEOUT)', () => {
  let kg: TestKeygate;
  before(async () => {
    // One connection to Gogs for signed-in pages: whoever holds it holds everyone's pages.
    kg = await startKeygate({ env: { GOGS_CONNECTIONS: '1', CLIENT_SEND_TIMEOUT: '2s' } });
  });
  after(() => kg.close());

  test("is cut once it has taken nothing for CLIENT_SEND_TIMEOUT, and the Gogs connection it held serves the next person's page", async () => {
    const mallory = await signedInPerson(kg, 'mallory-reader');
    const alice = await signedInPerson(kg, 'alice-reader');
    const r = await openRequest(kg, '127.0.0.16', `GET /download/50000000 HTTP/1.1\r\nHost: localhost\r\nCookie: ${mallory.client.cookieHeader()}\r\n\r\n`);
    // Reads nothing: the socket's buffers fill, Keygate pauses Gogs' answer, and holds the only connection.
    r.socket.pause();
    const pausedAt = Date.now();
    await sleep(300);
    const page = await Promise.race([alice.client.get('/alice-reader/repo'), sleep(10_000).then(() => ({ status: 0 }))]);
    assert.equal(page.status, 200, "the other person's page is served (within 10 s) once the connection is free");
    assert.ok(Date.now() - pausedAt >= 1800, 'the page waited for the cut: the client was not cut before about CLIENT_SEND_TIMEOUT');
    // A paused socket does not see its end: it reads what was buffered, then finds the connection cut.
    r.socket.resume();
    await Promise.race([r.closed, sleep(10_000).then(() => assert.fail('the connection of the client that read nothing was not closed'))]);
    assert.ok(r.answer().length < 50_000_000, 'the download was cut, not finished');
  });

  test('one that keeps reading gets the whole answer, though Keygate waited on it all along and for longer than CLIENT_SEND_TIMEOUT in all', async () => {
    const bob = await signedInPerson(kg, 'bob-reader');
    const size = 12_000_000;
    const hash = createHash('sha256');
    let received = 0;
    let status = 0;
    const startedAt = Date.now();
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${kg.url}/download/${size}`, { headers: { cookie: bob.client.cookieHeader()! } }, (res) => {
        status = res.statusCode ?? 0;
        // About 3 MB/s: Keygate's writes wait for this reader all along, each pause short.
        res.on('data', (d: Buffer) => {
          hash.update(d);
          received += d.length;
          res.pause();
          setTimeout(() => res.resume(), 20);
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`cut after ${received} bytes`)));
      });
      req.on('error', reject);
    });
    assert.equal(status, 200);
    assert.equal(received, size);
    assert.equal(hash.digest('hex'), downloadSha256(size), 'the body arrived intact');
    assert.ok(Date.now() - startedAt > 2000, 'the reader took longer than CLIENT_SEND_TIMEOUT in all (else this proves nothing)');
  });

  test('pipelined downloads read steadily are each answered whole: the second, once it has the connection, is judged by what that connection takes', async () => {
    const bob = await signedInPerson(kg, 'bob-pipeline');
    const get = (n: number) => `GET /download/${n} HTTP/1.1\r\nHost: localhost\r\nCookie: ${bob.client.cookieHeader()}\r\n\r\n`;
    const sizes = [8_000_000, 2_000_000];
    const socket = net.connect({ host: '127.0.0.1', port: Number(new URL(kg.url).port) });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(get(sizes[0]) + get(sizes[1]));
    const head = /^HTTP\/1\.1 (\d{3})[^]*?\r\ncontent-length: (\d+)\r\n[^]*?\r\n\r\n/i;
    const answers: Array<{ status: number; length: number }> = [];
    let buffered = Buffer.alloc(0);
    let want = -1;
    let closed = false;
    socket.once('close', () => (closed = true));
    const deadline = Date.now() + 30_000;
    let whole = false;
    while (!whole && !closed && Date.now() < deadline) {
      // Read whatever arrived, then wait a little: a steady reader, slower than Keygate can write.
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (want < 0) {
          const m = head.exec(buffered.toString('latin1', 0, Math.min(buffered.length, 4096)));
          if (!m) break;
          answers.push({ status: Number(m[1]), length: Number(m[2]) });
          want = Number(m[2]);
          buffered = buffered.subarray(m[0].length);
        }
        const taken = Math.min(want, buffered.length);
        want -= taken;
        buffered = buffered.subarray(taken);
        if (want > 0) break;
        want = -1;
        if (answers.length === 2) {
          whole = true;
          break;
        }
      }
      await sleep(20);
    }
    socket.destroy();
    assert.deepEqual(answers, [
      { status: 200, length: sizes[0] },
      { status: 200, length: sizes[1] },
    ]);
    assert.ok(whole, `the second answer arrived whole (${closed ? 'the connection was cut' : 'not within 30 s'})`);
  });
});

describe('a push Gogs reads more slowly than the client sends it', () => {
  // Gogs stops reading the body for PAUSE_MS, longer than CLIENT_BODY_TIMEOUT (1 s), then reads the
  // rest; with `never`, it never reads it. The body is far larger than every socket buffer between
  // the client and Gogs, so the pause reaches the client as a write that waits for 'drain'. The
  // pause is not a whole number of timeouts, so the timer does not always fire as reading resumes.
  const PAUSE_MS = 2500;
  const BODY_BYTES = 96 * 1024 * 1024;
  let gogs: http.Server;
  let kg: Omit<TestKeygate, 'gogs'>;
  before(async () => {
    gogs = http.createServer((req, res) => {
      if (req.url === '/alice/repo.git/git-receive-pack?never') return; // holds the body, unread
      let bytes = 0;
      setTimeout(() => {
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes })));
      }, PAUSE_MS);
    });
    await new Promise<void>((resolve) => gogs.listen(0, '127.0.0.1', resolve));
    kg = await startKeygateFor(`http://127.0.0.1:${(gogs.address() as net.AddressInfo).port}`, {
      env: { CLIENT_BODY_TIMEOUT: '1s', GOGS_RESPONSE_TIMEOUT: '6s' },
    });
  });
  after(async () => {
    await kg.close();
    gogs.closeAllConnections();
    await new Promise((resolve) => gogs.close(resolve));
  });

  /**
   * Sends the push's body as fast as the connection takes it; resolves with the longest wait for
   * 'drain'. With `stopAfterWaitMs`, stops sending (and leaves the connection open) after the first
   * wait that long: a client that stalls just as Keygate reads again.
   */
  async function push(query: string, stopAfterWaitMs = Infinity): Promise<{ r: Awaited<ReturnType<typeof openRequest>>; longestWaitMs: number }> {
    const head = `POST /alice/repo.git/git-receive-pack${query} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: ${BODY_BYTES}\r\nConnection: close\r\n\r\n`;
    const r = await openRequest(kg as TestKeygate, '127.0.0.16', head);
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    let longestWaitMs = 0;
    for (let sent = 0; sent < BODY_BYTES && !r.socket.destroyed; sent += chunk.length) {
      if (r.socket.write(chunk)) continue;
      const t = Date.now();
      // Bounded: a connection that neither takes more nor closes fails the test's assertions.
      await Promise.race([new Promise((resolve) => r.socket.once('drain', resolve)), r.closed, sleep(20_000)]);
      if (Date.now() - t >= 20_000) break;
      longestWaitMs = Math.max(longestWaitMs, Date.now() - t);
      if (longestWaitMs > stopAfterWaitMs) break;
    }
    return { r, longestWaitMs };
  }

  test('is not cut as stalled while Keygate waits for Gogs: CLIENT_BODY_TIMEOUT counts only while Keygate reads, and the push goes through whole', async () => {
    const { r, longestWaitMs } = await push('');
    await Promise.race([r.closed, sleep(20_000)]);
    assert.equal(statusOf(r.answer()), 200, `the push was cut or refused: ${JSON.stringify(r.answer().slice(0, 200))}`);
    // The client really waited on Keygate longer than CLIENT_BODY_TIMEOUT: Keygate had stopped reading.
    assert.ok(longestWaitMs > 1500, `the client waited at most ${longestWaitMs} ms for the connection to take more`);
    assert.match(r.answer(), new RegExp(`"bytes":${BODY_BYTES}\\b`));
  });

  test('a Gogs that never reads the body is given up after GOGS_RESPONSE_TIMEOUT with a 504, not held for good', async () => {
    const t = Date.now();
    const { r } = await push('?never');
    await until(() => statusOf(r.answer()) !== 0 || r.socket.destroyed, 'an answer or a closed connection', 20_000);
    const waited = Date.now() - t;
    assert.equal(statusOf(r.answer()), 504, `no 504 after ${waited} ms: ${JSON.stringify(r.answer().slice(0, 200))}`);
    assert.ok(waited >= 5500, `answered after ${waited} ms, before GOGS_RESPONSE_TIMEOUT (6 s)`);
    r.socket.destroy();
  });

  test('a client that stops sending just as Keygate reads again is still cut after CLIENT_BODY_TIMEOUT', async () => {
    const { r, longestWaitMs } = await push('', 1500);
    assert.ok(longestWaitMs > 1500, `the client waited at most ${longestWaitMs} ms for the connection to take more`);
    const stoppedAt = Date.now();
    await Promise.race([r.closed, sleep(15_000)]);
    assert.ok(r.socket.destroyed, `the stalled push was not cut within 15 s: ${JSON.stringify(r.answer().slice(0, 200))}`);
    assert.equal(statusOf(r.answer()), 0, 'no answer: the connection is cut');
    assert.ok(Date.now() - stoppedAt >= 800, 'not cut before about CLIENT_BODY_TIMEOUT had passed since the client stopped');
  });
});

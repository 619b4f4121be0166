/**
 * Gogs goes away, hangs or becomes slow (issue 8, "Reliability"): a clear 502 or 504 within the
 * configured bounds, Keygate's own pages (sign-in, account, admin) keep working meanwhile, and the
 * next request after Gogs is back is served with no restart. Gogs is reached through a forwarder
 * the test can switch off and on at the same address. (test/gogs-timeouts.test.ts proves a
 * flowing transfer is never cut by GOGS_RESPONSE_TIMEOUT.) Figures go to stdout.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestClient } from './support/client.js';
import { signedInPerson, signIn, type SignedInPerson } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { freePort, sleep } from './support/net.js';
import { timed } from './support/scenario.js';

/** A TCP forwarder to `target` on a fixed port, which can be switched off (refused) and on again. */
async function switchableForwarder(target: number) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const on = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((socket) => {
        const upstream = net.connect(target, '127.0.0.1');
        for (const s of [socket, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            socket.destroy();
            upstream.destroy();
          });
        }
        socket.pipe(upstream).pipe(socket);
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const off = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  };
  await on();
  return { url: `http://127.0.0.1:${port}`, on, off };
}

/**
 * A Gogs that hangs before accepting: a process whose listen backlog is full and whose event loop
 * is blocked, so new connections are never completed (SYNs dropped, as behind a dead host).
 */
async function hungGogs(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const code = `
    const net = require('node:net');
    net.createServer().listen({ port: ${port}, host: '127.0.0.1', backlog: 1 }, () => {
      // Blocked at once, in this callback, before the event loop ever polls the listening socket:
      // no connection is ever accepted. (stdout, a pipe, is written synchronously on Linux.) A
      // block started on a timer could come after the fillers below on a busy machine; the loop
      // then accepted them, emptied the queue, and Keygate's connection got through to a server
      // that never answers: a wait for GOGS_RESPONSE_TIMEOUT instead of the connect timeout.
      process.stdout.write('listening\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  await sleep(100);
  // Fill the accept queue (backlog 1 holds two): from now on a connect gets no answer.
  const fillers = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
  for (const f of fillers) f.on('error', () => {});
  await Promise.all(fillers.map((f) => new Promise((resolve) => f.once('connect', resolve))));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    },
  };
}

const figures: Record<string, unknown> = {};

describe('Gogs goes away, hangs or is slow', () => {
  let kg: TestKeygate;
  let gogs: FakeGogs;
  let forwarder: Awaited<ReturnType<typeof switchableForwarder>>;
  let admin: SignedInPerson;
  let hung: Awaited<ReturnType<typeof hungGogs>> | undefined;
  let kgHung: TestKeygate | undefined;

  before(async () => {
    gogs = await startFakeGogs();
    forwarder = await switchableForwarder(gogs.port);
    kg = await startKeygate({ upstream: gogs, env: { GOGS_URL: forwarder.url, GOGS_CONNECT_TIMEOUT: '500ms', GOGS_RESPONSE_TIMEOUT: '700ms' } });
    admin = await signedInPerson(kg, 'root', { admin: true });
  });
  after(async () => {
    console.log(`# reliability: Gogs faults\n${JSON.stringify(figures, null, 1)}`);
    await forwarder?.off();
    await kg?.close();
    await kgHung?.close();
    hung?.stop();
    await gogs?.close();
  });

  const keygatePagesWork = async (label: string) => {
    const cookie = admin.client.cookieHeader()!;
    const pages = [
      await timed('sign-in page', `${kg.url}/-/login`),
      await timed('account page', `${kg.url}/-/account`, { headers: { cookie } }),
      await timed('admin page', `${kg.url}/-/admin`, { headers: { cookie } }),
    ];
    for (const p of pages) assert.equal(p.status, 200, `${label}: ${p.kind} ${p.status} ${p.body}`);
    const signedIn = await signIn(new TestClient(kg.url), admin.key);
    assert.equal(signedIn.status, 200, `${label}: sign-in ${signedIn.text}`);
    return Math.round(Math.max(...pages.map((p) => p.ms)));
  };

  test('Gogs unreachable: pages, git and the API get a clear 502 at once; sign-in, account and admin keep working', async () => {
    await forwarder.off();
    const cookie = admin.client.cookieHeader()!;
    const answers = [
      await timed('page', `${kg.url}/root/repo`, { headers: { cookie } }),
      await timed('git', `${kg.url}/root/repo.git/info/refs?service=git-upload-pack`),
      await timed('api', `${kg.url}/api/v1/version`),
    ];
    for (const a of answers) {
      assert.equal(a.status, 502, `${a.kind}: ${a.body}`);
      assert.match(a.body, /Gogs is unreachable/);
      assert.equal(a.leaks, false);
    }
    // The signed-in person is offered the same page again, not a sign-in they do not need.
    assert.match(answers[0].text, /<a class="button button-primary" href="\/root\/repo">Try again<\/a>/);
    figures.unreachable502Ms = Math.round(Math.max(...answers.map((a) => a.ms)));
    figures.keygatePagesWhileGogsDownMs = await keygatePagesWork('Gogs down');
  });

  test('Gogs back: the next request is served, with no restart', async () => {
    const back = Date.now();
    await forwarder.on();
    const page = await timed('page', `${kg.url}/root/repo`, { headers: { cookie: admin.client.cookieHeader()! } });
    assert.equal(page.status, 200, page.body);
    assert.match(page.text, /Signed in as root/);
    figures.recoveredAfterGogsBackMs = Date.now() - back;
  });

  test("Gogs too slow: a 504 after GOGS_RESPONSE_TIMEOUT, while Keygate's pages answer meanwhile", async () => {
    kg.gogs.setDelay(5_000);
    try {
      const slow = timed('page', `${kg.url}/root/repo`, { headers: { cookie: admin.client.cookieHeader()! } });
      figures.keygatePagesWhileGogsSlowMs = await keygatePagesWork('Gogs slow');
      const answer = await slow;
      assert.equal(answer.status, 504, answer.body);
      assert.match(answer.text, /did not answer in time/);
      figures.slow504Ms = Math.round(answer.ms);
    } finally {
      kg.gogs.setDelay(0);
    }
    assert.equal((await timed('page', `${kg.url}/root/repo`, { headers: { cookie: admin.client.cookieHeader()! } })).status, 200);
  });

  test('Gogs hanging before it accepts a connection: a 504 after GOGS_CONNECT_TIMEOUT', async () => {
    hung = await hungGogs();
    kgHung = await startKeygate({
      database: kg.database,
      upstream: kg.gogs,
      env: { GOGS_URL: hung.url, GOGS_CONNECT_TIMEOUT: '500ms', GOGS_RESPONSE_TIMEOUT: '60s' },
    });
    const answer = await timed('git', `${kgHung.url}/root/repo.git/info/refs?service=git-upload-pack`);
    assert.equal(answer.status, 504, answer.body);
    assert.match(answer.text, /did not answer in time/);
    figures.connectTimeout504Ms = Math.round(answer.ms);
  });
});

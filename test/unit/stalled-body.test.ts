/**
 * cutStalledBody's judgement at each expiry of the connection's timer, step by step on a stand-in
 * request, response and socket (the moments a real transfer only hits by chance: the timer firing
 * just as Keygate reads again, a pipelined request's watch beside an earlier one). The whole
 * behaviour with real sockets, Keygate and a slow upstream: test/client-limits.test.ts.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { cutStalledBody } from '../../server/proxy/client-limits.js';
import { sleep } from '../support/net.js';

const MS = 50;

class Socket extends EventEmitter {
  timeout = 0;
  destroyed = false;
  setTimeout(ms: number): this {
    this.timeout = ms;
    return this;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

class Request extends EventEmitter {
  complete = false;
  paused = false;
  constructor(readonly socket: Socket) {
    super();
  }
  isPaused(): boolean {
    return this.paused;
  }
  /** As a stream does when it flows again (undici resumes the body once Gogs takes more). */
  resume(): void {
    this.paused = false;
    this.emit('resume');
  }
}

class Response extends EventEmitter {
  headersSent = false;
  writableFinished = false;
}

/** A request whose body is being read, watched; `expire` is the server handing it the timer's expiry. */
function watched(socket = new Socket()) {
  const req = new Request(socket);
  const res = new Response();
  cutStalledBody(req as unknown as IncomingMessage, res as unknown as ServerResponse, MS);
  req.resume();
  // As Node's server does: the request (while its body is incomplete), then the response, each told.
  const expire = () => {
    const byRequest = !req.complete && req.emit('timeout', socket);
    return res.emit('timeout', socket) || byRequest;
  };
  return { socket, req, res, expire };
}

test('a body that stops coming while Keygate reads it is cut at the expiry', async () => {
  const { socket, expire } = watched();
  assert.equal(socket.timeout, MS, 'the timer is armed as the body is read');
  await sleep(MS + 10);
  assert.ok(expire(), 'the watch takes the expiry (the server does not destroy the socket itself)');
  assert.equal(socket.destroyed, true);
});

test('a body Keygate has paused (Gogs is slower) is not cut: the count starts again', async () => {
  const { socket, req, expire } = watched();
  await sleep(MS + 10);
  req.paused = true;
  socket.timeout = 0;
  expire();
  assert.equal(socket.destroyed, false);
  assert.equal(socket.timeout, MS, 'armed again');
});

test('an expiry just after Keygate reads again gives the client the whole timeout from then', async () => {
  const { socket, req, expire } = watched();
  req.paused = true;
  await sleep(MS + 10);
  expire();
  req.resume();
  // The timer fires before the client's waiting bytes are read.
  socket.timeout = 0;
  expire();
  assert.equal(socket.destroyed, false, 'cut just as Keygate read again');
  assert.ok(socket.timeout > 0 && socket.timeout <= MS, `armed for the rest of the timeout since reading resumed: ${socket.timeout} ms`);
  await sleep(MS + 10);
  expire();
  assert.equal(socket.destroyed, true, 'cut once the client has had the whole timeout since');
});

test('once Gogs has answered, a paused body counts as stalled (nothing else bounds it)', async () => {
  const { socket, req, res, expire } = watched();
  await sleep(MS + 10);
  req.paused = true;
  res.headersSent = true;
  expire();
  assert.equal(socket.destroyed, true);
});

test('a body that has arrived whole is never cut; once read, the watch ends and leaves the connection to the server', () => {
  const { socket, req, res, expire } = watched();
  req.complete = true;
  expire();
  assert.equal(socket.destroyed, false);
  assert.equal(socket.timeout, 0, 'the timer is cleared');
  req.emit('end');
  assert.equal(req.listenerCount('timeout') + res.listenerCount('timeout'), 0, 'no listener left to keep the server from closing an idle connection');
});

test("a body read to its end after the answer went out leaves the connection's keep-alive timeout alone", () => {
  const { socket, req, res } = watched();
  res.writableFinished = true;
  socket.timeout = 65_000; // what the server sets once an answer is out and the connection is kept
  req.complete = true;
  req.emit('end');
  assert.equal(socket.timeout, 65_000);
});

test("a pipelined request's watch is not undone by the earlier request's end or its response", () => {
  const socket = new Socket();
  const first = watched(socket);
  first.req.complete = true; // its last bytes still with Keygate, not yet read by the upstream
  const second = watched(socket);
  assert.equal(socket.timeout, MS);
  // The earlier response is the one on the connection when the timer expires: it must not decide.
  first.res.emit('timeout', socket);
  assert.equal(socket.timeout, MS, "the earlier request's response cleared the later one's timer");
  first.req.emit('end');
  assert.equal(socket.timeout, MS, "the earlier request's end cleared the later one's timer");
  assert.equal(second.req.listenerCount('timeout'), 1);
});

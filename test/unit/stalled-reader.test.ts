/**
 * cutStalledReader's judgement when CLIENT_SEND_TIMEOUT expires on a paused answer, step by step
 * on a stand-in exchange, response and socket: what counts as the browser taking something is any
 * change in what its connection holds unsent (Node's buffer and libuv's queue), not only a
 * 'drain', as nginx's send_timeout counts from the last write the connection accepted. The whole
 * behaviour with real sockets and Keygate: test/client-limits.test.ts.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { Dispatcher } from 'undici';
import { cutStalledReader } from '../../server/proxy/forward.js';

function exchange(unsent: { buffered: number; queued: number }) {
  const calls = { aborted: 0, destroyed: 0, refreshed: 0 };
  const socket = { writableLength: unsent.buffered, _handle: { writeQueueSize: unsent.queued } };
  const controller = {
    paused: true,
    aborted: false,
    abort() {
      calls.aborted++;
      this.aborted = true;
    },
  };
  const res = {
    socket,
    destroyed: false,
    destroy() {
      calls.destroyed++;
      this.destroyed = true;
    },
  };
  const x = {
    controller: controller as unknown as Dispatcher.DispatchController,
    res: res as unknown as ServerResponse,
    unsentAtPause: unsent.buffered + unsent.queued,
    stalledReader: {
      refresh() {
        calls.refreshed++;
        return this;
      },
    } as unknown as NodeJS.Timeout,
  };
  return { x, socket, controller, res, calls };
}

test('a browser whose connection took nothing since the pause is cut: Gogs aborted, the browser disconnected', () => {
  const { x, calls } = exchange({ buffered: 80_000, queued: 60_000 });
  cutStalledReader(x);
  assert.deepEqual(calls, { aborted: 1, destroyed: 1, refreshed: 0 });
});

test("one whose connection took part of a write (libuv's queue shrank, no 'drain' yet) gets the time again, and is cut only if it then takes nothing more", () => {
  const { x, socket, calls } = exchange({ buffered: 80_000, queued: 60_000 });
  socket._handle.writeQueueSize = 12_000;
  cutStalledReader(x);
  assert.deepEqual(calls, { aborted: 0, destroyed: 0, refreshed: 1 });
  assert.equal(x.unsentAtPause, 92_000, 'judged from now on against what it holds now');
  cutStalledReader(x);
  assert.deepEqual(calls, { aborted: 1, destroyed: 1, refreshed: 1 });
});

test("one whose write finished and the next began (Node's buffer moved) gets the time again", () => {
  const { x, socket, calls } = exchange({ buffered: 80_000, queued: 60_000 });
  socket.writableLength = 16_000;
  socket._handle.writeQueueSize = 60_000;
  cutStalledReader(x);
  assert.deepEqual(calls, { aborted: 0, destroyed: 0, refreshed: 1 });
});

test('an answer no longer paused (the browser drained it), already aborted, or whose browser left is left alone', () => {
  for (const change of [
    (e: ReturnType<typeof exchange>) => (e.controller.paused = false),
    (e: ReturnType<typeof exchange>) => (e.controller.aborted = true),
    (e: ReturnType<typeof exchange>) => (e.res.destroyed = true),
  ]) {
    const e = exchange({ buffered: 80_000, queued: 60_000 });
    change(e);
    cutStalledReader(e.x);
    assert.deepEqual(e.calls, { aborted: 0, destroyed: 0, refreshed: 0 });
  }
});

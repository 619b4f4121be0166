/**
 * A slow Gogs: past GOGS_RESPONSE_TIMEOUT the person gets a clear 504 page instead of a hung
 * request, while a long transfer whose body keeps flowing is never cut by that timeout.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { signedInPerson } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Gogs too slow', () => {
  let kg: TestKeygate;
  let cookie: string;
  before(async () => {
    kg = await startKeygate({ env: { GOGS_RESPONSE_TIMEOUT: '400ms' } });
    cookie = (await signedInPerson(kg, 'slowpoke')).client.cookieHeader()!;
  });
  after(() => kg?.close());

  const get = async (path: string) => {
    const res = await fetch(new URL(path, kg.url), { headers: { cookie }, redirect: 'manual' });
    return { status: res.status, text: await res.text() };
  };

  test('a page Gogs does not answer within GOGS_RESPONSE_TIMEOUT gets a clear 504 page; once Gogs is back, pages work', async () => {
    kg.gogs.setDelay(3000);
    try {
      const slow = await get('/slowpoke/repo');
      assert.equal(slow.status, 504);
      assert.match(slow.text, /did not answer in time/);
      assert.doesNotMatch(slow.text, /\n\s+at .*:\d+:\d+/, 'no stack trace');
      const git = await fetch(new URL('/slowpoke/repo.git/info/refs?service=git-upload-pack', kg.url));
      assert.equal(git.status, 504, 'git pass-through too');
    } finally {
      kg.gogs.setDelay(0);
    }
    const back = await get('/slowpoke/repo');
    assert.equal(back.status, 200);
    assert.match(back.text, /Signed in as slowpoke/);
  });

  test('an upload that keeps flowing for longer than the response timeout is not cut', async () => {
    const { port } = new URL(kg.url);
    const chunk = Buffer.alloc(64 * 1024, 3);
    const hash = createHash('sha256');
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/upload', method: 'POST', headers: { cookie, origin: kg.origin, 'content-type': 'application/octet-stream' } },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      void (async () => {
        // Twelve chunks, 100 ms apart: the body flows for about three times the timeout.
        for (let i = 0; i < 12; i++) {
          req.write(chunk);
          hash.update(chunk);
          await sleep(100);
        }
        req.end();
      })();
    });
    assert.equal(result.status, 200, result.body);
    const received = JSON.parse(result.body) as { bytes: number; sha256: string };
    assert.equal(received.bytes, 12 * chunk.length);
    assert.equal(received.sha256, hash.digest('hex'));
  });
});

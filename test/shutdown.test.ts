/**
 * The deployed process (server/main.ts): SIGTERM lets a long streaming upload through the proxy
 * finish, up to SHUTDOWN_TIMEOUT, and cuts it at that bound; METRICS_PORT serves metrics on its
 * own loopback listener.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../server/config.js';
import { createInvite } from '../server/enrollment/invites.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { createTestDatabase } from './support/db.js';
import { enroll } from './support/flows.js';
import { startFakeGogs } from './support/gogs.js';
import { freePort, MainProcess } from './support/main-process.js';
import { CHUNK, streamingPost } from './support/streaming.js';

/** Starts Keygate, enrols alice and returns her signed-in client. */
async function startSignedIn(env: Record<string, string>) {
  const database = await createTestDatabase({ migrate: false });
  const gogs = await startFakeGogs();
  const url = `http://localhost:${await freePort()}`;
  const app = new MainProcess({
    DATABASE_URL: database.url,
    PORT: new URL(url).port,
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    GOGS_URL: gogs.url,
    LOG_LEVEL: 'info',
    ...env,
  });
  try {
    await app.waitForLog('keygate listening', 45_000);
    const { token } = await createInvite(database.db, loadConfig({ PUBLIC_URL: url }), { username: 'alice', createdBy: 'test' });
    const client = new TestClient(url);
    assert.equal((await enroll(client, new SoftwareAuthenticator(), token)).status, 200);
    return { database, gogs, url, app, client };
  } catch (err) {
    // Nothing left running (a live child or server would hold the file open until its timeout),
    // and what Keygate said, to tell why.
    const said = `${app.stdout.slice(-3000)}${app.stderr.slice(-2000)}`;
    await app.kill();
    await gogs.close();
    await database.drop();
    if (err instanceof Error) err.message += `\nKeygate's output:\n${said}`;
    throw err;
  }
}

/** A POST /upload streamed in 64 KiB chunks, as a git push would be. */
function upload(url: string, client: TestClient) {
  return streamingPost(`${url}/upload`, { cookie: client.cookieHeader()!, origin: client.origin, 'content-type': 'application/octet-stream' }, 5);
}

describe('SIGTERM during a long upload (SHUTDOWN_TIMEOUT=20s), with METRICS_PORT', () => {
  let ctx: Awaited<ReturnType<typeof startSignedIn>>;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    ctx = await startSignedIn({ SHUTDOWN_TIMEOUT: '20s', METRICS_PORT: String(metricsPort) });
  });
  after(async () => {
    await ctx?.app.kill();
    await ctx?.gogs.close();
    await ctx?.database.drop();
  });

  test('metrics are served on 127.0.0.1:METRICS_PORT, not on the public port', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^keygate_ceremonies_total\{type="enrolment",result="success",reason="none"\} 1$/m);
    assert.match(text, /^keygate_process_cpu_seconds_total /m);
    assert.equal((await ctx.client.get('/-/metrics')).status, 404);
  });

  test('the upload in flight completes intact; new connections are refused; exit 0', { timeout: 60_000 }, async () => {
    const transfer = upload(ctx.url, ctx.client);
    await transfer.send(32);
    const stopping = Date.now();
    ctx.app.child.kill('SIGTERM');
    await ctx.app.waitForLog('shutting down: draining in-flight requests', 10_000);
    await assert.rejects(fetch(`${ctx.url}/-/healthz`), 'a new connection was accepted while draining');
    await transfer.send(64);
    transfer.end();
    const answered = await transfer.response;
    assert.equal(answered.status, 200, answered.body);
    const sent = transfer.sent();
    assert.deepEqual(JSON.parse(answered.body), sent);
    assert.equal(sent.bytes, 96 * CHUNK);
    const exit = await ctx.app.waitForExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${ctx.app.stderr}`);
    assert.ok(Date.now() - stopping < 15_000);
    assert.ok(ctx.app.logs().some((l) => l.msg === 'stopped'));
    assert.ok(!ctx.app.logs().some((l) => String(l.msg).startsWith('SHUTDOWN_TIMEOUT reached')));
  });
});

describe('SIGTERM during a stalled upload (SHUTDOWN_TIMEOUT=1s)', () => {
  let ctx: Awaited<ReturnType<typeof startSignedIn>>;
  before(async () => {
    ctx = await startSignedIn({ SHUTDOWN_TIMEOUT: '1s' });
  });
  after(async () => {
    await ctx?.app.kill();
    await ctx?.gogs.close();
    await ctx?.database.drop();
  });

  test('the transfer is cut at the bound and the process exits 0', { timeout: 60_000 }, async () => {
    const transfer = upload(ctx.url, ctx.client);
    await transfer.send(8);
    const stopping = Date.now();
    ctx.app.child.kill('SIGTERM');
    await assert.rejects(transfer.response);
    const exit = await ctx.app.waitForExit(15_000);
    const took = Date.now() - stopping;
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${ctx.app.stderr}`);
    assert.ok(took >= 900 && took < 10_000, `took ${took} ms`);
    assert.ok(ctx.app.logs().some((l) => String(l.msg).startsWith('SHUTDOWN_TIMEOUT reached')));
    transfer.end();
  });
});

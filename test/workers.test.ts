/**
 * WORKERS=2 (server/workers.ts): the compiled server as production runs it, with two worker
 * processes sharing the port. Both serve; a revocation made while both have the session cached
 * reaches each of them (PostgreSQL NOTIFY); the metrics listener sums the workers; SIGTERM drains
 * every worker and stops.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { runCli } from './support/cli.js';
import { TestClient } from './support/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { enroll } from './support/flows.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { listenEnv, MainProcess } from './support/main-process.js';
import { freePort, isListening, sleep } from './support/net.js';

/** One GET on a connection of its own (no keep-alive): node's cluster hands each new connection to one worker. */
function freshGet(url: string, cookie: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
  });
}

/** The sum of a metric's samples whose labels include `labels` (Prometheus text format). */
function metricSum(text: string, name: string, labels: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('WORKERS=2', () => {
  let database: TestDatabase;
  let gogs: FakeGogs;
  let app: MainProcess;
  let url: string;
  let env: Record<string, string>;
  let metricsUrl: string;

  before(async () => {
    database = await createTestDatabase({ migrate: false });
    gogs = await startFakeGogs();
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    ({ url, env } = await listenEnv(gogs.url, { DATABASE_URL: database.url, WORKERS: '2', METRICS_PORT: String(metricsPort) }));
    // debug: every proxied request is logged, with the worker that served it.
    env.LOG_LEVEL = 'debug';
    app = new MainProcess(env);
  });
  after(async () => {
    await app?.kill();
    await gogs?.close();
    await database?.drop();
  });

  test('both workers serve the one port; a revocation reaches the session each has cached; metrics are summed over them', { timeout: 90_000 }, async () => {
    const line = await app.waitForLog('keygate listening', 60_000);
    assert.equal(line.workers, 2);

    const invite = await runCli(['invite', 'wanda'], env);
    assert.equal(invite.code, 0, invite.stderr);
    const client = new TestClient(url);
    const key = new SoftwareAuthenticator();
    const enrolled = await enroll(client, key, new URL(invite.stdout.trim()).pathname.split('/').pop()!);
    assert.equal(enrolled.status, 200, enrolled.text);
    const cookie = client.cookieHeader() ?? '';

    const before = await (await fetch(metricsUrl)).text();
    // Eight fresh connections: each worker serves (and caches) the signed-in session.
    const pages = 8;
    for (let i = 0; i < pages; i++) assert.equal((await freshGet(`${url}/wanda/repo`, cookie)).status, 200);
    // Each is logged once its response has ended: the last line may follow the last answer by a moment.
    const servedLines = () => app.logs().filter((l) => l.msg === 'proxied' && l.path === '/wanda/repo');
    for (let i = 0; i < 40 && servedLines().length < pages; i++) await sleep(50);
    const served = servedLines();
    assert.equal(served.length, pages);
    assert.deepEqual([...new Set(served.map((l) => l.worker as number))].sort(), [1, 2], 'the pages were not served by both workers');
    const after = await (await fetch(metricsUrl)).text();
    const pagesCounted = metricSum(after, 'keygate_proxy_requests_total', 'kind="page"') - metricSum(before, 'keygate_proxy_requests_total', 'kind="page"');
    assert.equal(pagesCounted, pages, 'the metrics listener does not sum both workers');

    const { rows } = await database.db.query<{ id: string }>(`SELECT encode(credential_id, 'base64') AS id FROM credentials`);
    const credentialId = Buffer.from(rows[0].id, 'base64').toString('base64url');
    const revoked = await runCli(['revoke', credentialId], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    // NOTIFY reaches each worker at commit; give it a bounded moment, then every connection is refused.
    for (let i = 0; i < 40 && (await freshGet(`${url}/wanda/repo`, cookie)).status === 200; i++) await sleep(50);
    for (let i = 0; i < pages; i++) {
      const res = await freshGet(`${url}/wanda/repo`, cookie);
      assert.equal(res.status, 303, `connection ${i + 1} after the revocation still reached Gogs`);
      assert.match(res.location ?? '', /^\/-\/login/);
    }
  });

  test('SIGTERM drains every worker, then the main process exits 0', { timeout: 60_000 }, async () => {
    assert.deepEqual(await app.stop(), { code: 0, signal: null }, app.stderr);
    assert.ok(app.logs().some((l) => l.msg === 'stopped'));
    assert.equal(await isListening(Number(new URL(url).port)), false);
    assert.equal(app.unexpectedStderr(), '');
  });
});

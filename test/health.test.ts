/**
 * /-/healthz (liveness, no database) and /-/readyz (database, migrations, Gogs), served ahead of
 * Express: no session, no cookie, and a failed check is named.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { createPool } from '../server/db/pool.js';
import { createLogger } from '../server/log.js';
import { TestClient } from './support/client.js';
import { startFakeGogs } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('health endpoints', () => {
  let kg: TestKeygate;
  let client: TestClient;
  before(async () => {
    kg = await startKeygate();
    client = new TestClient(kg.url);
  });
  after(() => kg?.close());

  test('/-/healthz answers 200 "ok", with no session cookie', async () => {
    const res = await client.get('/-/healthz', { cookie: 'keygate=s%3Abogus.sig' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(res.setCookies, []);
  });

  test('/-/readyz is 200 with every check ok when the database, migrations and Gogs are fine', async () => {
    const res = await client.get('/-/readyz');
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'ready');
    assert.deepEqual(res.json.checks.database, { ok: true });
    assert.deepEqual(res.json.checks.migrations, { ok: true });
    assert.equal(res.json.checks.gogs.ok, true);
    assert.equal(typeof res.json.checks.gogs.status, 'number');
    assert.deepEqual(res.setCookies, []);
    assert.equal(kg.gogs.last()?.method, 'HEAD', 'Gogs was not asked');
  });

  test('/-/readyz is 503 naming migrations when one is not applied', async () => {
    const { rows } = await kg.db.query(`DELETE FROM migrations WHERE id = (SELECT max(id) FROM migrations) RETURNING *`);
    try {
      const res = await client.get('/-/readyz');
      assert.equal(res.status, 503);
      assert.equal(res.json.status, 'not ready');
      assert.deepEqual(res.json.checks.migrations, { ok: false, error: 'pending' });
      assert.equal(res.json.checks.database.ok, true);
    } finally {
      const r = rows[0];
      await kg.db.query('INSERT INTO migrations (id, name, hash, executed_at) VALUES ($1, $2, $3, $4)', [r.id, r.name, r.hash, r.executed_at]);
    }
  });

  test('a client that is not a local probe (relayed by a proxy) gets the status alone, never which dependency is down', async () => {
    const { rows } = await kg.db.query(`DELETE FROM migrations WHERE id = (SELECT max(id) FROM migrations) RETURNING *`);
    try {
      for (const headers of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }] as Array<Record<string, string>>) {
        const res = await client.get('/-/readyz', headers);
        assert.equal(res.status, 503);
        assert.deepEqual(res.json, { status: 'not ready' }, JSON.stringify(headers));
      }
      const ready = await client.get('/-/readyz');
      assert.ok(ready.json.checks, 'a local probe still sees the checks');
    } finally {
      const r = rows[0];
      await kg.db.query('INSERT INTO migrations (id, name, hash, executed_at) VALUES ($1, $2, $3, $4)', [r.id, r.name, r.hash, r.executed_at]);
    }
    const res = await client.get('/-/readyz', { 'x-forwarded-for': '203.0.113.9' });
    assert.deepEqual([res.status, res.json], [200, { status: 'ready' }]);
  });

  test('POST is refused with 405', async () => {
    const res = await client.request('/-/readyz', { method: 'POST', body: '' });
    assert.equal(res.status, 405);
  });
});

describe('readiness failures', () => {
  test('Gogs down: /-/readyz is 503 and names gogs; /-/healthz stays 200', async () => {
    const kg = await startKeygate({ env: { GOGS_URL: `http://127.0.0.1:${await closedPort()}` } });
    try {
      const client = new TestClient(kg.url);
      const res = await client.get('/-/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(res.json.checks.gogs, { ok: false, error: 'ECONNREFUSED' });
      assert.equal(res.json.checks.database.ok, true);
      assert.equal((await client.get('/-/healthz')).status, 200);
    } finally {
      await kg.close();
    }
  });

  test('database down: /-/readyz is 503 and names database and migrations; /-/healthz stays 200', async () => {
    // The real app over a pool that cannot connect; no harness, which needs a database.
    const gogs = await startFakeGogs();
    const deadUrl = `postgres://nobody:x@127.0.0.1:${await closedPort()}/none`;
    const config = loadConfig({ PUBLIC_URL: 'http://localhost:8080', GOGS_URL: gogs.url, DATABASE_URL: deadUrl, LOG_LEVEL: 'silent' });
    const dead = createPool(deadUrl);
    const gateway = createApp({ config, db: dead, log: createLogger('silent'), secret: 'x'.repeat(32) });
    const server = http.createServer(gateway.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new TestClient(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      const res = await client.get('/-/readyz');
      assert.equal(res.status, 503);
      assert.equal(res.json.status, 'not ready');
      assert.deepEqual(res.json.checks.database, { ok: false, error: 'ECONNREFUSED' });
      assert.equal(res.json.checks.migrations.ok, false);
      assert.equal(res.json.checks.gogs.ok, true);
      const live = await client.get('/-/healthz');
      assert.equal(live.status, 200);
      assert.equal(live.text, 'ok');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await gateway.close();
      await dead.end();
      await gogs.close();
    }
  });
});

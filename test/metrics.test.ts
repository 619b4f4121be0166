/**
 * Prometheus metrics: proxied requests by route kind and status class, ceremonies by type, result
 * and a bounded reason, latency histograms, active sessions, the pool, rate-limit rejections; and
 * they are served on their own listener, not on the public port.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../server/config.js';
import { startMetricsServer } from '../server/ops/metrics.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { enrolledUser, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('metrics', () => {
  let kg: TestKeygate;
  let text: string;

  /** A sample's value from the registry; 0 when the series does not exist. */
  async function sample(name: string, labels: Record<string, string> = {}): Promise<number> {
    const all = await kg.gateway.metrics.registry.getMetricsAsJSON();
    for (const metric of all) {
      for (const v of metric.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>) {
        if ((v.metricName ?? metric.name) !== name) continue;
        if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) return v.value;
      }
    }
    return 0;
  }

  before(async () => {
    kg = await startKeygate();
    const anonymous = new TestClient(kg.url);
    assert.equal((await anonymous.get('/')).status, 303);
    assert.equal((await anonymous.get('/api/v1/version')).status, 200);
    assert.equal((await anonymous.get('/user/login')).status, 303);

    const key = new SoftwareAuthenticator();
    const alice = new TestClient(kg.url);
    await enrolledUser(kg, alice, key, 'alice');
    assert.equal((await alice.get('/alice/repo')).status, 200);
    // An enrolment verify without options: no ceremony.
    assert.equal((await anonymous.post('/-/api/enroll/verify', { token: 'x', response: {} })).status, 400);
    const failed = await signIn(new TestClient(kg.url), key, { tamper: { badSignature: true } });
    assert.equal(failed.status, 400);
    const ok = await signIn(new TestClient(kg.url), key);
    assert.equal(ok.status, 200, ok.text);
    text = await kg.gateway.metrics.registry.metrics();
  });
  after(() => kg?.close());

  test('proxied requests are counted by route kind and status class, with a latency histogram', async () => {
    assert.equal(await sample('keygate_proxy_requests_total', { kind: 'page', status_class: '3xx' }), 1);
    assert.equal(await sample('keygate_proxy_requests_total', { kind: 'page', status_class: '2xx' }), 1);
    assert.equal(await sample('keygate_proxy_requests_total', { kind: 'passthrough', status_class: '2xx' }), 1);
    assert.equal(await sample('keygate_proxy_requests_total', { kind: 'blocked', status_class: '3xx' }), 1);
    assert.equal(await sample('keygate_proxy_request_duration_seconds_count', { kind: 'page' }), 2);
    // Keygate's own pages are not proxied requests.
    assert.equal(await sample('keygate_proxy_requests_total', { kind: 'page', status_class: '4xx' }), 0);
  });

  test('ceremonies are counted by type, result and reason, with a latency histogram', async () => {
    assert.equal(await sample('keygate_ceremonies_total', { type: 'enrolment', result: 'success', reason: 'none' }), 1);
    assert.equal(await sample('keygate_ceremonies_total', { type: 'enrolment', result: 'failure', reason: 'no_ceremony' }), 1);
    assert.equal(await sample('keygate_ceremonies_total', { type: 'sign_in', result: 'success', reason: 'none' }), 1);
    assert.equal(await sample('keygate_ceremonies_total', { type: 'sign_in', result: 'failure', reason: 'bad_signature' }), 1);
    assert.equal(await sample('keygate_ceremony_duration_seconds_count', { type: 'sign_in', result: 'success' }), 1);
    assert.equal(await sample('keygate_ceremony_duration_seconds_count', { type: 'sign_in', result: 'failure' }), 1);
    for (const type of ['add_device', 'step_up'])
      assert.match(text, new RegExp(`keygate_ceremonies_total\\{type="${type}",result="success",reason="none"\\} 0`));
  });

  test('an unknown failure reason is counted as "other", keeping the label set bounded', async () => {
    kg.gateway.metrics.ceremony('step_up', 'something we never heard of', 0.01);
    assert.equal(await sample('keygate_ceremonies_total', { type: 'step_up', result: 'failure', reason: 'other' }), 1);
  });

  test('active sessions come from PostgreSQL at scrape time; pool and rate-limit metrics exist', async () => {
    const { rows } = await kg.db.query(`SELECT count(*)::int AS n FROM session WHERE expire > now() AND sess ? 'auth'`);
    assert.equal(rows[0].n, 2);
    assert.equal(await sample('keygate_active_sessions'), 2);
    assert.ok((await sample('keygate_db_pool_total')) >= 1);
    assert.match(text, /^keygate_db_pool_idle \d+$/m);
    assert.match(text, /^keygate_db_pool_waiting \d+$/m);
    assert.match(text, /^# TYPE keygate_rate_limit_rejections_total counter$/m);
    assert.match(text, /^keygate_rate_limit_rejections_total\{limit="ip"\} 0$/m);
  });

  test('served by their own listener; never on the public port', async () => {
    const server = await startMetricsServer(kg.gateway.metrics.scrape, '127.0.0.1', 0);
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await res.text(), /keygate_proxy_requests_total\{kind="page",status_class="2xx"\}/);
      assert.equal((await fetch(`${base}/`)).status, 404);
    } finally {
      server.close();
    }
    const client = new TestClient(kg.url);
    assert.equal((await client.get('/-/metrics')).status, 404);
    const proxied = await client.get('/metrics');
    assert.equal(proxied.status, 303, 'an anonymous /metrics is a Gogs page: sent to sign-in');
  });

  test('METRICS_PORT is unset (disabled) by default and METRICS_HOST is loopback', () => {
    const c = loadConfig({});
    assert.equal(c.metricsPort, undefined);
    assert.equal(c.metricsHost, '127.0.0.1');
    assert.equal(loadConfig({ METRICS_PORT: '9464' }).metricsPort, 9464);
    assert.throws(() => loadConfig({ METRICS_PORT: 'x' }), /METRICS_PORT/);
  });
});

describe('rate-limit metrics', () => {
  test('a request refused by a rate limit increments keygate_rate_limit_rejections_total{limit}', async () => {
    const kg = await startKeygate({ env: { RATE_LIMIT_IP_PER_MINUTE: '2' } });
    try {
      const client = new TestClient(kg.url);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await client.post('/-/api/login/options', {})).status);
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.match(await kg.gateway.metrics.registry.metrics(), /^keygate_rate_limit_rejections_total\{limit="ip"\} 1$/m);
    } finally {
      await kg.close();
    }
  });
});

/**
 * Prometheus metrics (prom-client), one registry per gateway. Served only by startMetricsServer on
 * METRICS_HOST:METRICS_PORT, never on the public port. Label values are fixed sets. The proxy
 * path's request counter and latency histogram are plain arrays indexed by those sets (a few
 * increments per request, no label lookup or hashing) and become samples only when scraped.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/pool.js';
import { INVITE_STATUS } from '../enrollment/invites.js';
import { RATE_LIMIT_NAMES } from '../ratelimit/events.js';
import type { AssetCache } from '../proxy/asset-cache.js';
import type { SessionCache } from '../session/cache.js';
import { countSignedInSessions } from '../session/sql.js';
import type { FailureReason } from '../webauthn/failures.js';

export type RouteKind = 'page' | 'passthrough' | 'blocked';
export type CeremonyType = 'sign_in' | 'enrolment' | 'add_device' | 'step_up';

const ROUTE_KINDS: readonly RouteKind[] = ['page', 'passthrough', 'blocked'];
const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
const CEREMONY_TYPES: readonly CeremonyType[] = ['sign_in', 'enrolment', 'add_device', 'step_up'];

/** Every ceremony failure reason (tsc fails here when one is added to FailureReason and not here). */
const FAILURE_REASONS: Record<FailureReason, true> = {
  no_ceremony: true,
  wrong_ceremony: true,
  challenge_expired: true,
  malformed_response: true,
  unknown_credential: true,
  not_allowed_credential: true,
  revoked_credential: true,
  access_ended: true,
  user_disabled: true,
  user_handle_mismatch: true,
  counter_regression: true,
  concurrent_use: true,
  bad_origin: true,
  bad_rp_id: true,
  bad_type: true,
  challenge_mismatch: true,
  user_not_present: true,
  user_not_verified: true,
  bad_backup_flags: true,
  algorithm_not_allowed: true,
  credential_id_too_long: true,
  already_registered: true,
  bad_signature: true,
  verification_failed: true,
  policy_attachment: true,
  policy_resident_key: true,
  policy_synced_passkey: true,
  policy_aaguid_denied: true,
  policy_aaguid_not_allowed: true,
  policy_untrusted_attestation: true,
  policy_authenticator_compromised: true,
  policy_algorithm: true,
  policy_too_many_credentials: true,
};

/** The `reason` label's values; anything else is counted as `other`. */
export const CEREMONY_REASONS: ReadonlySet<string> = new Set([
  ...Object.keys(FAILURE_REASONS),
  ...Object.keys(INVITE_STATUS).map((state) => `invite_${state}`),
  'enrolment_conflict',
  'step_up_required',
  'unauthorized',
  'cross_origin',
  'rate_limited',
  'unavailable',
  'malformed_json',
  'body_too_large',
  'unsupported_encoding',
  'bad_request',
  'internal',
]);

/** keygate_proxy_request_duration_seconds' buckets (upper bounds, seconds). */
const PROXY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60] as const;

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric whose samples are computed when the registry is scraped, in the shape prom-client's
 * Registry reads from its own metrics (name, help, type, values).
 */
function scrapedMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]) {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: values() }),
    reset: () => {},
  };
  return metric as unknown as Counter;
}

export interface MetricsDeps {
  db: Db;
  sessionCache: SessionCache;
  /** The asset cache, or null when it is off (its metrics then stay at 0). */
  assets?: AssetCache | null;
}

export class Metrics {
  readonly registry = new Registry();
  /** The registry as a Prometheus scrape reads it (what startMetricsServer serves). */
  readonly scrape = async () => ({ body: await this.registry.metrics(), contentType: this.registry.contentType });
  /** One per request a rate limit refuses (wired to RateLimits.events in app.ts); `limit` is one of RATE_LIMIT_NAMES. */
  readonly rateLimitRejections: Counter<'limit'>;
  /** Proxied requests by [kind][status class], kept in plain arrays and read at scrape time. */
  private readonly proxied = new Float64Array(ROUTE_KINDS.length * STATUS_CLASSES.length);
  /** Per kind: one count per bucket (not cumulative), the last for +Inf; and the sum and count. */
  private readonly proxyBuckets = new Float64Array(ROUTE_KINDS.length * (PROXY_BUCKETS.length + 1));
  private readonly proxySum = new Float64Array(ROUTE_KINDS.length);
  private readonly proxyCount = new Float64Array(ROUTE_KINDS.length);
  private readonly ceremonies: Counter<'type' | 'result' | 'reason'>;
  private readonly ceremonyLatency: Histogram<'type' | 'result'>;

  constructor(deps: MetricsDeps) {
    const registers = [this.registry];
    // The proxy path's two metrics are counted in plain arrays (proxyRequest, once per proxied
    // request, costs a few array writes) and turned into samples only when scraped.
    this.registry.registerMetric(
      scrapedMetric('keygate_proxy_requests_total', 'Requests Keygate answered on the proxy path, by route kind and status class', 'counter', () =>
        ROUTE_KINDS.flatMap((kind, k) =>
          STATUS_CLASSES.map((cls, c) => ({ labels: { kind, status_class: cls }, value: this.proxied[k * STATUS_CLASSES.length + c] ?? 0 })),
        ),
      ),
    );
    const latencyName = 'keygate_proxy_request_duration_seconds';
    this.registry.registerMetric(
      scrapedMetric(latencyName, 'Time from request to the end of the response on the proxy path (git transfers included)', 'histogram', () =>
        ROUTE_KINDS.flatMap((kind, k) => {
          const values: Sample[] = [];
          let cumulative = 0;
          for (let b = 0; b <= PROXY_BUCKETS.length; b++) {
            cumulative += this.proxyBuckets[k * (PROXY_BUCKETS.length + 1) + b] ?? 0;
            values.push({ metricName: `${latencyName}_bucket`, labels: { le: PROXY_BUCKETS[b] ?? '+Inf', kind }, value: cumulative });
          }
          values.push({ metricName: `${latencyName}_sum`, labels: { kind }, value: this.proxySum[k] ?? 0 });
          values.push({ metricName: `${latencyName}_count`, labels: { kind }, value: this.proxyCount[k] ?? 0 });
          return values;
        }),
      ),
    );

    this.ceremonies = new Counter({
      name: 'keygate_ceremonies_total',
      help: 'WebAuthn ceremonies completed (verify step), by type, result and failure reason',
      labelNames: ['type', 'result', 'reason'],
      registers,
    });
    this.ceremonyLatency = new Histogram({
      name: 'keygate_ceremony_duration_seconds',
      help: 'Server time of a ceremony verify request',
      labelNames: ['type', 'result'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    // Present from the start (at 0), so a rate over them works before the first ceremony.
    for (const type of CEREMONY_TYPES) this.ceremonies.labels(type, 'success', 'none').inc(0);
    this.rateLimitRejections = new Counter({
      name: 'keygate_rate_limit_rejections_total',
      help: 'Requests refused (429) by a rate limit',
      labelNames: ['limit'],
      registers,
    });
    for (const limit of RATE_LIMIT_NAMES) this.rateLimitRejections.labels(limit).inc(0);

    const { db, sessionCache } = deps;
    new Gauge({
      name: 'keygate_active_sessions',
      help: 'Signed-in, unexpired sessions in PostgreSQL (all instances), counted at scrape time',
      registers,
      // Every worker counts the same rows: with WORKERS > 1 the figure is taken once, not summed.
      aggregator: 'max',
      async collect() {
        // A scrape must still answer (with the pool and process figures) while the database is down.
        const n = await countSignedInSessions(db).catch(() => NaN);
        this.set(n);
      },
    });
    new Gauge({
      name: 'keygate_session_cache_entries',
      help: "This instance's in-memory session cache size",
      registers,
      collect() {
        this.set(sessionCache.size);
      },
    });
    const assets = deps.assets ?? null;
    new Gauge({
      name: 'keygate_asset_cache_entries',
      help: 'Gogs static files whose bodies this instance keeps (GOGS_ASSET_CACHE_MB)',
      registers,
      collect() {
        this.set(assets?.entryCount ?? 0);
      },
    });
    new Gauge({
      name: 'keygate_asset_cache_bytes',
      help: 'Memory the asset cache counts its files as taking',
      registers,
      collect() {
        this.set(assets?.byteCount ?? 0);
      },
    });
    this.registry.registerMetric(
      scrapedMetric('keygate_asset_cache_hits_total', "Static files answered from a kept body after Gogs' 304 (not sent again by Gogs)", 'counter', () => [
        { labels: {}, value: assets?.hits ?? 0 },
      ]),
    );
    new Gauge({
      name: 'keygate_db_pool_total',
      help: 'Connections in the pool',
      registers,
      collect() {
        this.set(db.totalCount);
      },
    });
    new Gauge({
      name: 'keygate_db_pool_idle',
      help: 'Idle connections in the pool',
      registers,
      collect() {
        this.set(db.idleCount);
      },
    });
    new Gauge({
      name: 'keygate_db_pool_waiting',
      help: 'Queries waiting for a pool connection',
      registers,
      collect() {
        this.set(db.waitingCount);
      },
    });
  }

  /** One proxied request, by route kind and HTTP status; seconds from its start. */
  proxyRequest(kind: RouteKind, status: number, seconds: number): void {
    const k = kind === 'page' ? 0 : kind === 'passthrough' ? 1 : 2;
    const cls = status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3;
    // Every index below is in bounds by construction (k < 3, cls < 4, b <= PROXY_BUCKETS.length).
    this.proxied[k * STATUS_CLASSES.length + cls]! += 1;
    let b = 0;
    while (b < PROXY_BUCKETS.length && seconds > PROXY_BUCKETS[b]!) b++;
    this.proxyBuckets[k * (PROXY_BUCKETS.length + 1) + b]! += 1;
    this.proxySum[k]! += seconds;
    this.proxyCount[k]! += 1;
  }

  ceremony(type: CeremonyType, reason: string | null, seconds: number): void {
    const result = reason === null ? 'success' : 'failure';
    this.ceremonies.labels(type, result, reason === null ? 'none' : CEREMONY_REASONS.has(reason) ? reason : 'other').inc();
    this.ceremonyLatency.labels(type, result).observe(seconds);
  }

  /** Process metrics (CPU, memory, event-loop lag, GC): only for a process that serves metrics. */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry, prefix: 'keygate_' });
  }
}

/** Serves GET /metrics from the registry on its own listener. */
export async function startMetricsServer(scrape: () => Promise<{ body: string; contentType: string }>, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    scrape().then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

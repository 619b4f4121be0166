/**
 * WORKERS > 1: Keygate on every core. The primary process (server/main.ts) owns what exists once
 * per installation (the embedded PostgreSQL, migrations, the first-run link, the metrics
 * listener) and forks the workers; each worker runs one Keygate server (server/serve.ts) on the
 * shared port, with its own database pool and session cache. Node's cluster module hands each new
 * connection to one worker. The session caches stay exact because every worker listens for
 * PostgreSQL's NOTIFY, as separate instances do; metrics are summed over the workers (prom-client's
 * AggregatorRegistry). SIGTERM or SIGINT to the primary drains every worker, then stops.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config.js';
import { createPool } from './db/pool.js';
import type { Logger } from './log.js';
import { loadMetadata } from './policy/metadata.js';
import { serve } from './serve.js';
import { loadSessionSecret } from './session/secret.js';

/** Primary → worker: where the database is (the primary may have started it). */
interface StartMessage {
  keygate: 'start';
  databaseUrl: string;
}
/** Worker → primary: it waits for the start message (sent only then: a message before a listener is lost). */
interface ReadyMessage {
  keygate: 'ready';
}
/** Worker → primary: its server listens. */
interface ListeningMessage {
  keygate: 'listening';
}

const isMessage = <T extends { keygate: string }>(m: unknown, kind: T['keygate']): m is T =>
  typeof m === 'object' && m !== null && (m as { keygate?: unknown }).keygate === kind;

export interface Workers {
  /** Metrics of every worker, summed (the text a Prometheus scrape gets). */
  metrics(): Promise<{ body: string; contentType: string }>;
  /** Passes SIGHUP (reload the FIDO metadata) to every worker. */
  reload(): void;
  /** SIGTERM to every worker; resolves once all have drained and exited. */
  stop(): Promise<void>;
}

/** Forks `config.workers` workers and resolves once every one listens. */
export async function startWorkers(config: Config, log: Logger, databaseUrl: string): Promise<Workers> {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  const running = new Set<Worker>();
  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      running.add(worker);
      worker.on('message', (m: unknown) => {
        if (isMessage<ReadyMessage>(m, 'ready')) worker.send({ keygate: 'start', databaseUrl } satisfies StartMessage);
        if (isMessage<ListeningMessage>(m, 'listening')) resolve();
      });
      worker.once('exit', (code, signal) => {
        running.delete(worker);
        reject(new Error(`worker ${worker.id} exited before it listened (${signal ?? `code ${code}`})`));
        if (stopping) return;
        // A worker that dies while serving is replaced; its connections are lost, the others' are not.
        log.error({ worker: worker.id, code, signal }, 'a worker exited: starting another');
        setTimeout(() => void fork().catch((err: Error) => log.error({ err }, 'the replacement worker did not start')), 1000).unref();
      });
    });
  await Promise.all(Array.from({ length: config.workers }, fork));
  return {
    async metrics() {
      return { body: await aggregator.clusterMetrics(), contentType: aggregator.contentType };
    },
    reload() {
      for (const worker of running) worker.process.kill('SIGHUP');
    },
    async stop() {
      stopping = true;
      await Promise.all(
        [...running].map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** A worker: waits for the primary's go, serves until SIGTERM or SIGINT, drains, exits 0. */
export function runWorker(config: Config, parentLog: Logger): void {
  const log = parentLog.child({ worker: cluster.worker?.id });
  process.once('message', (m: unknown) => {
    if (!isMessage<StartMessage>(m, 'start')) return;
    void (async () => {
      const metadata = await loadMetadata(config, log);
      const db = createPool(m.databaseUrl, 10, config.databaseTimeoutMs);
      const secret = await loadSessionSecret(db, config.sessionSecret);
      const serving = await serve({ config, db, log, secret, metadata });
      if (config.metricsPort !== undefined) {
        serving.gateway.metrics.collectProcessMetrics();
        // Answers the primary's AggregatorRegistry with this worker's figures: constructing one
        // is what installs prom-client's answering listener in a worker.
        new AggregatorRegistry();
        AggregatorRegistry.setRegistries([serving.gateway.metrics.registry]);
      }
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        await serving.drain();
        await db.end();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop());
      // Ctrl-C reaches every process of the terminal's group: the primary then asks again, once.
      process.on('SIGINT', () => void stop());
      process.send?.({ keygate: 'listening' } satisfies ListeningMessage);
    })().catch((err: unknown) => {
      log.error({ err }, 'worker failed to start');
      process.exit(1);
    });
  });
  process.send?.({ keygate: 'ready' } satisfies ReadyMessage);
}

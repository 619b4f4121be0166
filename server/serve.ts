/**
 * One HTTP server for Keygate: the gateway (createApp) listening on HOST:PORT, and its graceful
 * drain. server/main.ts runs one in its own process (WORKERS=1), or one in each worker process
 * (server/workers.ts), where node's cluster module shares the port between them.
 */
import http, { type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { messagePage } from '../web/pages/message.js';
import type { Site } from '../web/pages/layout.js';
import { siteOf } from './http/site.js';
import { languageFor, languageHeaders } from './http/language.js';
import { strings } from '../web/i18n/index.js';
import { createApp, type Gateway } from './app.js';
import type { AppDeps } from './deps.js';
import { HSTS_VALUE, MESSAGE_PAGE_CSP } from './proxy/response-headers.js';
import { isApiPath } from './http/api-path.js';

export interface Serving {
  gateway: Gateway;
  /**
   * Stops accepting connections and lets in-flight requests finish, for at most SHUTDOWN_TIMEOUT;
   * then answers what can still be answered with a 503 and cuts the rest; closes the gateway.
   */
  drain(): Promise<void>;
}

export async function serve(deps: AppDeps): Promise<Serving> {
  const { config, log } = deps;
  const gateway = createApp(deps);
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
  // A newer FIDO metadata BLOB: on SIGHUP, and daily (the FIDO MDS publishes about monthly).
  if (config.mds.blob) {
    process.on('SIGHUP', () => void gateway.reloadMetadata());
    setInterval(() => void gateway.reloadMetadata(), 24 * 3600_000).unref();
  }
  return {
    gateway,
    async drain() {
      const forced = setTimeout(() => {
        const answered = answerUnfinished(connections, config.https, siteOf(config));
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
      clearTimeout(forced);
      await gateway.close();
    },
  };
}

/**
 * At SHUTDOWN_TIMEOUT: every request Keygate has read in full but not started to answer (a
 * ceremony waiting on the database, a page waiting on Gogs) gets a 503 saying Keygate is
 * restarting, instead of a cut connection. Whatever its handler writes later goes nowhere.
 * Transfers whose body is still arriving, or whose answer has started, are only cut.
 */
function answerUnfinished(connections: Set<Socket>, https: boolean, site: Site): number {
  let answered = 0;
  for (const socket of connections) {
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!res || res.headersSent || res.writableEnded || !res.req?.complete) continue;
    const lang = languageFor(res.req.headers['accept-language']);
    const t = strings(lang);
    const message = t.errors.restarting;
    const json = isApiPath(res.req.url ?? '');
    const body = json
      ? JSON.stringify({ error: { code: 'shutting_down', message } })
      : messagePage({ title: t.titles[503], message, action: { href: '/-/login', label: t.actions.goToSignIn }, site, lang });
    res.writeHead(503, {
      ...languageHeaders(lang),
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

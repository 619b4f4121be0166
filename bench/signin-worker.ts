/**
 * A sign-in load generator for the bench, run as a child process of bench/run.ts so that the
 * software authenticator's signing and the HTTP client do not share an event loop with the bench
 * itself (they still share the machine's cores).
 *
 * Protocol (IPC): the parent sends { origin, tokens, usernames }; the worker enrols one software
 * authenticator per invite token through the real enrolment ceremony and answers { enrolled }.
 * The parent then sends { run: durationMs }; the worker signs in again and again, with each of
 * its credentials in parallel (a discoverable credential, no username: options + verify), and
 * answers { latencies, failures }.
 *
 * The load loop uses a lean keep-alive HTTP client (node:http), as a browser would keep its
 * connection open; the ceremony itself is the same one test/support/flows.ts drives.
 */
import http from 'node:http';
import { SoftwareAuthenticator } from '../test/support/authenticator.js';
import { TestClient } from '../test/support/client.js';
import { enroll } from '../test/support/flows.js';

interface Start {
  origin: string;
  tokens: string[];
}

const send = (msg: unknown) => process.send!(msg);

function post(
  agent: http.Agent,
  url: URL,
  path: string,
  body: string,
  cookie: string | undefined,
): Promise<{ status: number; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      origin: url.origin,
    };
    if (cookie) headers.cookie = cookie;
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), setCookie: res.headers['set-cookie'] ?? [] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The session cookie pair ("name=value") from Set-Cookie, if any. */
function sessionCookie(setCookie: string[]): string | undefined {
  for (const c of setCookie) {
    const pair = c.split(';', 1)[0];
    if (pair.startsWith('keygate') || pair.startsWith('__Host-keygate')) return pair;
  }
  return undefined;
}

async function signInOnce(agent: http.Agent, url: URL, key: SoftwareAuthenticator): Promise<boolean> {
  const options = await post(agent, url, '/-/api/login/options', '{}', undefined);
  if (options.status !== 200) return false;
  const cookie = sessionCookie(options.setCookie);
  const response = await key.authenticate(JSON.parse(options.body), url.origin);
  const verify = await post(agent, url, '/-/api/login/verify', JSON.stringify({ response }), cookie);
  return verify.status === 200 && sessionCookie(verify.setCookie) !== undefined;
}

const keys: SoftwareAuthenticator[] = [];
let origin = '';

process.on('message', (msg: Partial<Start> & { run?: number }) => {
  if (msg.tokens && msg.origin) {
    origin = msg.origin;
    void (async () => {
      for (const token of msg.tokens!) {
        const key = new SoftwareAuthenticator({ residentKey: true, counterStep: 1 });
        const res = await enroll(new TestClient(origin), key, token);
        if (res.status !== 200) throw new Error(`enrolment failed: ${res.text}`);
        keys.push(key);
      }
      send({ enrolled: keys.length });
    })().catch((err) => {
      process.stderr.write(`signin-worker: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
    return;
  }
  if (msg.run !== undefined) {
    const deadline = Date.now() + msg.run;
    const url = new URL(origin);
    const latencies: number[] = [];
    let failures = 0;
    void Promise.all(
      keys.map(async (key) => {
        // One browser per credential: its own keep-alive connection.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        while (Date.now() < deadline) {
          const t = performance.now();
          const ok = await signInOnce(agent, url, key).catch(() => false);
          latencies.push(performance.now() - t);
          if (!ok) failures++;
        }
        agent.destroy();
      }),
    ).then(() => {
      send({ latencies, failures });
    });
  }
});

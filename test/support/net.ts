/** Loopback ports and waiting, for tests (and the bench) that start servers in their own processes. */
import net from 'node:net';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ports this process has handed out: never twice. */
const given = new Set<number>();

/** Whether a server could listen on host:port just now (a host this machine does not have counts as free). */
function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT'));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port free a moment ago on both 127.0.0.1 and ::1, so that `localhost` means one server.
 * Drawn at random below the ephemeral range (32768 and up), from which every listen(0) and every
 * outgoing connection takes its port: the kernel hands such a port to nobody else meanwhile, and
 * two test processes drawing at once rarely meet. (Asking the kernel for a free port, as this did
 * before, can give two of them the same one; then, say, one test's PostgreSQL, which listens on
 * localhost, can take ::1 beside another's Keygate on 127.0.0.1, and a request to localhost reach
 * the wrong server. A CI run once failed with "fetch failed" right after Keygate said it listened.)
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 500; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (given.has(port)) continue;
    if ((await canListen(port, '127.0.0.1')) && (await canListen(port, '::1'))) {
      given.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port between 20000 and 32000');
}

export { isListening } from '../../server/db/embedded.js';

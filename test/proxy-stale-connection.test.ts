/**
 * A pooled keep-alive connection to Gogs can be closed by Gogs just as Keygate sends the next
 * request on it (Gogs' idle timeout racing Keygate's reuse). The request never reached Gogs: a GET
 * is sent again on a fresh connection instead of answering 502; a request with a body is not.
 * The upstream here is a raw TCP server, so the race is not left to timing: when told to, it
 * closes a connection it has already used, unanswered, as the next request arrives on it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestClient } from './support/client.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

describe('a stale keep-alive connection to Gogs', () => {
  let kg: TestKeygate;
  let server: net.Server;
  let connections = 0;
  /** The next request arriving on an already used connection closes that connection unanswered. */
  let dropNextReused = false;
  let dropped = 0;
  const received: string[] = [];

  before(async () => {
    server = net.createServer((socket) => {
      const connection = ++connections;
      let served = 0;
      let buffered = '';
      socket.on('data', (d) => {
        buffered += String(d);
        let end: number;
        while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
          const head = buffered.slice(0, end);
          const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length < end + 4 + length) return;
          buffered = buffered.slice(end + 4 + length);
          if (dropNextReused && served > 0) {
            dropNextReused = false;
            dropped++;
            socket.destroy();
            return;
          }
          served++;
          received.push(`${connection}: ${head.split('\r\n')[0]}`);
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    kg = await startKeygate({ env: { GOGS_URL: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` } });
  });
  after(async () => {
    await kg?.close();
    server?.close();
  });

  test('a GET sent on a connection Gogs just closed is sent again on a new one and answered, not a 502', async () => {
    const client = new TestClient(kg.url);
    assert.equal((await client.get('/api/v1/version')).status, 200);
    const before = { connections, dropped };
    received.length = 0;
    dropNextReused = true;
    const res = await client.get('/api/v1/repos/search?q=x');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'ok');
    assert.equal(dropped, before.dropped + 1, 'the pooled connection was dropped');
    assert.equal(connections, before.connections + 1, 'and the GET went out again on a new one');
    assert.deepEqual(
      received.map((r) => r.split(': ')[1]),
      ['GET /api/v1/repos/search?q=x HTTP/1.1'],
      'Gogs answered it once',
    );
  });

  test('a request with a body is never sent twice: on a dropped connection it gets the 502', async () => {
    const client = new TestClient(kg.url);
    assert.equal((await client.get('/api/v1/version')).status, 200);
    received.length = 0;
    dropNextReused = true;
    const res = await client.request('/api/v1/user/repos', {
      method: 'POST',
      body: '{"name":"x"}',
      headers: { 'content-type': 'application/json', authorization: 'token 0123456789abcdef0123456789abcdef01234567' },
    });
    assert.equal(res.status, 502, res.text);
    assert.deepEqual(received, [], 'Gogs never answered a POST');
  });
});

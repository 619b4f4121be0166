/**
 * The benchmark's upstream: a trivial Gogs stand-in (2 KB pages, small git answers, a sink for
 * uploads). Deliberately lean, so the figures measure the proxies, not the upstream.
 * Run as a child process: prints its port on stdout.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const page = Buffer.alloc(2048, 'x');
const refs = Buffer.from('001e# service=git-upload-pack\n0000');

const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  const body = req.url?.includes('/info/refs') ? refs : page;
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));

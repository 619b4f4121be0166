/**
 * Issue 4, class 10: headers. Keygate's own pages (Express under /-/, and the proxy's own pages
 * and redirects) carry a strict CSP with frame-ancestors 'none', and HSTS under https. Gogs'
 * responses keep every header Gogs sent, and get exactly what server/proxy/response-headers.ts
 * chose: HSTS under https and `X-Content-Type-Options: nosniff`, each only when Gogs sent none.
 *
 * The upstream here is a small Gogs stand-in whose pages send Gogs 0.14's own security headers
 * (a CSP that allows its inline scripts, `X-Frame-Options: deny`, nosniff) and two cookies.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { TestClient, type ClientResponse } from './support/client.js';
import { enrolledUser, HeaderClient } from './support/flows.js';
import type { FakeGogs } from './support/gogs.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';

const GOGS_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'";

/** Security-relevant response headers, as one object to compare whole. */
const SECURITY_HEADERS = [
  'strict-transport-security',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

function securityHeaders(res: ClientResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SECURITY_HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** A Gogs stand-in: a page with Gogs' own headers, a page with none, a page with its own HSTS, and git. */
async function startHeaderGogs(): Promise<{ upstream: FakeGogs; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const page = (headers: Record<string, string | string[]>) => {
      const body = '<!DOCTYPE html><html><body><script>window.gogs = 1</script>Gogs page</body></html>';
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    req.resume();
    switch (req.url) {
      case '/alice/repo':
        // What Gogs 0.14 sends on its pages (internal/context/context.go), plus a CSP of its own.
        return page({
          'Content-Security-Policy': GOGS_CSP,
          'X-Frame-Options': 'deny',
          'X-Content-Type-Options': 'nosniff',
          'Set-Cookie': ['lang=en-US; Path=/', '_csrf=abc; Path=/; HttpOnly'],
        });
      case '/alice/repo/raw/master/README':
        // A route without Gogs' context: no security headers of its own.
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 5 });
        return res.end('hello');
      case '/alice/repo/own-hsts':
        return page({ 'Strict-Transport-Security': 'max-age=60' });
      default:
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="."', 'Content-Length': 0 });
        return res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    // startKeygate only needs the URL of an upstream it was given.
    upstream: { url } as FakeGogs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function assertKeygatePage(res: ClientResponse, what: string): void {
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /(^|;)\s*default-src 'none'/, `${what}: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/, what);
  assert.match(csp, /base-uri 'none'/, what);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, what);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
}

describe('headers', () => {
  for (const scheme of ['http', 'https'] as const) {
    describe(`under ${scheme}`, () => {
      let gogs: Awaited<ReturnType<typeof startHeaderGogs>>;
      let kg: TestKeygate;
      let browser: TestClient;
      const origin = scheme === 'https' ? 'https://keygate.test' : undefined;
      const hsts = scheme === 'https' ? { 'strict-transport-security': 'max-age=31536000' } : {};

      before(async () => {
        gogs = await startHeaderGogs();
        kg = await startKeygate({ upstream: gogs.upstream, env: origin ? { PUBLIC_URL: origin, TRUST_PROXY: 'true' } : {} });
        const client = () => new HeaderClient(kg.url, kg.origin, scheme === 'https' ? { 'x-forwarded-proto': 'https' } : {});
        browser = client();
        await enrolledUser(kg, browser, new SoftwareAuthenticator(), 'alice');
      });
      after(async () => {
        await kg.close();
        await gogs.close();
      });

      test(`Keygate's own pages carry a strict CSP with frame-ancestors 'none'${scheme === 'https' ? ', and HSTS' : ', and no HSTS'}`, async () => {
        const anonymous = new TestClient(kg.url, kg.origin);
        const pages: Array<[string, ClientResponse]> = [
          ['sign-in page', await anonymous.get('/-/login')],
          ['invalid invite page', await anonymous.get('/-/enroll/nope')],
          ['account page', await browser.get('/-/account')],
          ['proxy: unreadable path (400)', await anonymous.get('/%zz')],
          ['proxy: unsafe anonymous request (401)', await anonymous.request('/alice/repo', { method: 'POST', body: 'x' })],
          [
            'proxy: password refused for git (401)',
            await anonymous.get('/alice/repo.git/info/refs', { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` }),
          ],
        ];
        for (const [what, res] of pages) {
          assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
          assertKeygatePage(res, what);
          assert.equal(res.headers.get('strict-transport-security'), scheme === 'https' ? 'max-age=31536000' : null, what);
        }
        const others: Array<[string, ClientResponse]> = [
          ['JSON API error', await anonymous.post('/-/api/nothing', {})],
          ['proxy: redirect to sign-in', await anonymous.get('/alice/repo')],
          ['static file', await anonymous.get('/-/static/keygate.css')],
        ];
        for (const [what, res] of others) {
          assert.equal(res.headers.get('strict-transport-security'), scheme === 'https' ? 'max-age=31536000' : null, what);
          assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
        }
      });

      test('a Gogs page keeps its own CSP, frame options and cookies, and gets exactly what Keygate adds', async () => {
        const res = await browser.get('/alice/repo');
        assert.equal(res.status, 200);
        assert.match(res.text, /<script>window\.gogs = 1<\/script>Gogs page/);
        assert.deepEqual(securityHeaders(res), {
          ...hsts,
          'content-security-policy': GOGS_CSP,
          'x-frame-options': 'deny',
          'x-content-type-options': 'nosniff',
        });
        assert.deepEqual(res.setCookies, ['lang=en-US; Path=/', '_csrf=abc; Path=/; HttpOnly'], 'every Set-Cookie from Gogs arrives');
      });

      test('a Gogs response without security headers gets nosniff (and HSTS under https), nothing else', async () => {
        const res = await browser.get('/alice/repo/raw/master/README');
        assert.equal(res.status, 200);
        assert.equal(res.text, 'hello');
        assert.deepEqual(securityHeaders(res), { ...hsts, 'x-content-type-options': 'nosniff' });
      });

      test('a Gogs HSTS header of its own is passed on as it is, not doubled', async () => {
        const res = await browser.get('/alice/repo/own-hsts');
        assert.equal(res.headers.get('strict-transport-security'), 'max-age=60');
      });

      test("git pass-through gets the same and keeps Gogs' challenge", async () => {
        const res = await new TestClient(kg.url, kg.origin).get('/alice/repo.git/info/refs?service=git-upload-pack');
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="."');
        assert.deepEqual(securityHeaders(res), { ...hsts, 'x-content-type-options': 'nosniff' });
      });
    });
  }
});

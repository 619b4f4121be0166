/**
 * Unit tests of the decisions the proxy makes before anything reaches Gogs: how a request path is
 * read (normalizePath), which route it is (classifyPath), where sign-in may send a person
 * (safeReturnPath), which unsafe requests count as same-origin (isSameOrigin), and which headers
 * Gogs receives (upstreamHeaders). The integration side is test/proxy.test.ts.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { loadConfig, type Config } from '../../server/config.js';
import { safeReturnPath } from '../../server/http/return-path.js';
import { isSafeMethod, isSameOrigin } from '../../server/http/same-origin.js';
import { isGogsSignInRedirect } from '../../server/proxy/forward.js';
import { rewriteSetCookies } from '../../server/proxy/gogs-session.js';
import { createHeaderPlan, downstreamHeaders, GOGS_REMEMBER_COOKIES, upstreamHeaders } from '../../server/proxy/headers.js';
import { classifyPath, normalizePath, type Route } from '../../server/proxy/paths.js';
import { BLOCKED_ROUTES } from '../support/gogs-routes.js';

const ORIGIN = 'https://git.example.com';
const SECRET = 'test-secret-'.repeat(4);
const config = (env: Record<string, string> = {}): Config => loadConfig({ PUBLIC_URL: ORIGIN, GOGS_URL: 'http://127.0.0.1:3000', LOG_LEVEL: 'silent', ...env });

/** normalizePath then classifyPath, the way the handler does it. */
function route(target: string, method = 'GET'): Route | 'bad' {
  const path = normalizePath(target);
  return path === null ? 'bad' : classifyPath(path, method);
}

describe('normalizePath', () => {
  test('lower-cases a plain path and drops query and fragment', () => {
    assert.equal(normalizePath('/Alice/Repo'), '/alice/repo');
    assert.equal(normalizePath('/alice/repo?tab=1&x=/user/login'), '/alice/repo');
    assert.equal(normalizePath('/alice/repo#/user/login'), '/alice/repo');
    assert.equal(normalizePath('/'), '/');
  });

  test('decodes percent-encoded letters and slashes before matching', () => {
    assert.equal(normalizePath('/user%2Flogin'), '/user/login');
    assert.equal(normalizePath('/%75ser/%6C%6Fgin'), '/user/login');
    assert.equal(normalizePath('/user/login%2f'), '/user/login/');
  });

  test('decodes as many times as Gogs does: Go decodes once and macaron decodes each segment again', () => {
    // Gogs' router (gopkg.in/macaron.v1 tree.go) PathUnescapes segments of the already decoded
    // req.URL.Path, so /user/%256cogin is /user/login to Gogs.
    assert.equal(normalizePath('/user/%256cogin'), '/user/login');
    assert.equal(normalizePath('/user%252flogin'), '/user/login');
    assert.equal(normalizePath('/%2575ser/login'), '/user/login');
    assert.equal(normalizePath('/user/%25256cogin'), '/user/login');
  });

  test('resolves dot segments, collapses slashes, reads backslashes as slashes', () => {
    assert.equal(normalizePath('/x/../user/./login'), '/user/login');
    assert.equal(normalizePath('//user//login'), '/user/login');
    assert.equal(normalizePath('/x/%2e%2e/user/login'), '/user/login');
    assert.equal(normalizePath('/x/%2E%2E/user/login'), '/user/login');
    assert.equal(normalizePath('/user\\login'), '/user/login');
    assert.equal(normalizePath('/user%5clogin'), '/user/login');
    assert.equal(normalizePath('/user/login/.'), '/user/login');
  });

  test('drops ;parameters inside segments', () => {
    assert.equal(normalizePath('/user/login;jsessionid=1'), '/user/login');
    assert.equal(normalizePath('/user;x/login'), '/user/login');
    assert.equal(normalizePath('/user/login%3bx'), '/user/login');
  });

  test('keeps a trailing slash', () => {
    assert.equal(normalizePath('/user/login/'), '/user/login/');
    assert.equal(normalizePath('/alice/'), '/alice/');
  });

  test('refuses (null) what cannot be normalised: bad encoding, control characters, .. above the root, non-origin forms', () => {
    for (const target of [
      '/%zz',
      '/%',
      '/a%0',
      '/a%00b',
      '/%0a',
      '/a%09b',
      '/a%7fb',
      '/a\tb',
      '/a\u0000b',
      '/a\nb',
      '/..',
      '/../x',
      '/a/../../b',
      '/%2e%2e/x',
      '/%5C..%5C..',
      '/%C0%AF',
      '/%E2%82',
      '/%2500', // NUL after the second decode
      '/%252e%252e/x', // .. above the root after the second decode
      '/%25zz', // bad encoding after the second decode
      'http://evil.example/user/login',
      '*',
      '',
      'user/login',
    ]) {
      assert.equal(normalizePath(target), null, JSON.stringify(target));
    }
  });
});

describe('classifyPath', () => {
  test("/-/ is Keygate's own, in any spelling", () => {
    for (const t of ['/-', '/-/login', '/-/api/login/options', '/%2D/login', '/%2d/api/x', '//-//login']) assert.equal(route(t), 'keygate', t);
  });

  test('every Gogs 0.14 and 0.15 password sign-in, sign-up, reset and activation route is blocked, for every method', () => {
    for (const path of BLOCKED_ROUTES) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) {
        assert.equal(route(path, method), 'blocked', `${method} ${path}`);
        assert.equal(route(`${path}/`, method), 'blocked', `${method} ${path}/`);
        assert.equal(route(path.toUpperCase(), method), 'blocked', `${method} ${path.toUpperCase()}`);
      }
    }
  });

  test('blocked routes stay blocked in encoded, dotted, doubled, ;param and double-encoded spellings', () => {
    for (const path of BLOCKED_ROUTES) {
      const last = path.slice(path.lastIndexOf('/') + 1);
      const head = path.slice(0, path.lastIndexOf('/') + 1);
      const spellings = [
        `/x/..${path}`,
        path.replace(/\//g, '//'),
        `/${path.slice(1).replace(/\//g, '%2F')}`,
        `/${path.slice(1).replace(/\//g, '%252F')}`,
        `${head}%${last.charCodeAt(0).toString(16)}${last.slice(1)}`,
        `${head}%25${last.charCodeAt(0).toString(16)}${last.slice(1)}`,
        `${path};a=b`,
        `${path}?x=1`,
        `${path}.json`,
        `${path}-x`,
      ];
      for (const t of spellings) assert.equal(route(t, 'POST'), 'blocked', t);
    }
  });

  test('a neighbour of a blocked route is not blocked (the block is not a loose prefix)', () => {
    assert.equal(route('/user/settings'), 'page');
    assert.equal(route('/user/loginx'), 'page');
    assert.equal(route('/user/logout'), 'page');
    assert.equal(route('/alice/user/login'), 'page');
    assert.equal(route('/users/login'), 'page');
  });

  test('POST to Gogs sign-out (0.14 and 0.15) is its own route; other methods are pages', () => {
    for (const t of ['/user/logout', '/api/web/user/sign-out', '/USER/LOGOUT', '/user/logout/', '/user/%6cogout', '/user//logout']) {
      assert.equal(route(t, 'POST'), 'gogs-logout', t);
    }
    assert.equal(route('/user/logout', 'GET'), 'page');
  });

  test('git smart HTTP, LFS and /api/v1 pass through', () => {
    for (const t of [
      '/api/v1',
      '/api/v1/user',
      '/api/v1/repos/alice/repo',
      '/alice/repo/info/refs',
      '/alice/repo.git/info/refs?service=git-upload-pack',
      '/alice/repo/git-upload-pack',
      '/alice/repo.git/git-receive-pack',
      '/alice/repo.git/info/lfs',
      '/alice/repo.git/info/lfs/objects/batch',
      '/alice/repo.git/objects/info/packs',
    ]) {
      assert.equal(route(t, 'POST'), 'passthrough', t);
    }
  });

  test('a page is never pass-through, whatever git-like words its path holds', () => {
    for (const t of [
      '/alice/repo/info/refs/../../settings',
      '/alice/repo/info/refs/%2e%2e/%2e%2e/settings',
      '/alice/repo/src/info/refs',
      '/alice/repo/src/master/info/refs',
      '/alice/repo/raw/master/git-upload-pack',
      '/alice/repo/info/refs/extra',
      '/alice/info/refs',
      '/api/v1/../../alice/repo/settings',
      '/api/v1%2F..%2F..%2Falice',
      '/api/v1x',
      '/api/v10/user',
      '/api/web/repos',
      '/',
      '/alice',
      '/alice/repo',
      '/alice/repo/settings',
    ]) {
      assert.equal(route(t, 'POST'), 'page', t);
    }
  });
});

describe('safeReturnPath', () => {
  const origin = 'http://localhost:8080';

  test('follows a relative path on this origin, with its query and fragment', () => {
    for (const v of [
      '/',
      '/alice/repo',
      '/alice/repo/issues?state=closed&page=2',
      '/alice/repo#L10',
      '/alice/repo/src/master/a%20b.txt',
      '/alice/repo?q=%2F%2Fx',
    ]) {
      assert.equal(safeReturnPath(v, origin), v, v);
    }
  });

  test('falls back to / for anything a browser could read as another origin or a script', () => {
    for (const v of [
      'https://evil.example/',
      'http://localhost:8080/alice', // absolute, even on this origin
      '//evil.example',
      '///evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      '/%2F%2Fevil.example',
      '/%2f/evil.example',
      '%2F%2Fevil.example',
      '/%5Cevil.example',
      '/%5C%5Cevil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      '/\r\n/evil.example',
      '/%09/evil.example',
      '/%0d%0a/evil.example',
      '/ /evil.example',
      '/\u0000',
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'evil.example',
    ]) {
      assert.equal(safeReturnPath(v, origin), '/', JSON.stringify(v));
    }
  });

  test('falls back to / for paths with dot segments, which can leave the root or turn into //host', () => {
    for (const v of [
      '/..//evil.example',
      '/.//evil.example',
      '/%2e%2e//evil.example',
      '/%2E//evil.example',
      '/a/../..//evil.example',
      '/./%2e/%2fevil.example',
      '/../../etc/passwd',
      '/alice/../../x',
    ]) {
      assert.equal(safeReturnPath(v, origin), '/', JSON.stringify(v));
    }
  });

  test("falls back to / for non-strings, empty, over-long values and Keygate's API, in any spelling", () => {
    for (const v of [
      undefined,
      null,
      42,
      ['/alice'],
      { a: 1 },
      '',
      `/${'a'.repeat(3000)}`,
      '/-/api/account',
      '/-/api/login/verify',
      '/-/API/account',
      '/-/Api/Login/verify',
    ]) {
      assert.equal(safeReturnPath(v, origin), '/', JSON.stringify(v));
    }
  });
});

describe('isSameOrigin', () => {
  const req = (headers: IncomingHttpHeaders) => ({ headers }) as IncomingMessage;

  test('accepts this origin by Origin, or by Sec-Fetch-Site when Origin is absent or null', () => {
    assert.equal(isSameOrigin(req({ origin: ORIGIN }), ORIGIN), true);
    assert.equal(isSameOrigin(req({ 'sec-fetch-site': 'same-origin' }), ORIGIN), true);
    assert.equal(isSameOrigin(req({ origin: 'null', 'sec-fetch-site': 'same-origin' }), ORIGIN), true);
  });

  test('refuses other origins, sibling sites, and requests that prove nothing', () => {
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'http://git.example.com' }, // scheme differs
      { origin: 'https://git.example.com:8443' }, // port differs
      { origin: 'https://sub.git.example.com' },
      { origin: `${ORIGIN}/` },
      { origin: `${ORIGIN}, https://evil.example` }, // two Origin headers, joined by node
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }, // Origin wins
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'none' },
      { origin: 'null', 'sec-fetch-site': 'cross-site' },
      {},
    ]) {
      assert.equal(isSameOrigin(req(headers), ORIGIN), false, JSON.stringify(headers));
    }
  });

  test('only GET, HEAD and OPTIONS are safe methods', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) assert.equal(isSafeMethod(m), true, m);
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND', 'get']) assert.equal(isSafeMethod(m), false, m);
  });
});

describe('upstreamHeaders', () => {
  const client = { ip: '203.0.113.7', requestId: 'req-1' };
  const build = (incoming: IncomingHttpHeaders, identity: string | null, env: Record<string, string> = {}) =>
    upstreamHeaders(createHeaderPlan(config(env), SECRET), incoming, client, {
      identity,
      keygateSid: identity === null ? null : 'sid-1',
      authorization: undefined,
    });
  /** Every header whose name, read the way any framework might (case, `_` for `-`), names a user. */
  const identityHeaders = (out: Record<string, unknown>) =>
    Object.keys(out).filter((n) => ['x-webauth-user', 'remote-user', 'x-forwarded-user', 'x-remote-user'].includes(n.toLowerCase().replace(/_/g, '-')));

  test('drops every spelling of a client-sent identity header and asserts only the given user, once', () => {
    const incoming = {
      'x-webauth-user': 'eve, admin',
      x_webauth_user: 'eve',
      'x_webauth-user': 'eve',
      'remote-user': 'eve',
      remote_user: 'eve',
      'x-forwarded-user': 'eve',
      'x-remote-user': 'eve',
      accept: 'text/html',
    };
    const signedIn = build(incoming, 'alice');
    assert.deepEqual(identityHeaders(signedIn), ['x-webauth-user']);
    assert.equal(signedIn['x-webauth-user'], 'alice');
    assert.equal(signedIn.accept, 'text/html');
    assert.deepEqual(identityHeaders(build(incoming, null)), []);
  });

  test("with a custom GOGS_AUTH_HEADER, the custom name is asserted and Gogs' default name is still stripped", () => {
    const out = build({ 'x-webauth-user': 'eve', 'x-gate-user': 'eve' }, 'alice', { GOGS_AUTH_HEADER: 'X-Gate-User' });
    assert.equal(out['x-gate-user'], 'alice');
    assert.equal(out['x-webauth-user'], undefined);
  });

  test('with GOGS_AUTH_HEADER spelt with "_", a client\'s copy in any case or dash spelling is stripped (Go keeps "_" apart)', () => {
    for (const configured of ['X_AUTH_USER', 'x-auth-user']) {
      // Node presents every incoming name in lower case.
      const out = build({ x_auth_user: 'root', 'x-auth-user': 'root' }, 'alice', { GOGS_AUTH_HEADER: configured });
      const names = Object.keys(out).filter((n) => n.toLowerCase().replace(/_/g, '-') === 'x-auth-user');
      assert.deepEqual(names, [configured.toLowerCase()], configured);
      assert.equal(out[configured.toLowerCase()], 'alice');
      assert.deepEqual(
        Object.keys(build({ x_auth_user: 'root' }, null, { GOGS_AUTH_HEADER: configured })).filter((n) => n.includes('auth')),
        [],
        `${configured}, anonymous`,
      );
    }
  });

  test("strips Gogs' remember-me cookies, Keygate's session cookie and an unbound Gogs session cookie; keeps every other cookie", () => {
    // PUBLIC_URL is https here, so Keygate's cookie is __Host-keygate; over http it is keygate.
    const out = build(
      {
        cookie:
          '__Host-keygate=s%3Aabc; gogs_awesome=alice; lang=en-US;gogs_incredible=x;  i_like_gogs=sid; my_gogs_awesome=1; keygate_theme=dark; GOGS_AWESOME=x',
      },
      'alice',
    );
    assert.equal(out.cookie, 'lang=en-US; my_gogs_awesome=1; keygate_theme=dark');
    const http = build({ cookie: 'keygate=s%3Aabc; lang=en' }, null, { PUBLIC_URL: 'http://localhost:8080' });
    assert.equal(http.cookie, 'lang=en');
    assert.equal(build({ cookie: 'gogs_awesome=a; __Host-keygate=b' }, null).cookie, undefined);
  });

  test("Gogs' session cookie reaches Gogs only when sealed to this Keygate session, unwrapped; a planted or stale one is dropped", () => {
    const plan = createHeaderPlan(config(), SECRET);
    const sealed = plan.binding.seal('0123abcd', 'sid-1');
    const forwarded = (cookie: string, sid: string | null) =>
      upstreamHeaders(plan, { cookie }, client, { identity: sid ? 'alice' : null, keygateSid: sid, authorization: undefined }).cookie;
    assert.equal(forwarded(`i_like_gogs=${sealed}; lang=en`, 'sid-1'), 'i_like_gogs=0123abcd; lang=en');
    assert.equal(forwarded(`i_like_gogs=planted; i_like_gogs=${sealed}`, 'sid-1'), 'i_like_gogs=0123abcd', 'the bound one of two');
    assert.equal(forwarded(`i_like_gogs=${sealed}`, 'sid-2'), undefined, 'another Keygate session');
    assert.equal(forwarded(`i_like_gogs=${sealed}`, null), undefined, 'no Keygate session');
    assert.equal(
      forwarded(`i_like_gogs=${createHeaderPlan(config(), 'another-secret'.repeat(3)).binding.seal('0123abcd', 'sid-1')}`, 'sid-1'),
      undefined,
      'another secret',
    );
    assert.equal(forwarded(`I_LIKE_GOGS=${sealed}`, 'sid-1'), undefined, 'another letter case');
  });

  test('cookies are rebuilt from what Keygate parsed: malformed pairs dropped, quotes removed, each name once', () => {
    const out = build({ cookie: 'a=1; a=2; noequals; b="q"; c= spaced; d=x y; e=comma,x; =nameless; f\u00a0=1; g=ok' }, null);
    assert.equal(out.cookie, 'a=1; b=q; c=spaced; g=ok');
  });

  test("Gogs' Set-Cookie: its session cookie is sealed to the Keygate session, and its remember-me cookies never reach the browser", () => {
    const plan = createHeaderPlan(config(), SECRET);
    const lines = rewriteSetCookies(
      [
        'i_like_gogs=0123abcd; Path=/; HttpOnly',
        'gogs_awesome=alice; Path=/',
        'gogs_incredible=x; Path=/',
        '_csrf=tok; Path=/',
        'i_like_gogs=; Path=/; Max-Age=0',
      ],
      { gogsSession: 'i_like_gogs', remember: new Set(GOGS_REMEMBER_COOKIES) },
      plan.binding,
      'sid-1',
    );
    assert.deepEqual(lines, [
      `i_like_gogs=${plan.binding.seal('0123abcd', 'sid-1')}; Path=/; HttpOnly`,
      '_csrf=tok; Path=/',
      'i_like_gogs=; Path=/; Max-Age=0',
    ]);
    assert.deepEqual(
      rewriteSetCookies(['i_like_gogs=0123abcd; Path=/', 'lang=en'], { gogsSession: 'i_like_gogs', remember: new Set() }, plan.binding, null),
      ['lang=en'],
      'pass-through: never handed out',
    );
  });

  test('X-Forwarded-*, X-Real-IP, X-Request-Id and Host come from Keygate, never from the client', () => {
    const out = build(
      {
        host: 'evil.example',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'x-real-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-request-id': 'chosen-by-client',
      },
      null,
    );
    assert.equal(out.host, '127.0.0.1:3000');
    assert.equal(out['x-forwarded-for'], '203.0.113.7');
    assert.equal(out['x-real-ip'], '203.0.113.7');
    assert.equal(out['x-forwarded-proto'], 'https');
    assert.equal(out['x-forwarded-host'], 'git.example.com');
    assert.equal(out['x-request-id'], 'req-1');
    assert.equal(out.forwarded, undefined);
  });

  test('hop-by-hop headers and headers named in Connection are not forwarded', () => {
    const out = build(
      {
        connection: 'keep-alive, X-Hop-Secret',
        'x-hop-secret': '1',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        te: 'trailers',
        trailer: 'x-webauth-user',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        'x-kept': 'yes',
      },
      null,
    );
    for (const name of [
      'connection',
      'x-hop-secret',
      'keep-alive',
      'proxy-connection',
      'proxy-authorization',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ]) {
      assert.equal(out[name], undefined, name);
    }
    assert.equal(out['x-kept'], 'yes');
  });

  test('response headers keep every Set-Cookie and drop hop-by-hop ones', () => {
    // As the upstream client parses them: lower-case names, a repeated header as an array.
    const out = downstreamHeaders(
      {
        'set-cookie': ['a=1', 'b=2'],
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'content-type': 'text/html',
        'x-content-type-options': 'nosniff',
      },
      false,
    );
    assert.deepEqual(out, ['set-cookie', ['a=1', 'b=2'], 'content-type', 'text/html', 'x-content-type-options', 'nosniff']);
  });

  test('response headers get nosniff (and HSTS under https) only where Gogs sent none', () => {
    assert.deepEqual(downstreamHeaders({ 'content-type': 'text/plain' }, false), ['content-type', 'text/plain', 'x-content-type-options', 'nosniff']);
    assert.deepEqual(downstreamHeaders({ 'content-type': 'text/plain' }, true), [
      'content-type',
      'text/plain',
      'x-content-type-options',
      'nosniff',
      'strict-transport-security',
      'max-age=31536000',
    ]);
    assert.deepEqual(downstreamHeaders({ 'strict-transport-security': 'max-age=5', 'x-content-type-options': 'nosniff' }, true), [
      'strict-transport-security',
      'max-age=5',
      'x-content-type-options',
      'nosniff',
    ]);
  });
});

describe('isGogsSignInRedirect', () => {
  test("Gogs' redirects to its sign-in page, relative or absolute, with or without a query, are recognised; nothing else is", () => {
    for (const location of [
      '/user/login',
      '/user/login?redirect_to=%2F',
      'http://localhost:8080/user/login',
      'https://git.example.com/user/login?redirect_to=x',
      '/USER/LOGIN',
      '/user/sign-in',
    ]) {
      assert.equal(isGogsSignInRedirect(302, location), true, location);
      assert.equal(isGogsSignInRedirect(303, location), true, location);
    }
    for (const [status, location] of [
      [301, '/user/login'],
      [200, '/user/login'],
      [302, '/user/login/two_factor'],
      [302, '/user/loginx'],
      [302, '/alice/user/login'],
      [302, undefined],
      [302, ['/user/login', '/user/login']],
    ] as const) {
      assert.equal(isGogsSignInRedirect(status, location as string | string[] | undefined), false, `${status} ${String(location)}`);
    }
  });
});

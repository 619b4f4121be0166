/**
 * The headers Gogs receives. The rule (docs/security.md, "Canonical forwarding"): every header Gogs
 * reads for identity or credentials is rebuilt by Keygate from what it parsed, or dropped. No copy
 * of the identity header survives (any letter case, `_` or `-`, repeated): only Keygate sets it,
 * once, for a signed-in session (ASVS 4.1.3). Authorization is rebuilt (authorization.ts) or
 * dropped; Cookie is rebuilt (cookies.ts). Hop-by-hop headers go; X-Forwarded-* come from
 * configuration.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { rebuildCookieHeader, type CookieRules } from './cookies.js';
import { createGogsSessionBinding, type GogsSessionBinding } from './gogs-session.js';
import { HSTS_VALUE } from './response-headers.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Keygate's own server answers "Expect: 100-continue" to the browser; the body then simply follows.
  'expect',
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'x-request-id',
]);

/** A header name as compared here: lower-case, `_` read as `-`. */
export const comparableHeaderName = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/**
 * Names (comparable form) that must never come from the client. Go matches header names
 * case-insensitively but keeps `_` apart from `-`; other servers fold them together. So every
 * name is compared in one form on both sides: a client's `X_AUTH_USER` goes whether Keygate is
 * configured with `X-AUTH-USER` or `X_AUTH_USER`. Gogs' default header is always among them: if Gogs
 * was left on its default while Keygate was configured with another name, a forged X-WEBAUTH-USER
 * would otherwise reach Gogs and be believed.
 */
export function identityHeaderNames(config: Config): Set<string> {
  return new Set(
    [config.gogsAuthHeader, 'x-webauth-user', 'remote-user', 'x-forwarded-user', 'x-remote-user', ...config.stripHeaders].map(comparableHeaderName),
  );
}

/** Gogs 0.14 remember-me cookies sign a person in by themselves: never forwarded, never set. */
export const GOGS_REMEMBER_COOKIES = ['gogs_awesome', 'gogs_incredible'];

export interface HeaderPlan {
  config: Config;
  identityNames: Set<string>;
  upstreamHost: string;
  cookieRules: CookieRules;
  binding: GogsSessionBinding;
  /** Constant values, computed once: X-Forwarded-Proto, X-Forwarded-Host. */
  forwardedProto: string;
  forwardedHost: string;
  /**
   * Cookie headers already rebuilt (see rebuildCookieHeader): header → what Gogs gets. A signed-in
   * request's header names its Keygate session, so the header alone decides the answer; requests
   * forwarded without a session (pass-through) have their own map.
   */
  cookieMemo: { signedIn: Map<string, string | undefined>; anonymous: Map<string, string | undefined> };
}

export function createHeaderPlan(config: Config, secret: string): HeaderPlan {
  return {
    config,
    identityNames: identityHeaderNames(config),
    upstreamHost: config.gogsUrl.host,
    // Keygate's own session cookie is none of Gogs' business either.
    cookieRules: {
      dropped: new Set([...GOGS_REMEMBER_COOKIES, config.sessionCookieName.toLowerCase()]),
      remember: new Set(GOGS_REMEMBER_COOKIES),
      gogsSession: config.gogsSessionCookie,
    },
    binding: createGogsSessionBinding(secret),
    forwardedProto: config.publicUrl.protocol.slice(0, -1),
    forwardedHost: config.publicUrl.host,
    cookieMemo: { signedIn: new Map(), anonymous: new Map() },
  };
}

/** A browser sends the same Cookie header request after request: rebuild each distinct one once (bounded). */
const COOKIE_MEMO_MAX = 10_000;
const COOKIE_MEMO_HEADER_MAX = 4096;

function upstreamCookieHeader(plan: HeaderPlan, header: string, keygateSid: string | null): string | undefined {
  const memo = keygateSid === null ? plan.cookieMemo.anonymous : plan.cookieMemo.signedIn;
  const known = memo.get(header);
  if (known !== undefined || memo.has(header)) return known;
  const rebuilt = rebuildCookieHeader(header, plan.cookieRules, plan.binding, keygateSid);
  if (header.length <= COOKIE_MEMO_HEADER_MAX) {
    if (memo.size >= COOKIE_MEMO_MAX) memo.delete(memo.keys().next().value as string);
    memo.set(header, rebuilt);
  }
  return rebuilt;
}

/** What Keygate decided a request carries to Gogs: who it is, and which credentials. */
export interface Forwarding {
  /** The signed-in username to assert, or null to assert nobody. */
  identity: string | null;
  /** The Keygate session of a signed-in request (binds Gogs' session cookie), else null. */
  keygateSid: string | null;
  /** The Authorization header Keygate rebuilt (authorization.ts), or undefined for none. */
  authorization: string | undefined;
}

/**
 * Builds the upstream request headers as a flat [name, value, name, value, …] list, the form
 * http.request takes without building a header map of its own. Each name appears at most once.
 */
export function upstreamHeaderList(
  plan: HeaderPlan,
  incoming: IncomingHttpHeaders,
  client: { ip: string | undefined; requestId: string },
  forwarding: Forwarding,
): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const connection = incoming.connection;
  const extraHop =
    connection && connection !== 'keep-alive' && connection !== 'close'
      ? connection
          .toLowerCase()
          .split(',')
          .map((s) => s.trim())
      : null;
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name)) continue;
    if (plan.identityNames.has(name.includes('_') ? name.replace(/_/g, '-') : name)) continue;
    if (extraHop !== null && extraHop.includes(name)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    // Rebuilt below from what Keygate parsed, never the client's bytes.
    if (name === 'authorization') continue;
    if (name === 'cookie') {
      const cookie = upstreamCookieHeader(plan, value as string, forwarding.keygateSid);
      if (cookie !== undefined) out.push('cookie', cookie);
      continue;
    }
    out.push(name, value);
  }
  const ip = client.ip ?? '';
  out.push(
    'host',
    plan.upstreamHost,
    'x-forwarded-for',
    ip,
    'x-real-ip',
    ip,
    'x-forwarded-proto',
    plan.forwardedProto,
    'x-forwarded-host',
    plan.forwardedHost,
    'x-request-id',
    client.requestId,
  );
  if (forwarding.authorization !== undefined) out.push('authorization', forwarding.authorization);
  if (forwarding.identity !== null) out.push(plan.config.gogsAuthHeader, forwarding.identity);
  return out;
}

/** upstreamHeaderList as a header object (lower-case names), for callers and tests that want one. */
export function upstreamHeaders(
  plan: HeaderPlan,
  incoming: IncomingHttpHeaders,
  client: { ip: string | undefined; requestId: string },
  forwarding: Forwarding,
): OutgoingHttpHeaders {
  const list = upstreamHeaderList(plan, incoming, client, forwarding);
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) out[(list[i] as string).toLowerCase()] = list[i + 1];
  return out;
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'transfer-encoding']);

/**
 * Response headers from Gogs (names lower-case, as the upstream client parses them; a repeated
 * header such as Set-Cookie is an array and stays one), as a flat list for one writeHead, minus
 * hop-by-hop, plus Keygate's defaults where Gogs sent none (see response-headers.ts): nosniff, and
 * HSTS when PUBLIC_URL is https. One pass, no second header map.
 */
export function downstreamHeaders(headers: IncomingHttpHeaders, hsts: boolean, cookies?: { setCookies(lines: string[]): string[] }): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  let sniff = false;
  let sts = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_HOP_BY_HOP.has(name)) continue;
    if (name === 'x-content-type-options') sniff = true;
    else if (name === 'strict-transport-security') sts = true;
    else if (name === 'set-cookie' && cookies) {
      const lines = cookies.setCookies(Array.isArray(value) ? value : [value]);
      if (lines.length) out.push(name, lines);
      continue;
    }
    out.push(name, value);
  }
  if (!sniff) out.push('x-content-type-options', 'nosniff');
  if (hsts && !sts) out.push('strict-transport-security', HSTS_VALUE);
  return out;
}

/**
 * The headers Gogs receives. Whatever the client sent, no copy of the identity header survives
 * (any letter case, `_` for `-`, repeated): only Keygate sets it, once, for a signed-in session
 * (ASVS 4.1.3). Hop-by-hop headers go; X-Forwarded-* come from configuration.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
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

/**
 * Names (lower-case, `-` spelling) that must never come from the client. Gogs' default header is
 * always among them: if Gogs was left on its default while Keygate was configured with another
 * name, a forged X-WEBAUTH-USER would otherwise reach Gogs and be believed.
 */
export function identityHeaderNames(config: Config): Set<string> {
  return new Set([config.gogsAuthHeader, 'x-webauth-user', 'remote-user', 'x-forwarded-user', 'x-remote-user', ...config.stripHeaders]);
}

// Which Basic credentials may reach Gogs is decided in basic-auth.ts.
export { isEmptyPasswordBasic } from './basic-auth.js';

/** Gogs 0.14 remember-me cookies sign a person in by themselves: never forward them. */
const GOGS_REMEMBER_COOKIES = ['gogs_awesome', 'gogs_incredible'];

export interface HeaderPlan {
  config: Config;
  identityNames: Set<string>;
  upstreamHost: string;
  strippedCookies: string[];
  /** Constant values, computed once: X-Forwarded-Proto, X-Forwarded-Host. */
  forwardedProto: string;
  forwardedHost: string;
  /** Cookie headers already stripped (see stripCookies): header → what Gogs gets (undefined: nothing). */
  strippedMemo: Map<string, string | undefined>;
}

export function createHeaderPlan(config: Config): HeaderPlan {
  return {
    config,
    identityNames: identityHeaderNames(config),
    upstreamHost: config.gogsUrl.host,
    // Keygate's own session cookie is none of Gogs' business either.
    strippedCookies: [...GOGS_REMEMBER_COOKIES, config.sessionCookieName],
    forwardedProto: config.publicUrl.protocol.slice(0, -1),
    forwardedHost: config.publicUrl.host,
    strippedMemo: new Map(),
  };
}

function stripCookies(header: string, names: string[]): string | undefined {
  let touched = false;
  for (const n of names) if (header.includes(n)) touched = true;
  if (!touched) return header;
  const kept = header
    .split(';')
    .filter((pair) => {
      const name = pair.slice(0, pair.indexOf('=') === -1 ? pair.length : pair.indexOf('=')).trim();
      return !names.includes(name);
    })
    .map((p) => p.trim())
    .filter(Boolean);
  return kept.length ? kept.join('; ') : undefined;
}

/** A browser sends the same Cookie header request after request: strip each distinct one once (bounded). */
const STRIPPED_MEMO_MAX = 10_000;
const STRIPPED_MEMO_HEADER_MAX = 4096;

function strippedCookieHeader(plan: HeaderPlan, header: string): string | undefined {
  const memo = plan.strippedMemo;
  const known = memo.get(header);
  if (known !== undefined || memo.has(header)) return known;
  const stripped = stripCookies(header, plan.strippedCookies);
  if (header.length <= STRIPPED_MEMO_HEADER_MAX) {
    if (memo.size >= STRIPPED_MEMO_MAX) memo.delete(memo.keys().next().value as string);
    memo.set(header, stripped);
  }
  return stripped;
}

/**
 * Builds the upstream request headers as a flat [name, value, name, value, …] list, the form
 * http.request takes without building a header map of its own. Each name appears at most once.
 * @param identity the signed-in username to assert, or null to assert nobody
 */
export function upstreamHeaderList(
  plan: HeaderPlan,
  incoming: IncomingHttpHeaders,
  client: { ip: string | undefined; requestId: string },
  identity: string | null,
): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const connection = incoming.connection;
  const extraHop = connection && connection !== 'keep-alive' && connection !== 'close' ? connection.toLowerCase().split(',').map((s) => s.trim()) : null;
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name)) continue;
    const dashed = name.includes('_') ? name.replace(/_/g, '-') : name;
    if (plan.identityNames.has(dashed)) continue;
    if (extraHop !== null && extraHop.includes(name)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (name === 'cookie') {
      const cookie = strippedCookieHeader(plan, value as string);
      if (cookie !== undefined) out.push('cookie', cookie);
      continue;
    }
    out.push(name, value);
  }
  const ip = client.ip ?? '';
  out.push(
    'host', plan.upstreamHost,
    'x-forwarded-for', ip,
    'x-real-ip', ip,
    'x-forwarded-proto', plan.forwardedProto,
    'x-forwarded-host', plan.forwardedHost,
    'x-request-id', client.requestId,
  );
  if (identity !== null) out.push(plan.config.gogsAuthHeader, identity);
  return out;
}

/** upstreamHeaderList as a header object (lower-case names), for callers and tests that want one. */
export function upstreamHeaders(
  plan: HeaderPlan,
  incoming: IncomingHttpHeaders,
  client: { ip: string | undefined; requestId: string },
  identity: string | null,
): OutgoingHttpHeaders {
  const list = upstreamHeaderList(plan, incoming, client, identity);
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
export function downstreamHeaders(headers: IncomingHttpHeaders, hsts: boolean): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  let sniff = false;
  let sts = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || RESPONSE_HOP_BY_HOP.has(name)) continue;
    if (name === 'x-content-type-options') sniff = true;
    else if (name === 'strict-transport-security') sts = true;
    out.push(name, value);
  }
  if (!sniff) out.push('x-content-type-options', 'nosniff');
  if (hsts && !sts) out.push('strict-transport-security', HSTS_VALUE);
  return out;
}

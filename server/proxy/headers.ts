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
}

export function createHeaderPlan(config: Config): HeaderPlan {
  return {
    config,
    identityNames: identityHeaderNames(config),
    upstreamHost: config.gogsUrl.host,
    // Keygate's own session cookie is none of Gogs' business either.
    strippedCookies: [...GOGS_REMEMBER_COOKIES, config.sessionCookieName],
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

/**
 * Builds the upstream request headers.
 * @param identity the signed-in username to assert, or null to assert nobody
 */
export function upstreamHeaders(
  plan: HeaderPlan,
  incoming: IncomingHttpHeaders,
  client: { ip: string | undefined; requestId: string },
  identity: string | null,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const connection = incoming.connection;
  const extraHop = connection && connection !== 'keep-alive' && connection !== 'close' ? connection.toLowerCase().split(',').map((s) => s.trim()) : null;
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name)) continue;
    const dashed = name.includes('_') ? name.replace(/_/g, '-') : name;
    if (plan.identityNames.has(dashed)) continue;
    if (extraHop && extraHop.includes(name)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (name === 'cookie') {
      const cookie = stripCookies(value as string, plan.strippedCookies);
      if (cookie !== undefined) out.cookie = cookie;
      continue;
    }
    out[name] = value;
  }
  const { config } = plan;
  out.host = plan.upstreamHost;
  out['x-forwarded-for'] = client.ip ?? '';
  out['x-real-ip'] = client.ip ?? '';
  out['x-forwarded-proto'] = config.publicUrl.protocol.slice(0, -1);
  out['x-forwarded-host'] = config.publicUrl.host;
  out['x-request-id'] = client.requestId;
  if (identity !== null) out[config.gogsAuthHeader] = identity;
  return out;
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'trailer']);

/**
 * Response headers from Gogs, as a flat raw list (keeps repeated Set-Cookie), minus hop-by-hop,
 * plus Keygate's defaults where Gogs sent none (see response-headers.ts): nosniff, and HSTS when
 * PUBLIC_URL is https. One pass, no header map.
 */
export function downstreamHeaders(raw: string[], hsts: boolean): string[] {
  const out: string[] = [];
  let sniff = false;
  let sts = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(name)) continue;
    if (name === 'x-content-type-options') sniff = true;
    else if (name === 'strict-transport-security') sts = true;
    out.push(raw[i], raw[i + 1]);
  }
  if (!sniff) out.push('X-Content-Type-Options', 'nosniff');
  if (hsts && !sts) out.push('Strict-Transport-Security', HSTS_VALUE);
  return out;
}

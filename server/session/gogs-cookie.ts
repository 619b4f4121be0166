/**
 * Gogs' own session beats the reverse-proxy header (a uid in Gogs' session wins). Whenever a
 * person signs in or out of Keygate, Gogs' session cookie is expired, so a leftover Gogs session of
 * someone else can never decide who Gogs thinks this is.
 */
import type { ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { expiredCookie } from './cookie.js';

export function gogsSessionExpiry(config: Config): string {
  return expiredCookie(config.gogsSessionCookie, config);
}

export function expireGogsSession(res: ServerResponse, config: Config): void {
  const existing = res.getHeader('set-cookie');
  const list = Array.isArray(existing) ? existing : existing ? [String(existing)] : [];
  res.setHeader('set-cookie', [...list, gogsSessionExpiry(config)]);
}

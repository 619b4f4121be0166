/**
 * CSRF defence carried by Keygate's own cookie (ASVS 3.5.1): an unsafe method is accepted only
 * when the browser says it comes from this origin. Gogs' CSRF tokens are weak for header-
 * authenticated users, so this guards everything Keygate proxies as well as its own endpoints.
 */
import type { IncomingMessage } from 'node:http';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string | undefined): boolean {
  return SAFE_METHODS.has(method ?? 'GET');
}

/**
 * Judged by Origin; when Origin is absent or `null` (browsers send `null` under some referrer
 * policies), by Sec-Fetch-Site. With neither, the request cannot prove where it came from.
 */
export function isSameOrigin(req: IncomingMessage, origin: string): boolean {
  const given = req.headers.origin;
  if (given && given !== 'null') return given === origin;
  return req.headers['sec-fetch-site'] === 'same-origin';
}

/**
 * A top-level navigation the person started on this origin, or by themselves (address bar,
 * bookmark: Sec-Fetch-Site `none` with Sec-Fetch-User). Never a subresource: an image in a Gogs
 * issue pointing at such a route is same-origin too, but not a navigation to a document. Without
 * Sec-Fetch-Site (older browsers), a Referer on this origin.
 */
export function isOwnNavigation(req: IncomingMessage, origin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (req.headers['sec-fetch-mode'] !== 'navigate' || req.headers['sec-fetch-dest'] !== 'document') return false;
    return site === 'same-origin' || (site === 'none' && req.headers['sec-fetch-user'] === '?1');
  }
  const referer = req.headers.referer;
  return referer !== undefined && (referer === origin || referer.startsWith(`${origin}/`));
}

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
 * What to tell a person whose unsafe request isSameOrigin refused. When the page that sent it was
 * served by this Keygate under another origin (Origin names the very host the request was sent
 * to: a PORT changed without PUBLIC_URL, a front proxy's host name that PUBLIC_URL does not
 * name), that is a configuration mistake, and the message names the origin Keygate expects.
 */
export function crossOriginMessage<T>(req: IncomingMessage, origin: string, refused: T): T | string {
  const given = req.headers.origin;
  let host: string | undefined;
  try {
    host = given && given !== 'null' ? new URL(given).host : undefined;
  } catch {
    host = undefined;
  }
  if (host === undefined || host !== req.headers.host) return refused;
  return `This page was opened at ${given}, but Keygate is set up for ${origin} (its PUBLIC_URL), and WebAuthn only works there. Open ${origin} instead; if people reach Keygate at ${given}, its operator must set PUBLIC_URL to that.`;
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

/**
 * Where to send a person after sign-in. Only a relative path on this origin is followed (ASVS
 * 3.7.2): anything that a browser could read as another origin (`//evil`, `/\evil`, encoded
 * slashes or backslashes, control characters, schemes) falls back to `/`, and so does a Gogs route
 * that changes something on a GET (proxy/paths.ts).
 */
import { changesStateOnGet, normalizePath } from '../proxy/paths.js';
import { isApiPath } from './api-path.js';

export function safeReturnPath(value: unknown, origin: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return '/';
  if (!value.startsWith('/')) return '/';
  // Browsers treat `\` as `/` and strip tabs/newlines inside URLs: either can turn `/x` into `//host`.
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\\\u0000-\u0020\u007f]/.test(value)) return '/';
  if (/^\/(\/|%2f|%5c)/i.test(value)) return '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return '/';
  }
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/^[\\/]{2}/.test(decoded) || /^\/[\\/]/.test(decoded) || /[\u0000-\u001f\u007f]/.test(decoded)) return '/';
  // Dot segments (also %2e-encoded) are resolved by the URL parser: `/..//evil` would become
  // `//evil`, another host. A browser never sends them, so a path that has them is refused.
  if (/(?:^|\/)\.{1,2}(?:\/|$)/.test(decoded.split(/[?#]/, 1)[0] ?? '')) return '/';
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const path = url.pathname + url.search + url.hash;
  if (!path.startsWith('/') || /^\/[\\/]/.test(path)) return '/';
  // Keygate's own API endpoints are never a place to land.
  if (isApiPath(path)) return '/';
  // Nor a Gogs GET that changes something: the redirect after sign-in is a same-origin navigation,
  // which would carry out what another site's link asked for without the confirmation page.
  const normalised = normalizePath(path);
  if (normalised === null || changesStateOnGet(normalised)) return '/';
  return path;
}

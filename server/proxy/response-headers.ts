/**
 * Security headers on every response the gateway sends (issue 4, class 10), chosen explicitly for
 * the two kinds of response that share this origin:
 *
 * - Keygate's own pages (Express under /-/, and the proxy's own 400/401/403/502/503 pages and
 *   redirects) carry their strict CSP with `frame-ancestors 'none'` themselves (app.ts, handler.ts).
 * - Gogs' responses are passed on with Gogs' own headers. Keygate adds only what cannot break a
 *   Gogs page, and only when Gogs did not send that header itself:
 *   - `Strict-Transport-Security` under https. HSTS applies to the whole host, and Keygate's pages
 *     already send it; sending it on Gogs' pages too means that a first visit that lands on a Gogs
 *     page is pinned to https as well. It changes nothing a page does.
 *   - `X-Content-Type-Options: nosniff`. Gogs 0.14 sets it on its pages, but not on every route
 *     (static files, git): with it, a browser never runs repository content that Gogs serves as
 *     text as a script or a page.
 *   Gogs' Content-Security-Policy and X-Frame-Options are left exactly as Gogs sends them. Gogs'
 *   templates use inline scripts, so Keygate's CSP would break them; and Gogs 0.14 already sends
 *   `X-Frame-Options: deny` on its pages (internal/context/context.go). Besides, Keygate's cookie is
 *   SameSite=Lax, so a Gogs page framed by another site is never signed in.
 *
 * How: the defaults are set with setHeader when a request arrives (responseDefaults, from
 * handler.ts), before anything is written. Keygate's pages then replace or keep them as they set
 * their own; a Gogs response is written by writeGogsHead, where a header Gogs sent replaces the
 * default of the same name. So "only if absent" holds without parsing Gogs' headers.
 */
import type { ServerResponse } from 'node:http';
import type { Config } from '../config.js';

/** The same HSTS value helmet sends on Keygate's own pages (app.ts): one year, this host only. */
export const HSTS_VALUE = 'max-age=31536000';

/** Returns a function that sets the defaults on a response before it is written. */
export function responseDefaults(config: Config): (res: ServerResponse) => void {
  const https = config.https;
  return (res) => {
    if (https) res.setHeader('strict-transport-security', HSTS_VALUE);
    res.setHeader('x-content-type-options', 'nosniff');
  };
}

/**
 * Writes the status line and Gogs' headers (a flat raw list) on top of the defaults above. Not
 * `writeHead(status, list)`: once a header has been set with setHeader, Node 20's writeHead sets
 * each listed header in turn and keeps only the last of a repeated one, so all but one of Gogs'
 * Set-Cookie headers would be lost. appendHeader keeps every one.
 */
export function writeGogsHead(res: ServerResponse, status: number, statusMessage: string | undefined, headers: string[]): void {
  for (let i = 0; i < headers.length; i += 2) res.removeHeader(headers[i]);
  for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i], headers[i + 1]);
  if (statusMessage) res.writeHead(status, statusMessage);
  else res.writeHead(status);
}

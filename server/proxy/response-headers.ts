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
 * How: no header is set on the response object before it is written. The proxy's own pages and
 * redirects list the defaults in their writeHead (handler.ts); a Gogs response is written with
 * one writeHead of Gogs' raw header list (repeated Set-Cookie kept), to which downstreamHeaders
 * (headers.ts) appends a default only when Gogs' list lacks that header.
 */
/** The HSTS value of every response Keygate writes itself (helmet in app.ts too): one year, this host only. */
export const HSTS_MAX_AGE_SECONDS = 31536000;
export const HSTS_VALUE = `max-age=${HSTS_MAX_AGE_SECONDS}`;

/**
 * Keygate's CSP, declared once. Its pages load their own scripts and styles and nothing else, and
 * can be framed by nobody; the message pages the proxy and the shutdown path write themselves run
 * no script at all.
 */
export const PAGE_CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

/** For the script-free message pages (the proxy's 4xx/5xx pages, the shutdown 503). */
export const MESSAGE_PAGE_CSP = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

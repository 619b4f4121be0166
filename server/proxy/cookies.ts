/**
 * The Cookie header Gogs receives: rebuilt from the cookies Keygate parsed, never the client's
 * bytes. Go's `Request.Cookie` and Node's readers disagree at the edges (a pair without `=`,
 * spaces inside a value, quotes, a second cookie of the same name), and in Gogs a session cookie
 * decides who is signed in ahead of the proxy header. So only strictly well-formed pairs are
 * forwarded, each name once (the first, which is what both Go and Node read), as `name=value`:
 *
 * - Keygate's own session cookie and Gogs' remember-me cookies (`gogs_awesome`, `gogs_incredible`,
 *   which sign a person in by themselves) never reach Gogs, in any letter case;
 * - Gogs' session cookie reaches Gogs only if it carries Keygate's binding to this browser's
 *   Keygate session (gogs-session.ts); otherwise it is dropped and Gogs starts a fresh one. A
 *   cookie planted by a sibling subdomain, or one left over from an earlier sign-in, names nobody.
 */
import type { GogsSessionBinding } from './gogs-session.js';

/** RFC 6265 cookie-name: an RFC 9110 token. */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 cookie-octet: no space, quote, comma, semicolon or backslash; Go accepts all of these. */
const VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** Spaces and tabs only: String#trim would also take U+00A0 and U+0085 (bytes Go keeps). */
const trimOws = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

export interface CookieRules {
  /** Lower-case names never forwarded: Keygate's own cookie and the remember-me ones. */
  dropped: ReadonlySet<string>;
  /** Lower-case names of Gogs' remember-me cookies: never forwarded, and never set in a browser. */
  remember: ReadonlySet<string>;
  /** Gogs' session cookie name (exact, as Gogs reads it). */
  gogsSession: string;
}

/**
 * @param keygateSid the Keygate session of this request, or null (an anonymous or pass-through
 *   request: Gogs' session cookie is then never forwarded)
 * @returns the Cookie header for Gogs, or undefined for none
 */
export function rebuildCookieHeader(header: string, rules: CookieRules, binding: GogsSessionBinding, keygateSid: string | null): string | undefined {
  const seen = new Set<string>();
  const sessionLower = rules.gogsSession.toLowerCase();
  let out = '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = trimOws(part.slice(0, eq));
    let value = trimOws(part.slice(eq + 1));
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
    if (!NAME.test(name) || !VALUE.test(value)) continue;
    const lower = name.toLowerCase();
    if (rules.dropped.has(lower)) continue;
    if (lower === sessionLower) {
      // Of several (a planted one beside the real one), the first that is bound to this session.
      if (name !== rules.gogsSession || keygateSid === null || seen.has(name)) continue;
      const inner = binding.open(value, keygateSid);
      if (inner === null) continue;
      value = inner;
    } else if (seen.has(name)) continue;
    seen.add(name);
    out += out === '' ? `${name}=${value}` : `; ${name}=${value}`;
  }
  return out === '' ? undefined : out;
}

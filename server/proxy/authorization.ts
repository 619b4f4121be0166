/**
 * The Authorization header Gogs receives on git smart HTTP, LFS and /api/ pass-through: rebuilt by
 * Keygate from what it parsed, or none at all. Never the client's bytes.
 *
 * Gogs splits the header with Go's `strings.Fields`, which decodes UTF-8 and splits on Unicode
 * spaces (U+0085, U+00A0, U+2000–U+200A, U+3000 …), then reads `Basic <base64>` (git, LFS, API
 * passwords) or, on /api/ paths, `token <sha1>` (internal/context/auth.go, internal/route/repo/
 * http.go, internal/authutil/basic.go in Gogs 0.14.3). So a value Keygate reads one way could be
 * read another way by Gogs; the only safe rule is to forward nothing Keygate did not understand:
 *
 * - anything but printable ASCII, a scheme, one run of spaces and one credential is refused (401);
 * - `Basic` (any letter case) must be strict base64 of UTF-8 `user:password` without control
 *   characters; it is judged (below) and sent as `Basic <canonical base64>`;
 * - `token` (any letter case) must be a 40-hex access token; it is sent as `token <hex>`;
 * - any other scheme (`Bearer` …) means nothing to Gogs and is dropped, never forwarded.
 *
 * Which Basic credentials may pass: Keygate exists so that nobody signs in with a password, so by
 * default only an access token gets through (as the username or as the password); a password
 * needs ALLOW_GIT_PASSWORDS=true; an empty password is always refused, because a user Gogs
 * auto-registered from the proxy header has an empty password and `name:` would sign in as them.
 */

/** A Gogs access token: 40 hex characters (SHA-1 hex, as Gogs shows it once at creation). */
const ACCESS_TOKEN = /^[0-9a-f]{40}$/i;

/** Base64 as Go's `base64.StdEncoding` reads it: padded, no stray characters. */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `scheme credentials`: visible ASCII, separated by spaces or tabs. */
const TWO_FIELDS = /^[ \t]*([\x21-\x7e]+)[ \t]+([\x21-\x7e]+)[ \t]*$/;

/** Control characters in decoded credentials (C0, DEL, C1): no real username or token has them. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type AuthorizationRefusal = 'non_ascii' | 'malformed' | 'empty_password' | 'password';

export type AuthorizationVerdict =
  /** `header`: what Gogs gets (undefined: no Authorization header at all). */
  { ok: true; header: string | undefined; credentials: ForwardedCredentials } | { ok: false; reason: AuthorizationRefusal };

/** What Keygate understood and lets Gogs read: the differential tests compare Go's reading with this. */
export type ForwardedCredentials = { kind: 'none' } | { kind: 'basic'; username: string; password: string } | { kind: 'token'; token: string };

/** A refusal; what it says is the catalogue's `proxy.authorization[reason]` (web/i18n). */
const refuse = (reason: AuthorizationRefusal): AuthorizationVerdict => ({ ok: false, reason });

const NONE: AuthorizationVerdict = { ok: true, header: undefined, credentials: { kind: 'none' } };

/**
 * Reads an Authorization header and decides what Gogs may receive.
 * @param header the value as Node parsed it (one string per byte: latin1)
 */
export function judgeAuthorization(header: string | undefined, opts: { allowPasswords: boolean }): AuthorizationVerdict {
  if (header === undefined || header === '') return NONE;

  if (/[^\x20-\x7e\t]/.test(header)) return refuse('non_ascii');
  const fields = TWO_FIELDS.exec(header);
  if (!fields) return refuse('malformed');
  // Both groups are mandatory in TWO_FIELDS.
  const scheme = fields[1]!.toLowerCase();
  const value = fields[2]!;
  if (scheme === 'token') {
    if (!ACCESS_TOKEN.test(value)) return refuse('malformed');
    return { ok: true, header: `token ${value}`, credentials: { kind: 'token', token: value } };
  }
  if (scheme !== 'basic') return NONE;
  if (!STRICT_BASE64.test(value)) return refuse('malformed');
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    return refuse('malformed');
  }
  const colon = decoded.indexOf(':');
  if (colon === -1 || CONTROL.test(decoded)) return refuse('malformed');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const ok: AuthorizationVerdict = {
    ok: true,
    header: `Basic ${Buffer.from(decoded, 'utf8').toString('base64')}`,
    credentials: { kind: 'basic', username, password },
  };
  // A Gogs username is at most 35 characters and an email has an @, so a 40-hex username can only
  // be a token; Gogs then ignores the password.
  if (ACCESS_TOKEN.test(username) || ACCESS_TOKEN.test(password)) return ok;
  if (password === '') return refuse('empty_password');
  return opts.allowPasswords ? ok : refuse('password');
}

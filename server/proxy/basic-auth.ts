/**
 * Which `Authorization: Basic` credentials may reach Gogs (issue 4, class 3).
 *
 * Git smart HTTP, LFS and /api/ pass through to Gogs, which accepts HTTP Basic there with an
 * account password or with an access token (40 hex characters) as the username or as the
 * password (gogs.md, "Git over HTTP, LFS and the API"). Keygate exists so that nobody signs in
 * with a password, so by default only a token gets through:
 *
 * - a password is refused unless ALLOW_GIT_PASSWORDS=true;
 * - an empty password is always refused: a user Gogs auto-registered from the proxy header has an
 *   empty password, so `name:` would sign in as them;
 * - Basic credentials Keygate cannot read exactly as Gogs does (not strict base64, no colon,
 *   extra fields) are refused rather than guessed at, so the two never disagree about them.
 *
 * A refusal is a 401 with `WWW-Authenticate: Basic realm="."`, Gogs' own challenge, so git asks
 * for other credentials; the request never reaches Gogs.
 */

/** A Gogs access token: 40 hex characters (SHA-1 hex, as Gogs shows it once at creation). */
const ACCESS_TOKEN = /^[0-9a-f]{40}$/i;

/** Base64 as Go's `base64.StdEncoding.DecodeString` reads it (Gogs' `tool.BasicAuthDecode`): padded, no stray characters. */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type BasicRefusal = 'empty_password' | 'password' | 'malformed';

export type BasicVerdict = { ok: true } | { ok: false; reason: BasicRefusal; message: string };

const OK: BasicVerdict = { ok: true };

const MESSAGES: Record<BasicRefusal, string> = {
  empty_password: 'A password cannot be empty. For git and the API, use a Gogs access token as the password.',
  password:
    'Keygate does not accept account passwords for git or the API. Create an access token in Gogs (Your settings, Applications) and use it as the password.',
  malformed: 'These credentials could not be read. For git and the API, use a Gogs access token as the password.',
};

const refuse = (reason: BasicRefusal): BasicVerdict => ({ ok: false, reason, message: MESSAGES[reason] });

/**
 * Judges an Authorization header. Anything that is not the Basic scheme (no header, `token …`,
 * `Bearer …`) is not Keygate's business here and is let through. The scheme is matched in any
 * letter case, which is stricter than Gogs (it only reads `Basic`).
 */
export function checkBasicCredentials(authorization: string | undefined, opts: { allowPasswords: boolean }): BasicVerdict {
  if (!authorization) return OK;
  const fields = authorization.trim().split(/\s+/);
  if (fields[0].toLowerCase() !== 'basic') return OK;
  if (fields.length !== 2 || !STRICT_BASE64.test(fields[1])) return refuse('malformed');
  // latin1 keeps every byte as one character, so the colon and the hex test see exactly Gogs' bytes.
  const decoded = Buffer.from(fields[1], 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  if (colon === -1) return refuse('malformed');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // A Gogs username is at most 35 characters and an email has an @, so a 40-hex username can only
  // be a token; Gogs then ignores the password.
  if (ACCESS_TOKEN.test(username) || ACCESS_TOKEN.test(password)) return OK;
  if (password === '') return refuse('empty_password');
  return opts.allowPasswords ? OK : refuse('password');
}

/**
 * True for Basic credentials with an empty password that are not an access token given as the
 * username: refused whatever ALLOW_GIT_PASSWORDS says.
 */
export function isEmptyPasswordBasic(authorization: string | undefined): boolean {
  const verdict = checkBasicCredentials(authorization, { allowPasswords: true });
  return !verdict.ok && verdict.reason === 'empty_password';
}

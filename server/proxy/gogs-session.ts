/**
 * Binds Gogs' session cookie to the Keygate session it was issued under.
 *
 * In Gogs a session uid beats the proxy header, so Gogs' session must never name anyone but the
 * person of the Keygate session it travels with. Keygate does not read Gogs' sessions; instead,
 * when Gogs sets its session cookie on a response to a signed-in request, Keygate hands the
 * browser `<gogs value>.<MAC>` where the MAC (HMAC-SHA-256 under a key derived from Keygate's
 * session secret) covers this Keygate session id and Gogs' value. On the way in, only a value whose
 * MAC verifies for the request's Keygate session is unwrapped and forwarded (cookies.ts).
 * A cookie planted by a sibling subdomain (cookie tossing), one from an earlier sign-in, or one
 * from another browser carries no valid MAC for this session and is dropped: Gogs starts a
 * fresh, anonymous session and the proxy header decides who this is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Gogs' session ids are hex; other providers' are at least plain tokens. */
const INNER = /^[A-Za-z0-9_-]{1,128}$/;
const MAC_CHARS = 22; // 16 bytes, base64url

export interface GogsSessionBinding {
  /** `value.MAC` for the browser. */
  seal(value: string, keygateSid: string): string;
  /** Gogs' value if `sealed` was sealed for this Keygate session, else null. */
  open(sealed: string, keygateSid: string): string | null;
}

export function createGogsSessionBinding(secret: string): GogsSessionBinding {
  const key = createHmac('sha256', secret).update('keygate/gogs-session-binding/v1').digest();
  const mac = (value: string, sid: string) => createHmac('sha256', key).update(sid).update('\n').update(value).digest().subarray(0, 16).toString('base64url');
  return {
    seal: (value, sid) => `${value}.${mac(value, sid)}`,
    open(sealed, sid) {
      const dot = sealed.length - MAC_CHARS - 1;
      if (dot < 1 || sealed.charCodeAt(dot) !== 46) return null;
      const value = sealed.slice(0, dot);
      if (!INNER.test(value)) return null;
      const expected = Buffer.from(mac(value, sid));
      const given = Buffer.from(sealed.slice(dot + 1));
      return given.length === expected.length && timingSafeEqual(given, expected) ? value : null;
    },
  };
}

/**
 * Gogs' Set-Cookie headers as the browser gets them: Gogs' session cookie sealed to this Keygate
 * session (or, with no Keygate session, not at all), remember-me cookies never.
 */
export function rewriteSetCookies(
  setCookies: string[],
  rules: { gogsSession: string; remember: ReadonlySet<string> },
  binding: GogsSessionBinding,
  keygateSid: string | null,
): string[] {
  const out: string[] = [];
  for (const line of setCookies) {
    const eq = line.indexOf('=');
    const name = (eq === -1 ? line : line.slice(0, eq)).trim();
    const lower = name.toLowerCase();
    if (rules.remember.has(lower)) continue;
    if (lower !== rules.gogsSession.toLowerCase()) {
      out.push(line);
      continue;
    }
    if (keygateSid === null) continue;
    const semi = line.indexOf(';', eq);
    const value = line.slice(eq + 1, semi === -1 ? line.length : semi).trim();
    // Gogs expiring its cookie: pass the expiry on as it is.
    if (value === '' || !INNER.test(value)) {
      if (value === '') out.push(line);
      continue;
    }
    out.push(`${name}=${binding.seal(value, keygateSid)}${semi === -1 ? '' : line.slice(semi)}`);
  }
  return out;
}

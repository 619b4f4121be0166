/**
 * The attributes of Keygate's session cookie, and of the cookies it expires (its own, Gogs'
 * session cookie), declared once: HttpOnly, SameSite=Lax, Path=/, host-only, and Secure under
 * https, where the name carries the `__Host-` prefix (RFC 6265bis §4.1.3.2).
 */
import type { CookieOptions } from 'express';
import type { Config } from '../config.js';

/** For express-session's cookie and res.clearCookie. */
export function sessionCookieOptions(config: Config): Pick<CookieOptions, 'httpOnly' | 'sameSite' | 'secure' | 'path'> & { sameSite: 'lax' } {
  return { httpOnly: true, sameSite: 'lax', secure: config.https, path: '/' };
}

/** A Set-Cookie line that expires cookie `name` with the same attributes. */
export function expiredCookie(name: string, config: Config): string {
  return `${name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${config.https ? '; Secure' : ''}`;
}

/**
 * Which language a Keygate page is in, from the request's Accept-Language: the first of the
 * person's languages (in their order of preference, q-values parsed by negotiator) that Keygate
 * ships, else English. Only Keygate's own pages ask: the proxy asks only when it renders one of
 * its own error pages, never for a Gogs page or a git transfer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Negotiator from 'negotiator';
import { DEFAULT_LANG, type Lang } from '../../web/i18n/index.js';

/** Chinese written in simplified characters by its region when no script is named; the rest (Taiwan, Hong Kong, Macao) in traditional ones. */
const TRADITIONAL_REGIONS = new Set(['TW', 'HK', 'MO']);

/**
 * The shipped language for one language tag, or null. Explicitly: `zh`, `zh-CN`, `zh-SG`,
 * `zh-Hans`, `zh-Hans-*` are Simplified Chinese; `zh-TW`, `zh-HK`, `zh-MO` and `zh-Hant-*`
 * (Traditional Chinese, not shipped) are not, and fall through to the next preference.
 */
export function shippedLanguage(tag: string): Lang | null {
  let locale: Intl.Locale;
  try {
    locale = new Intl.Locale(tag);
  } catch {
    return null; // not a language tag
  }
  if (locale.language === 'en') return 'en';
  if (locale.language !== 'zh') return null;
  const script = locale.script ?? (locale.region && TRADITIONAL_REGIONS.has(locale.region) ? 'Hant' : 'Hans');
  return script === 'Hans' ? 'zh-CN' : null;
}

/**
 * How much of an Accept-Language header is read: browsers send well under 100 characters, and
 * anyone may send 16 KB of tags to a page that needs no sign-in (each tag read costs microseconds).
 */
export const ACCEPT_LANGUAGE_READ = 512;

/** Tags that can name a shipped language, told before the costlier Intl.Locale. */
const MAY_BE_SHIPPED = /^(?:en|zh)(?:-|$)/i;

/** The language for an Accept-Language header (a missing or unreadable one: English). */
export function languageFor(acceptLanguage: string | string[] | undefined): Lang {
  let header = Array.isArray(acceptLanguage) ? acceptLanguage.join(',') : acceptLanguage;
  if (header && header.length > ACCEPT_LANGUAGE_READ) {
    // Cut at the last whole tag within the bound.
    const comma = header.lastIndexOf(',', ACCEPT_LANGUAGE_READ);
    header = header.slice(0, comma > 0 ? comma : ACCEPT_LANGUAGE_READ);
  }
  const wanted = new Negotiator({ headers: { 'accept-language': header } }).languages();
  for (const tag of wanted) {
    if (tag === '*') return DEFAULT_LANG;
    if (!MAY_BE_SHIPPED.test(tag)) continue;
    const lang = shippedLanguage(tag);
    if (lang) return lang;
  }
  return DEFAULT_LANG;
}

/**
 * The language of the page about to be sent to `req`, with the headers that say so: Content-Language,
 * and Vary: Accept-Language so that a cache keeps one copy per language.
 */
export function pageLanguage(req: IncomingMessage, res: ServerResponse): Lang {
  const lang = languageFor(req.headers['accept-language']);
  res.setHeader('Content-Language', lang);
  const vary = res.getHeader('vary');
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  if (!/(^|,)\s*(accept-language|\*)\s*(,|$)/i.test(current)) res.setHeader('Vary', current ? `${current}, Accept-Language` : 'Accept-Language');
  return lang;
}

/** The same headers, for a page written with writeHead (the proxy's own pages). */
export function languageHeaders(lang: Lang): Record<string, string> {
  return { 'content-language': lang, vary: 'Accept-Language' };
}

import { strings, type Lang } from '../i18n/index.js';
import { html, raw, type Raw } from './html.js';

/** Browser bundles a page may load; each is built from web/client/<name>.ts. */
export type PageScript = 'login' | 'enroll' | 'account' | 'admin';

/** Whose pages these are: the organisation's name (RP_NAME) and whether it has a logo (LOGO_FILE). */
export interface Site {
  name: string;
  logo: boolean;
}

/** Keygate's own look, for a page rendered without a configuration. */
export const DEFAULT_SITE: Site = { name: 'Keygate', logo: false };

/** What every page's options may carry: the site it belongs to (DEFAULT_SITE if absent), and the language it is in (English if absent). */
export interface SiteOptions {
  site?: Site;
  lang?: Lang;
}

/** Options for {@link layout}. */
export interface LayoutOptions extends SiteOptions {
  /** Used for both `<title>` and the page's `<h1>`. */
  title: string;
  /** Page content, placed after the heading and the message area. */
  body: Raw;
  /** Bundle to load, if the page needs one. */
  script?: PageScript;
  /** Becomes `data-*` on `main#app`; camelCase keys turn into kebab-case attributes (returnTo → data-return-to). */
  data?: Record<string, string>;
}

const SCRIPTS: ReadonlySet<string> = new Set<PageScript>(['login', 'enroll', 'account', 'admin']);

// A key, drawn with presentation attributes only: the CSP forbids style attributes.
const LOGO = raw(
  '<svg class="brand-icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false"' +
    ' fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">' +
    '<circle cx="7.5" cy="12" r="4"/><path d="M11.5 12H21M18 12v3M15 12v2"/></svg>',
);

function dataAttributes(data: Record<string, string>): Raw {
  return html`${Object.entries(data).map(([key, value]) => {
    // Keys come from our own code, but a bad one would break the markup, so refuse it loudly.
    if (!/^[a-z][A-Za-z0-9]*$/.test(key)) throw new Error(`layout: invalid data key "${key}"`);
    const name = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return html` data-${name}="${value}"`;
  })}`;
}

/**
 * Render a complete Keygate HTML document. Scripts and styles are external
 * files only, because the CSP allows nothing inline; data for the page's
 * script travels in `data-*` attributes on `main#app`; the script reads the page's language
 * from `<html lang>` (web/client/strings.ts). Every scripted page talks to the security key from
 * the browser, so its noscript says plainly why nothing works without JavaScript.
 */
export function layout({ title, body, script, data = {}, site = DEFAULT_SITE, lang }: LayoutOptions): string {
  if (script !== undefined && !SCRIPTS.has(script)) throw new Error(`layout: unknown script "${script}"`);
  const t = strings(lang);
  return html`<!doctype html>
<html lang="${t.tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="same-origin">
<title>${title} · ${site.name}</title>
<link rel="stylesheet" href="/-/static/keygate.css">
${script && html`<script type="module" src="/-/static/${script}.js"></script>`}
</head>
<body>
<header class="site-header">
<span class="brand">${site.logo ? html`<img class="brand-logo" src="/-/brand/logo" alt="" width="28" height="28">` : LOGO}${site.name}</span>
</header>
<main id="app"${dataAttributes(data)}>
<h1>${title}</h1>
<div id="message" class="message" role="alert" aria-live="polite"></div>
${script && html`<noscript><p class="notice notice-error">${t.layout.noscript}</p></noscript>`}
${body}
</main>
</body>
</html>
`.toString();
}

import { strings } from '../i18n/index.js';
import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/**
 * Confirmation page for GET /-/logout. Signing out is a POST so that a link
 * or image elsewhere can't sign people out behind their back.
 */
export function logoutPage({ site, lang }: SiteOptions = {}): string {
  const t = strings(lang).logout;
  const body = html`
<p class="lead">${t.question(site?.name ?? 'Keygate')}</p>
<form id="logout-form" method="post" action="/-/logout" class="stack">
<button type="submit" class="button button-primary">${t.button}</button>
</form>
<a class="button button-link" href="/">${t.cancel}</a>
`;
  return layout({ title: t.title, body, site, lang });
}

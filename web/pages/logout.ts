import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/**
 * Confirmation page for GET /-/logout. Signing out is a POST so that a link
 * or image elsewhere can't sign people out behind their back.
 */
export function logoutPage({ site }: SiteOptions = {}): string {
  const body = html`
<p class="lead">Sign out of ${site?.name ?? 'Keygate'}? You'll need your security key or passkey to sign in again.</p>
<form id="logout-form" method="post" action="/-/logout" class="stack">
<button type="submit" class="button button-primary">Sign out</button>
</form>
<a class="button button-link" href="/">Cancel</a>
`;
  return layout({ title: 'Sign out', body, site });
}

import { strings } from '../i18n/index.js';
import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** Options for {@link loginPage}. */
export interface LoginPageOptions extends SiteOptions {
  /** Where to go after signing in; handed to the script via data-return-to (may be empty). */
  returnTo: string;
  /** Human name of the site, e.g. "Example Git". */
  rpName: string;
  /** WebAuthn RP ID, for the Signal API after an unknown credential (data-rp-id). */
  rpId: string;
  /** Optional informational notice, e.g. "You have been signed out." */
  notice?: string;
}

/**
 * The sign-in page (/-/login): a passkey button first, because it needs no
 * typing, then a username form for security keys that don't store passkeys.
 * The username input also carries "webauthn" autocomplete for passkey autofill.
 */
export function loginPage({ returnTo, rpName, rpId, notice, site, lang }: LoginPageOptions): string {
  const t = strings(lang).login;
  const body = html`
${notice && html`<p class="notice notice-info" role="status">${notice}</p>`}
<p class="lead">${t.lead(rpName)}</p>
<p class="hint" id="leads-to">${t.leadsTo}</p>
<button type="button" id="passkey-button" class="button button-primary">${t.passkeyButton}</button>
<div class="divider"><span>${t.or}</span></div>
<form id="username-form" class="stack" novalidate>
<label for="username">${t.username}</label>
<input id="username" name="username" type="text" required autocomplete="username webauthn"
 autocapitalize="none" autocorrect="off" spellcheck="false" enterkeyhint="go">
<button type="submit" id="username-button" class="button button-secondary">${t.securityKeyButton}</button>
</form>
<p class="hint">${t.noKeyYet}</p>
`;
  return layout({ title: t.title, body, script: 'login', data: { returnTo, rpId }, site, lang });
}

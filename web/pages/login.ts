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
export function loginPage({ returnTo, rpName, rpId, notice, site }: LoginPageOptions): string {
  const body = html`
${notice && html`<p class="notice notice-info" role="status">${notice}</p>`}
<p class="lead">Sign in to ${rpName} with your security key or passkey. No password needed.</p>
<p class="hint" id="leads-to">After you sign in, you go on to Gogs, where your repositories are.</p>
<button type="button" id="passkey-button" class="button button-primary">Sign in with a passkey</button>
<div class="divider"><span>or</span></div>
<form id="username-form" class="stack" novalidate>
<label for="username">Username</label>
<input id="username" name="username" type="text" required autocomplete="username webauthn"
 autocapitalize="none" autocorrect="off" spellcheck="false" enterkeyhint="go">
<button type="submit" id="username-button" class="button button-secondary">Continue with security key</button>
</form>
<p class="hint">No key registered yet? Ask your administrator for an enrolment link.</p>
`;
  return layout({ title: 'Sign in', body, script: 'login', data: { returnTo, rpId }, site });
}

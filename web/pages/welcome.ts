import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** Options for {@link welcomePage}. */
export interface WelcomePageOptions extends SiteOptions {
  username: string;
  /** The person's keys that can sign in, this new one included. */
  keys: number;
  /** Git over HTTPS takes the Gogs password too (ALLOW_GIT_PASSWORDS), not only access tokens. */
  gitPasswords: boolean;
}

/**
 * Right after enrolment (/-/welcome): the two things a new person needs next, a backup key and
 * git access, before they go on to Gogs.
 */
export function welcomePage({ username, keys, gitPasswords, site }: WelcomePageOptions): string {
  const body = html`
<p class="lead">Your key is registered and you are signed in as <strong>${username}</strong>. Two things to do next:</p>
<ol class="next-steps">
<li id="step-backup-key">
<h2>Add a backup key</h2>
<p>${keys > 1 ? `You have ${keys} keys.` : 'This is your only key.'} If you lose a key, another one still signs you in: add a second security key, or the passkey of another device you use.</p>
<a class="button button-secondary" href="/-/account#add-heading">Add a backup key</a>
</li>
<li id="step-git">
<h2>Set up git</h2>
<p>Git does not use your key. In Gogs, open <strong>Your settings → Applications</strong> and generate an access token, then give it as the password when git asks (your username stays <strong>${username}</strong>).${gitPasswords ? '' : ' Your Gogs password does not work for git here.'}</p>
<a class="button button-secondary" href="/user/settings/applications">Create an access token in Gogs</a>
</li>
</ol>
<a id="continue" class="button button-primary" href="/">Continue to Gogs</a>
`;
  return layout({ title: 'Welcome', body, site });
}

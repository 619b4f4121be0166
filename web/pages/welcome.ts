import { strings } from '../i18n/index.js';
import { html, rich } from './html.js';
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
export function welcomePage({ username, keys, gitPasswords, site, lang }: WelcomePageOptions): string {
  const t = strings(lang).welcome;
  const name = html`<strong>${username}</strong>`;
  const body = html`
<p class="lead">${rich(t.lead, name)}</p>
<ol class="next-steps">
<li id="step-backup-key">
<h2>${t.backupHeading}</h2>
<p>${t.keyCount(keys)}${t.backupText}</p>
<a class="button button-secondary" href="/-/account#add-heading">${t.backupButton}</a>
</li>
<li id="step-git">
<h2>${t.gitHeading}</h2>
<p>${rich(t.gitText, html`<strong>${t.gitMenu}</strong>`, name)}${gitPasswords ? '' : t.noGitPassword}</p>
<a class="button button-secondary" href="/user/settings/applications">${t.tokenButton}</a>
</li>
</ol>
<a id="continue" class="button button-primary" href="/">${t.continue}</a>
`;
  return layout({ title: t.title, body, site, lang });
}

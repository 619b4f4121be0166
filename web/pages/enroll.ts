import { strings, type Lang } from '../i18n/index.js';
import { html, rich } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** Options for {@link enrollPage}. */
export interface EnrollPageOptions {
  /** Invitation token from the URL; handed to the script via data-token. */
  token: string;
  /** Account the key will belong to. */
  username: string;
  /** True when the invite adds a key to an account that already has some. */
  recovery: boolean;
  /** Human name of the site. */
  rpName: string;
  /** What the authenticator policy asks of this person's key (policy.requirements). */
  requirements: string[];
}

/** The authenticator policy in words, before the person picks a key (also on the account page). */
export function policyRequirements(requirements: string[], lang?: Lang) {
  return (
    requirements.length > 0 &&
    html`<div id="policy-requirements" class="notice notice-info"><p>${strings(lang).enroll.accepts}</p>
<ul>${requirements.map((r) => html`<li>${r}</li>`)}</ul></div>`
  );
}

/** The enrolment page (/-/enroll/<token>): explains what is about to happen, then enrols a key. */
export function enrollPage({ token, username, recovery, rpName, requirements, site, lang }: EnrollPageOptions & SiteOptions): string {
  const t = strings(lang).enroll;
  const body = html`
<p class="lead">${rich(t.lead, html`<strong>${username}</strong>`, rpName)}</p>
${recovery && html`<p class="notice notice-info">${t.recovery}</p>`}
${policyRequirements(requirements, lang)}
<p>${t.howItGoes}</p>
<div class="stack">
<label for="nickname">${t.nameLabel} <span class="optional">${t.optional}</span></label>
<input id="nickname" name="nickname" type="text" maxlength="64" autocomplete="off"
 placeholder="${t.namePlaceholder}" aria-describedby="nickname-hint">
<p id="nickname-hint" class="hint">${t.nameHint}</p>
<button type="button" id="enroll-button" class="button button-primary">${t.button}</button>
</div>
`;
  return layout({ title: t.title, body, script: 'enroll', data: { token }, site, lang });
}

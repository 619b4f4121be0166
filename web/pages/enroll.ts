import { html } from './html.js';
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
export function policyRequirements(requirements: string[]) {
  return (
    requirements.length > 0 &&
    html`<div id="policy-requirements" class="notice notice-info"><p>This organisation accepts:</p>
<ul>${requirements.map((r) => html`<li>${r}</li>`)}</ul></div>`
  );
}

/** The enrolment page (/-/enroll/<token>): explains what is about to happen, then registers a key. */
export function enrollPage({ token, username, recovery, rpName, requirements, site }: EnrollPageOptions & SiteOptions): string {
  const body = html`
<p class="lead">You're enrolling a security key or passkey for <strong>${username}</strong> on ${rpName}.</p>
${recovery && html`<p class="notice notice-info">This link adds a new key to your account; your other keys keep working.</p>`}
${policyRequirements(requirements)}
<p>When you continue, your browser will ask you to touch your security key, or to confirm with your
phone or computer's fingerprint, face or screen lock.</p>
<div class="stack">
<label for="nickname">Name for this key <span class="optional">(optional)</span></label>
<input id="nickname" name="nickname" type="text" maxlength="64" autocomplete="off"
 placeholder="For example: Blue YubiKey" aria-describedby="nickname-hint">
<p id="nickname-hint" class="hint">Helps you tell your keys apart later.</p>
<button type="button" id="enroll-button" class="button button-primary">Register your key</button>
</div>
`;
  return layout({ title: 'Register your key', body, script: 'enroll', data: { token }, site });
}

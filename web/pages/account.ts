import { policyRequirements } from './enroll.js';
import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** One registered credential as shown on the account page. */
export interface AccountDevice {
  /** Credential ID (base64url); exposed as data-credential-id. */
  id: string;
  /** Name the person gave the key; may be empty. */
  nickname: string;
  /** The authenticator's model, from its AAGUID, e.g. "YubiKey 5 Series". */
  model: string;
  /** "Security key", "Platform authenticator", "Synced passkey (backed up)"… */
  kind: string;
  createdAt: Date;
  /** Last sign-in or step-up with this key: when, from which address, in which browser. */
  lastUsed: { at: Date; ip: string | null; browser: string | null } | null;
  /** True for the credential this session signed in with. */
  current: boolean;
  /** Why the authenticator policy will refuse this key at its next sign-in (empty: it is fine). */
  policyProblems: string[];
}

/** One of the person's signed-in sessions as shown on the account page. */
export interface AccountSession {
  /** The session's key (a hash of its id): names it in the sign-out form's address. */
  key: string;
  /** "Chrome 126 on Linux"; null when the browser did not say. */
  browser: string | null;
  ip: string | null;
  signedInAt: Date;
  lastSeenAt: Date;
  /** The session this page is shown in. */
  current: boolean;
}

/** Options for {@link accountPage}. */
export interface AccountPageOptions extends SiteOptions {
  username: string;
  devices: AccountDevice[];
  sessions?: AccountSession[];
  /** What just happened, said at the top: a key was added, other sessions were signed out. */
  notice?: { text: string; offerEndOthers?: boolean };
  /** The WebAuthn RP ID and the person's user handle (base64url), for the Signal API calls. */
  rpId: string;
  userHandle: string;
}

/** Format a date as `YYYY-MM-DD HH:MM UTC`: unambiguous whatever the reader's locale. */
export function formatUtc(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function time(d: Date) {
  return html`<time datetime="${d.toISOString()}">${formatUtc(d)}</time>`;
}

function lastUsed(d: AccountDevice) {
  if (!d.lastUsed) return 'never';
  const { at, ip, browser } = d.lastUsed;
  return html`${time(at)}${ip && html` from ${ip}`}${browser && html` (${browser})`}`;
}

/** The rename form and the removal confirmation stay hidden until their button is pressed. */
function deviceItem(d: AccountDevice, i: number) {
  const name = d.nickname || 'Unnamed key';
  return html`<li class="device" data-credential-id="${d.id}"${d.current && html` data-current="true"`}>
<div class="device-name"><span class="device-nickname">${name}</span>${d.current && html` <span class="badge">(used for this session)</span>`}</div>
<div class="device-meta device-model">${d.model}</div>
<div class="device-meta device-kind">${d.kind}</div>
${d.policyProblems.length > 0 && html`<div class="notice notice-error device-policy"><strong>This key will not sign you in again here.</strong> ${d.policyProblems.join(' ')} Ask your administrator for a link to enrol an allowed authenticator.</div>`}
<div class="device-meta device-created">Added ${time(d.createdAt)}</div>
<div class="device-meta device-last-used">Last used ${lastUsed(d)}</div>
<div class="device-actions">
<button type="button" class="button button-small button-secondary rename-button" aria-label="Rename ${name}">Rename</button>
<button type="button" class="button button-small button-danger-outline remove-button" aria-label="Remove ${name}">Remove</button>
</div>
<form class="device-panel rename-form" hidden novalidate>
<label for="rename-${i}">New name</label>
<input id="rename-${i}" class="rename-input" name="nickname" type="text" maxlength="64" autocomplete="off" value="${d.nickname}">
<div class="device-actions">
<button type="submit" class="button button-small button-primary rename-save">Save name</button>
<button type="button" class="button button-small button-secondary panel-cancel">Cancel</button>
</div>
</form>
<div class="device-panel remove-confirm" role="group" aria-label="Confirm removal" hidden>
<p class="remove-text"></p>
<div class="device-actions">
<button type="button" class="button button-small button-danger remove-confirm-button">Remove</button>
<button type="button" class="button button-small button-secondary panel-cancel">Keep it</button>
</div>
</div>
</li>`;
}

const END_OTHERS_FORM = html`<form class="end-others-form" method="post" action="/-/account/sessions/end-others"><button type="submit" class="button button-small button-secondary">Sign out all other sessions</button></form>`;

function sessionItem(s: AccountSession) {
  const where = [s.ip && `From ${s.ip}`, html`signed in ${time(s.signedInAt)}`, html`last active ${time(s.lastSeenAt)}`];
  return html`<li class="device" data-session-key="${s.key}"${s.current && html` data-current="true"`}>
<div class="device-name">${s.browser ?? 'Unknown browser'}${s.current && html` <span class="badge">(this browser)</span>`}</div>
<div class="device-meta">${where.filter(Boolean).map((w, i) => (i ? html` · ${w}` : w))}</div>
${
  !s.current &&
  html`<form class="device-actions" method="post" action="/-/account/sessions/${s.key}/end"><button type="submit" class="button button-small button-secondary" aria-label="Sign out ${s.browser ?? 'this session'}">Sign out</button></form>`
}
</li>`;
}

/** The account page (/-/account): registered keys (rename, remove), adding another one, sessions, and signing out. */
export function accountPage({
  username,
  devices,
  sessions = [],
  notice,
  site,
  rpId,
  userHandle,
  isAdmin,
  requirements = [],
}: AccountPageOptions & { isAdmin?: boolean; requirements?: string[] }): string {
  const others = sessions.filter((x) => !x.current).length;
  const body = html`
${notice && html`<div class="notice notice-success" role="status"><p>${notice.text}</p>${notice.offerEndOthers && others > 0 && END_OTHERS_FORM}</div>`}
<p class="lead">Signed in as <strong>${username}</strong>.</p>
<section aria-labelledby="devices-heading">
<h2 id="devices-heading">Your keys</h2>
${
  devices.length > 0
    ? html`<ul id="device-list" class="device-list">${devices.map(deviceItem)}</ul>`
    : html`<ul id="device-list" class="device-list"></ul><p class="hint">No keys are registered.</p>`
}
<p class="hint">Renaming or removing a key asks you to confirm with one of your keys if you haven't in the last few minutes.</p>
</section>
<section class="stack" aria-labelledby="add-heading">
<h2 id="add-heading">Add another key</h2>
<p>A second key lets you sign in if you lose or forget the first.</p>
${policyRequirements(requirements)}
<label for="nickname">Name for the new key <span class="optional">(optional)</span></label>
<input id="nickname" name="nickname" type="text" maxlength="64" autocomplete="off"
 placeholder="For example: Work laptop">
<button type="button" id="add-device-button" class="button button-primary">Add a key</button>
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Your sessions</h2>
<ul id="session-list" class="device-list">${sessions.map(sessionItem)}</ul>
${others > 0 ? END_OTHERS_FORM : html`<p class="hint">You are signed in in this browser only.</p>`}
</section>
<div class="stack">
<form id="logout-form" method="post" action="/-/logout"><button type="submit" class="button button-secondary">Sign out</button></form>
<a class="button button-link" href="/">Back to Gogs</a>
${isAdmin && html`<a class="button button-link" href="/-/admin">Administration</a>`}
</div>
`;
  return layout({ title: 'Your account', body, script: 'account', data: { rpId, userId: userHandle, username }, site });
}

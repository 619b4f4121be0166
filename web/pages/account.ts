import { strings, type Catalogue } from '../i18n/index.js';
import { policyRequirements } from './enroll.js';
import { html, rich } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** One registered credential as shown on the account page. */
export interface AccountDevice {
  /** Credential ID (base64url); exposed as data-credential-id. */
  id: string;
  /** Name the person gave the key; may be empty. */
  nickname: string;
  /** The authenticator's model, from its AAGUID, e.g. "YubiKey 5 Series". */
  model: string;
  /** "Security key", "Built-in authenticator", "Synced passkey (backed up)"…, in the page's language. */
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

function lastUsed(d: AccountDevice, t: Catalogue['account']) {
  if (!d.lastUsed) return t.lastUsedNever;
  const { at, ip, browser } = d.lastUsed;
  return html`${ip ? rich(t.lastUsedFrom, time(at), ip) : rich(t.lastUsed, time(at))}${browser && t.inBrowser(browser)}`;
}

/** The rename form and the removal confirmation stay hidden until their button is pressed. */
function deviceItem(t: Catalogue['account']) {
  return (d: AccountDevice, i: number) => {
    const name = d.nickname || t.unnamedKey;
    return html`<li class="device" data-credential-id="${d.id}"${d.current && html` data-current="true"`}>
<div class="device-name"><span class="device-nickname">${name}</span>${d.current && html` <span class="badge">${t.usedForThisSession}</span>`}</div>
<div class="device-meta device-model">${d.model}</div>
<div class="device-meta device-kind">${d.kind}</div>
${d.policyProblems.length > 0 && html`<div class="notice notice-error device-policy"><strong>${t.policyRefuses}</strong> ${d.policyProblems.join(' ')} ${t.askForLink}</div>`}
<div class="device-meta device-created">${rich(t.added, time(d.createdAt))}</div>
<div class="device-meta device-last-used">${lastUsed(d, t)}</div>
<div class="device-actions">
<button type="button" class="button button-small button-secondary rename-button" aria-label="${t.renameKey(name)}">${t.rename}</button>
<button type="button" class="button button-small button-danger-outline remove-button" aria-label="${t.removeKey(name)}">${t.remove}</button>
</div>
<form class="device-panel rename-form" hidden novalidate>
<label for="rename-${i}">${t.newName}</label>
<input id="rename-${i}" class="rename-input" name="nickname" type="text" maxlength="64" autocomplete="off" value="${d.nickname}">
<div class="device-actions">
<button type="submit" class="button button-small button-primary rename-save">${t.saveName}</button>
<button type="button" class="button button-small button-secondary panel-cancel">${t.cancel}</button>
</div>
</form>
<div class="device-panel remove-confirm" role="group" aria-label="${t.confirmRemoval}" hidden>
<p class="remove-text"></p>
<div class="device-actions">
<button type="button" class="button button-small button-danger remove-confirm-button">${t.remove}</button>
<button type="button" class="button button-small button-secondary panel-cancel">${t.keepIt}</button>
</div>
</div>
</li>`;
  };
}

const endOthersForm = (t: Catalogue['account']) =>
  html`<form class="end-others-form" method="post" action="/-/account/sessions/end-others"><button type="submit" class="button button-small button-secondary">${t.signOutOthers}</button></form>`;

function sessionItem(t: Catalogue['account']) {
  return (s: AccountSession) => {
    const where = [s.ip && t.from(s.ip), rich(t.signedIn, time(s.signedInAt)), rich(t.lastActive, time(s.lastSeenAt))];
    return html`<li class="device" data-session-key="${s.key}"${s.current && html` data-current="true"`}>
<div class="device-name">${s.browser ?? t.unknownBrowser}${s.current && html` <span class="badge">${t.thisBrowser}</span>`}</div>
<div class="device-meta">${where.filter(Boolean).map((w, i) => (i ? html` · ${w}` : w))}</div>
${
  !s.current &&
  html`<form class="device-actions" method="post" action="/-/account/sessions/${s.key}/end"><button type="submit" class="button button-small button-secondary" aria-label="${t.signOutSession(s.browser ?? t.thisSession)}">${t.signOut}</button></form>`
}
</li>`;
  };
}

/** The account page (/-/account): registered keys (rename, remove), adding another one, sessions, and signing out. */
export function accountPage({
  username,
  devices,
  sessions = [],
  notice,
  site,
  lang,
  rpId,
  userHandle,
  isAdmin,
  requirements = [],
}: AccountPageOptions & { isAdmin?: boolean; requirements?: string[] }): string {
  const t = strings(lang).account;
  const others = sessions.filter((x) => !x.current).length;
  const body = html`
${notice && html`<div class="notice notice-success" role="status"><p>${notice.text}</p>${notice.offerEndOthers && others > 0 && endOthersForm(t)}</div>`}
<p class="lead">${rich(t.signedInAs, html`<strong>${username}</strong>`)}</p>
<section aria-labelledby="devices-heading">
<h2 id="devices-heading">${t.keysHeading}</h2>
${
  devices.length > 0
    ? html`<ul id="device-list" class="device-list">${devices.map(deviceItem(t))}</ul>`
    : html`<ul id="device-list" class="device-list"></ul><p class="hint">${t.noKeys}</p>`
}
<p class="hint">${t.confirmHint}</p>
</section>
<section class="stack" aria-labelledby="add-heading">
<h2 id="add-heading">${t.addHeading}</h2>
<p>${t.addText}</p>
${policyRequirements(requirements, lang)}
<label for="nickname">${t.newKeyName} <span class="optional">${t.optional}</span></label>
<input id="nickname" name="nickname" type="text" maxlength="64" autocomplete="off"
 placeholder="${t.newKeyPlaceholder}">
<button type="button" id="add-device-button" class="button button-primary">${t.addButton}</button>
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">${t.sessionsHeading}</h2>
<ul id="session-list" class="device-list">${sessions.map(sessionItem(t))}</ul>
${others > 0 ? endOthersForm(t) : html`<p class="hint">${t.onlyThisBrowser}</p>`}
</section>
<div class="stack">
<form id="logout-form" method="post" action="/-/logout"><button type="submit" class="button button-secondary">${t.signOut}</button></form>
<a class="button button-link" href="/">${t.backToGogs}</a>
${isAdmin && html`<a class="button button-link" href="/-/admin">${t.administration}</a>`}
</div>
`;
  return layout({ title: t.title, body, script: 'account', data: { rpId, userId: userHandle, username }, site, lang });
}

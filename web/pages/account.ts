import { html } from './html.js';
import { layout } from './layout.js';

/** One registered credential as shown on the account page. */
export interface AccountDevice {
  /** Credential ID (base64url); exposed as data-credential-id. */
  id: string;
  /** Name the person gave the key; may be empty. */
  nickname: string;
  /** Human description such as "Passkey" or "Security key". */
  kind: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** True for the credential this session signed in with. */
  current: boolean;
}

/** Options for {@link accountPage}. */
export interface AccountPageOptions {
  username: string;
  devices: AccountDevice[];
}

/** Format a date as `YYYY-MM-DD HH:MM UTC`: unambiguous whatever the reader's locale. */
export function formatUtc(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function time(d: Date) {
  return html`<time datetime="${d.toISOString()}">${formatUtc(d)}</time>`;
}

function deviceItem(d: AccountDevice) {
  return html`<li class="device" data-credential-id="${d.id}">
<div class="device-name">${d.nickname || 'Unnamed key'}${d.current && html` <span class="badge">(this device)</span>`}</div>
<div class="device-meta">${d.kind}</div>
<div class="device-meta">Added ${time(d.createdAt)}</div>
<div class="device-meta">Last used ${d.lastUsedAt ? time(d.lastUsedAt) : 'never'}</div>
</li>`;
}

/** The account page (/-/account): registered keys, adding another one, and signing out. */
export function accountPage({ username, devices }: AccountPageOptions): string {
  const body = html`
<p class="lead">Signed in as <strong>${username}</strong>.</p>
<section aria-labelledby="devices-heading">
<h2 id="devices-heading">Your keys</h2>
${devices.length > 0
  ? html`<ul id="device-list" class="device-list">${devices.map(deviceItem)}</ul>`
  : html`<ul id="device-list" class="device-list"></ul><p class="hint">No keys are registered.</p>`}
</section>
<section class="stack" aria-labelledby="add-heading">
<h2 id="add-heading">Add another key</h2>
<p>A second key lets you sign in if you lose or forget the first.</p>
<label for="nickname">Name for the new key <span class="optional">(optional)</span></label>
<input id="nickname" name="nickname" type="text" maxlength="64" autocomplete="off"
 placeholder="For example: Work laptop">
<button type="button" id="add-device-button" class="button button-primary">Add a key</button>
</section>
<div class="stack">
<form id="logout-form" method="post" action="/-/logout"><button type="submit" class="button button-secondary">Sign out</button></form>
<a class="button button-link" href="/">Back to Gogs</a>
</div>
`;
  return layout({ title: 'Your account', body, script: 'account' });
}

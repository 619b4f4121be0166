import { adminLayout, inviteForm, pendingInvites, utc, type PendingInviteView } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { html } from './html.js';

/** One credential as an admin sees it. */
export interface AdminCredentialView {
  /** base64url credential id. */
  id: string;
  nickname: string;
  /** Authenticator model, from the AAGUID. */
  model: string;
  kind: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  /** Short browser description of the last use, e.g. "Chrome 126 on Linux". */
  lastUsedBrowser: string | null;
  revokedAt: Date | null;
  /** Why the current authenticator policy refuses this key at its next sign-in (empty: it meets it). */
  policyProblems: string[];
}

/** One signed-in session. */
export interface AdminSessionView {
  idPrefix: string;
  credentialId: string;
  /** Nickname of the key that signed it in. */
  device: string | null;
  signedInAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

/** Options for {@link adminUserPage}. */
export interface AdminUserPageOptions extends SiteOptions {
  username: string;
  isAdmin: boolean;
  disabledAt: Date | null;
  createdAt: Date;
  /** The admin is looking at their own account. */
  self: boolean;
  defaultTtl: string;
  credentials: AdminCredentialView[];
  sessions: AdminSessionView[];
  /** Their pending recovery links. */
  invites: PendingInviteView[];
}

function lastUse(c: AdminCredentialView) {
  if (!c.lastUsedAt) return 'Last used never';
  const where = [c.lastUsedIp && `from ${c.lastUsedIp}`, c.lastUsedBrowser && `with ${c.lastUsedBrowser}`].filter(Boolean).join(' ');
  return html`Last used ${utc(c.lastUsedAt)}${where ? ` ${where}` : ''}`;
}

function credentialItem(c: AdminCredentialView) {
  return html`<li class="device${c.revokedAt ? ' device-revoked' : ''}" data-credential-id="${c.id}">
<div class="device-name">${c.nickname || 'Unnamed key'}${c.revokedAt && html` <span class="tag tag-warn">Revoked ${utc(c.revokedAt)}</span>`}</div>
<div class="device-meta">${c.model} · ${c.kind}</div>
${!c.revokedAt && c.policyProblems.length > 0 && html`<div class="notice notice-error policy-problem"><strong>Refused by the current policy at its next sign-in.</strong> ${c.policyProblems.join(' ')}</div>`}
<div class="device-meta">Added ${utc(c.createdAt)}</div>
<div class="device-meta">${lastUse(c)}</div>
<div class="device-meta">Credential id <code>${c.id}</code></div>
${!c.revokedAt && html`<button type="button" class="button button-secondary button-inline" data-action="revoke" data-credential-id="${c.id}" data-label="${c.nickname || 'Unnamed key'}">Revoke</button>`}
</li>`;
}

function sessionItem(s: AdminSessionView) {
  return html`<li class="device" data-session="${s.idPrefix}" data-credential-id="${s.credentialId}">
<div class="device-name">Session ${s.idPrefix}… with ${s.device ?? 'an unknown key'}</div>
<div class="device-meta">Signed in ${utc(s.signedInAt)}, last seen ${utc(s.lastSeenAt)}</div>
<div class="device-meta">Ends at the latest ${utc(s.expiresAt)}</div>
</li>`;
}

/** One person (/-/admin/users/<name>): their keys and sessions, and what an admin can do about them. */
export function adminUserPage(o: AdminUserPageOptions): string {
  const body = html`
<p class="lead"><strong>${o.username}</strong>${o.isAdmin && html` <span class="tag">Admin</span>`}${o.disabledAt && html` <span class="tag tag-warn">Disabled since ${utc(o.disabledAt)}</span>`}${o.self && ' (you)'}</p>
<p class="hint">Known to Keygate since ${utc(o.createdAt)}.</p>
<section aria-labelledby="keys-heading">
<h2 id="keys-heading">Keys</h2>
${o.credentials.length ? html`<ul id="credential-list" class="device-list">${o.credentials.map(credentialItem)}</ul>` : html`<p class="hint">No keys registered.</p>`}
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Signed-in sessions</h2>
${o.sessions.length ? html`<ul id="session-list" class="device-list">${o.sessions.map(sessionItem)}</ul>` : html`<p id="no-sessions" class="hint">No active sessions.</p>`}
</section>
<section class="stack" aria-labelledby="account-heading">
<h2 id="account-heading">Account</h2>
<button type="button" class="button button-secondary" data-action="end-sessions">End all sessions</button>
${
  o.disabledAt
    ? html`<button type="button" class="button button-secondary" data-action="enable">Enable ${o.username}</button>`
    : !o.self && html`<button type="button" class="button button-secondary admin-danger" data-action="disable">Disable ${o.username}</button>`
}
</section>
${pendingInvites({ invites: o.invites })}
<section aria-labelledby="recovery-heading">
<h2 id="recovery-heading">Recovery link</h2>
<p>A lost key? Revoke it above, then send ${o.username} a recovery link: it adds a new key and keeps the others.</p>
${o.disabledAt && html`<p class="notice notice-info">${o.username} is disabled: enable them first, or the link will be refused.</p>`}
${inviteForm({ username: o.username, defaultTtl: o.defaultTtl })}
</section>
`;
  return adminLayout({ title: o.username, section: 'users', body, data: { username: o.username }, site: o.site });
}

/**
 * Someone invited who has no account yet (/-/admin/users/<name>, while an invite for that name is
 * pending): the pending invites, to revoke or re-issue. The account appears when a link is used.
 */
export function adminInviteePage(o: { username: string; invites: PendingInviteView[] } & SiteOptions): string {
  const body = html`
<p class="lead"><strong>${o.username}</strong> <span class="tag">Invited</span></p>
<p class="hint">${o.username} has no account yet: one is made when they enrol a key with an invite link.</p>
${pendingInvites({ invites: o.invites })}
`;
  return adminLayout({ title: o.username, section: 'users', body, data: { username: o.username }, site: o.site });
}

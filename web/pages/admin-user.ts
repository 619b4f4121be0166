import { adminLayout, inviteForm, pendingInvites, utc, type PendingInviteView } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { strings, type Catalogue } from '../i18n/index.js';
import { html, rich } from './html.js';

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
  /** Ended by its owner (removed) rather than by an administrator (revoked). */
  removedByOwner: boolean;
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

function lastUse(c: AdminCredentialView, t: Catalogue['admin']) {
  if (!c.lastUsedAt) return t.lastUsedNever;
  const at = utc(c.lastUsedAt);
  if (c.lastUsedIp && c.lastUsedBrowser) return rich(t.lastUsedFromWith, at, c.lastUsedIp, c.lastUsedBrowser);
  if (c.lastUsedIp) return rich(t.lastUsedFrom, at, c.lastUsedIp);
  if (c.lastUsedBrowser) return rich(t.lastUsedWith, at, c.lastUsedBrowser);
  return rich(t.lastUsed, at);
}

function credentialItem(t: Catalogue['admin']) {
  return (c: AdminCredentialView) => {
    const name = c.nickname || t.unnamedKey;
    return html`<li class="device${c.revokedAt ? ' device-revoked' : ''}" data-credential-id="${c.id}">
<div class="device-name">${name}${c.revokedAt && html` <span class="tag tag-warn">${rich(c.removedByOwner ? t.removedAt : t.revokedAt, utc(c.revokedAt))}</span>`}</div>
<div class="device-meta">${c.model} · ${c.kind}</div>
${!c.revokedAt && c.policyProblems.length > 0 && html`<div class="notice notice-error policy-problem"><strong>${t.policyRefuses}</strong> ${c.policyProblems.join(' ')}</div>`}
<div class="device-meta">${rich(t.added, utc(c.createdAt))}</div>
<div class="device-meta">${lastUse(c, t)}</div>
<div class="device-meta">${t.keyId} <code>${c.id}</code></div>
${!c.revokedAt && html`<button type="button" class="button button-secondary button-inline" data-action="revoke" data-credential-id="${c.id}" data-label="${name}">${t.revoke}</button>`}
</li>`;
  };
}

function sessionItem(t: Catalogue['admin']) {
  return (s: AdminSessionView) => html`<li class="device" data-session="${s.idPrefix}" data-credential-id="${s.credentialId}">
<div class="device-name">${t.session(s.idPrefix, s.device ?? t.unknownKey)}</div>
<div class="device-meta">${rich(t.signedInLastSeen, utc(s.signedInAt), utc(s.lastSeenAt))}</div>
<div class="device-meta">${rich(t.endsAtTheLatest, utc(s.expiresAt))}</div>
</li>`;
}

/** One person (/-/admin/users/<name>): their keys and sessions, and what an admin can do about them. */
export function adminUserPage(o: AdminUserPageOptions): string {
  const t = strings(o.lang).admin;
  const body = html`
<p class="lead"><strong>${o.username}</strong>${o.isAdmin && html` <span class="tag">${t.adminTag}</span>`}${o.disabledAt && html` <span class="tag tag-warn">${rich(t.disabledSince, utc(o.disabledAt))}</span>`}${o.self && t.you}</p>
<p class="hint">${rich(t.knownSince, utc(o.createdAt))}</p>
<section aria-labelledby="keys-heading">
<h2 id="keys-heading">${t.keysHeading}</h2>
${o.credentials.length ? html`<ul id="credential-list" class="device-list">${o.credentials.map(credentialItem(t))}</ul>` : html`<p class="hint">${t.noKeys}</p>`}
</section>
<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">${t.sessionsHeading}</h2>
${o.sessions.length ? html`<ul id="session-list" class="device-list">${o.sessions.map(sessionItem(t))}</ul>` : html`<p id="no-sessions" class="hint">${t.noSessions}</p>`}
</section>
<section class="stack" aria-labelledby="account-heading">
<h2 id="account-heading">${t.accountHeading}</h2>
<button type="button" class="button button-secondary" data-action="end-sessions">${t.endAllSessions}</button>
${
  o.disabledAt
    ? html`<button type="button" class="button button-secondary" data-action="enable">${t.enableUser(o.username)}</button>`
    : !o.self && html`<button type="button" class="button button-secondary admin-danger" data-action="disable">${t.disableUser(o.username)}</button>`
}
</section>
${pendingInvites({ invites: o.invites, lang: o.lang })}
<section aria-labelledby="recovery-heading">
<h2 id="recovery-heading">${t.recoveryHeading}</h2>
<p>${t.recoveryText(o.username)}</p>
${o.disabledAt && html`<p class="notice notice-info">${t.disabledFirst(o.username)}</p>`}
${inviteForm({ username: o.username, defaultTtl: o.defaultTtl, lang: o.lang })}
</section>
`;
  return adminLayout({ title: o.username, section: 'users', body, data: { username: o.username }, site: o.site, lang: o.lang });
}

/**
 * Someone invited who has no account yet (/-/admin/users/<name>, while an invite for that name is
 * pending): the pending invites, to revoke or re-issue. The account appears when a link is used.
 */
export function adminInviteePage(o: { username: string; invites: PendingInviteView[] } & SiteOptions): string {
  const t = strings(o.lang).admin;
  const body = html`
<p class="lead"><strong>${o.username}</strong> <span class="tag">${t.invitedTag}</span></p>
<p class="hint">${t.noAccountYet(o.username)}</p>
${pendingInvites({ invites: o.invites, lang: o.lang })}
`;
  return adminLayout({ title: o.username, section: 'users', body, data: { username: o.username }, site: o.site, lang: o.lang });
}

import { adminLayout, inviteForm, pendingInvites, utc, type PendingInviteView } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { strings, type Catalogue } from '../i18n/index.js';
import { html } from './html.js';

/** One person in the admin list. */
export interface AdminUserRow {
  username: string;
  isAdmin: boolean;
  disabledAt: Date | null;
  createdAt: Date;
  activeDevices: number;
  /** Ended by an administrator. */
  revokedDevices: number;
  /** Ended by their owner. */
  removedDevices: number;
}

/** Options for {@link adminUsersPage}. */
export interface AdminUsersPageOptions {
  q: string;
  users: AdminUserRow[];
  previousHref: string | null;
  nextHref: string | null;
  /** INVITE_TTL for people, e.g. "1 day". */
  defaultTtl: string;
  /** GOGS_ADMIN_TOKEN is set: the form asks for an email, to create a missing Gogs account. */
  gogsEmail?: boolean;
  /** SMTP_URL is set: the form asks for an email, to tell the person about their keys. */
  mailEmail?: boolean;
  /** Every pending invite, newest first (at most a page of them: `moreInvites` when cut). */
  invites: PendingInviteView[];
  moreInvites?: boolean;
}

function userRow(t: Catalogue['admin']) {
  return (u: AdminUserRow) => html`<tr data-username="${u.username}">
<td data-label="${t.colUser}"><a href="/-/admin/users/${encodeURIComponent(u.username)}">${u.username}</a></td>
<td data-label="${t.colRole}">${u.isAdmin ? html`<span class="tag">${t.adminTag}</span>` : t.roleUser}</td>
<td data-label="${t.colState}">${u.disabledAt ? html`<span class="tag tag-warn">${t.stateDisabled}</span>` : t.stateActive}</td>
<td data-label="${t.colKeys}">${t.keyCount(u.activeDevices)}${u.revokedDevices ? t.revokedCount(u.revokedDevices) : ''}${u.removedDevices ? t.removedCount(u.removedDevices) : ''}</td>
<td data-label="${t.colCreated}">${utc(u.createdAt)}</td>
</tr>`;
}

/** The admin home (/-/admin): find people, open one, see and manage pending invites, or invite someone. */
export function adminUsersPage({
  q,
  users,
  previousHref,
  nextHref,
  defaultTtl,
  gogsEmail,
  mailEmail,
  invites,
  moreInvites,
  site,
  lang,
}: AdminUsersPageOptions & SiteOptions): string {
  const t = strings(lang).admin;
  const body = html`
<form class="admin-search" method="get" action="/-/admin" role="search">
<label for="q" class="visually-hidden">${t.searchLabel}</label>
<input id="q" name="q" type="search" value="${q}" maxlength="64" placeholder="${t.searchLabel}" autocomplete="off" autocapitalize="none" spellcheck="false">
<button type="submit" class="button button-secondary button-inline">${t.search}</button>
</form>
${
  users.length
    ? html`<div class="table-scroll"><table id="user-list" class="admin-table">
<thead><tr><th scope="col">${t.colUser}</th><th scope="col">${t.colRole}</th><th scope="col">${t.colState}</th><th scope="col">${t.colKeys}</th><th scope="col">${t.colCreated}</th></tr></thead>
<tbody>${users.map(userRow(t))}</tbody>
</table></div>`
    : html`<p id="user-list-empty" class="hint">${q ? t.noMatch(q) : t.noUsers}</p>`
}
<nav class="pager" aria-label="${t.pages}">${previousHref && html`<a href="${previousHref}" rel="prev">${t.previousPage}</a>`}${nextHref && html`<a href="${nextHref}" rel="next">${t.nextPage}</a>`}</nav>
${pendingInvites({ invites, more: moreInvites, lang })}
<section aria-labelledby="invite-heading">
<h2 id="invite-heading">${t.inviteHeading}</h2>
${inviteForm({ defaultTtl, email: gogsEmail, mail: mailEmail, lang })}
</section>
<section aria-labelledby="emergency-heading">
<h2 id="emergency-heading">${t.emergencyHeading}</h2>
<p>${t.emergencyText}</p>
<button type="button" class="button button-danger-outline" data-action="end-all-sessions">${t.signEveryoneOut}</button>
</section>
`;
  return adminLayout({ title: t.title, section: 'users', body, site, lang });
}

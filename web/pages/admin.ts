import { adminLayout, inviteForm, pendingInvites, utc, type PendingInviteView } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { html } from './html.js';

/** One person in the admin list. */
export interface AdminUserRow {
  username: string;
  isAdmin: boolean;
  disabledAt: Date | null;
  createdAt: Date;
  activeDevices: number;
  revokedDevices: number;
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

function userRow(u: AdminUserRow) {
  const devices = `${u.activeDevices} key${u.activeDevices === 1 ? '' : 's'}${u.revokedDevices ? ` (${u.revokedDevices} revoked)` : ''}`;
  return html`<tr data-username="${u.username}">
<td data-label="User"><a href="/-/admin/users/${encodeURIComponent(u.username)}">${u.username}</a></td>
<td data-label="Role">${u.isAdmin ? html`<span class="tag">Admin</span>` : 'User'}</td>
<td data-label="State">${u.disabledAt ? html`<span class="tag tag-warn">Disabled</span>` : 'Active'}</td>
<td data-label="Keys">${devices}</td>
<td data-label="Created">${utc(u.createdAt)}</td>
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
}: AdminUsersPageOptions & SiteOptions): string {
  const body = html`
<form class="admin-search" method="get" action="/-/admin" role="search">
<label for="q" class="visually-hidden">Search users by name</label>
<input id="q" name="q" type="search" value="${q}" maxlength="64" placeholder="Search users by name" autocomplete="off" autocapitalize="none" spellcheck="false">
<button type="submit" class="button button-secondary button-inline">Search</button>
</form>
${
  users.length
    ? html`<div class="table-scroll"><table id="user-list" class="admin-table">
<thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Keys</th><th scope="col">Created</th></tr></thead>
<tbody>${users.map(userRow)}</tbody>
</table></div>`
    : html`<p id="user-list-empty" class="hint">${q ? `No user's name contains “${q}”.` : 'No users yet.'}</p>`
}
<nav class="pager" aria-label="Pages">${previousHref && html`<a href="${previousHref}" rel="prev">Previous page</a>`}${nextHref && html`<a href="${nextHref}" rel="next">Next page</a>`}</nav>
${pendingInvites({ invites, more: moreInvites })}
<section aria-labelledby="invite-heading">
<h2 id="invite-heading">Invite someone</h2>
${inviteForm({ defaultTtl, email: gogsEmail, mail: mailEmail })}
</section>
<section aria-labelledby="emergency-heading">
<h2 id="emergency-heading">Emergency</h2>
<p>If keys or sessions may be in the wrong hands, sign everyone out at once. Everyone but you must sign in again with their keys; nobody is disabled and no key is revoked.</p>
<button type="button" class="button button-danger-outline" data-action="end-all-sessions">Sign everyone out</button>
</section>
`;
  return adminLayout({ title: 'Administration', section: 'users', body, site });
}

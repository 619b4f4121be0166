/** Pieces shared by the admin pages: the frame, times in UTC, the invite form and the pending invites. */
import { html, type Raw } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** `YYYY-MM-DD HH:MM UTC`: unambiguous whatever the reader's locale. */
export function utc(d: Date): Raw {
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

type Section = 'users' | 'audit' | 'policy';

/** An admin page: the wide frame, the admin navigation and the admin script. */
export function adminLayout(opts: { title: string; section: Section; body: Raw; data?: Record<string, string> } & SiteOptions): string {
  const link = (section: Section, href: string, label: string) =>
    html`<a href="${href}"${section === opts.section ? html` aria-current="page"` : ''}>${label}</a>`;
  const body = html`<div class="admin">
<nav class="admin-nav" aria-label="Admin">${link('users', '/-/admin', 'Users')}${link('audit', '/-/admin/audit', 'Audit log')}${link('policy', '/-/admin/policy', 'Policy')}<a href="/-/account">Your account</a></nav>
${opts.body}
</div>`;
  return layout({ title: opts.title, body, script: 'admin', data: opts.data, site: opts.site });
}

/**
 * The invite form. On a user's page it is for that user (a recovery link that adds a key and
 * keeps the others); on the list it is for anyone. The link appears in #invite-result once, from
 * the API's answer, and is never rendered by the server.
 */
export function inviteForm(opts: { username?: string; defaultTtl: string; email?: boolean; mail?: boolean }): Raw {
  const recovery = opts.username !== undefined;
  return html`<form id="invite-form" class="stack" novalidate>
${
  recovery
    ? html`<input type="hidden" id="invite-username" name="username" value="${opts.username}">`
    : html`<label for="invite-username">Username</label>
<input id="invite-username" name="username" type="text" required maxlength="35" autocomplete="off" autocapitalize="none" spellcheck="false">
<p class="hint">Their Gogs username. For someone already enrolled this makes a recovery link: it adds a key and keeps their others.</p>
${
  opts.mail
    ? html`<label for="invite-email">Email (optional)</label>
<input id="invite-email" name="email" type="email" maxlength="254" autocomplete="off" spellcheck="false">
<p class="hint">Keygate emails them here when a key of theirs is added, removed or revoked, a recovery link is issued for them, or they sign in from a new browser.${
        opts.email ? ' It also creates a missing Gogs account with this email and a random password nobody sees.' : ''
      }</p>`
    : opts.email
      ? html`<label for="invite-email">Email (to create their Gogs account if it does not exist yet)</label>
<input id="invite-email" name="email" type="email" maxlength="254" autocomplete="off" spellcheck="false">
<p class="hint">Keygate creates missing Gogs accounts with this email and a random password nobody sees.</p>`
      : ''
}
<label class="checkbox"><input id="invite-admin" name="admin" type="checkbox"> Make them an administrator</label>`
}
<label for="invite-ttl">Valid for</label>
<select id="invite-ttl" name="ttl">
<option value="">${opts.defaultTtl} (default)</option>
<option value="1h">1 hour</option>
<option value="7d">7 days</option>
<option value="30d">30 days</option>
</select>
<button type="submit" id="invite-button" class="button button-primary">${recovery ? 'Create a recovery link' : 'Create an invite link'}</button>
</form>
${linkResult('invite', 'Invite link')}`;
}

/**
 * Where a new link is shown once, with a copy button: #<name>-result, #<name>-summary,
 * #<name>-url and #copy-<name>. Filled by the script from the API's answer, never by the server.
 */
function linkResult(name: string, label: string): Raw {
  return html`<div id="${name}-result" class="invite-result" hidden>
<p id="${name}-summary"></p>
<label for="${name}-url">${label}</label>
<input id="${name}-url" type="text" readonly autocomplete="off" spellcheck="false">
<button type="button" id="copy-${name}" class="button button-secondary">Copy link</button>
<p class="hint">This link is shown only this once: Keygate keeps only a fingerprint of it. Send it to the person over a channel you trust.</p>
</div>`;
}

/** A pending invite as the admin pages show it (never its link: Keygate does not have it). */
export interface PendingInviteView {
  id: string;
  username: string;
  grantsAdmin: boolean;
  /** Redeeming it adds a key to an existing account. */
  recovery: boolean;
  /** 'user:<name>', 'cli' or 'system'. */
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Who made an invite, in words. */
export function inviteCreator(createdBy: string): string {
  if (createdBy.startsWith('user:')) return createdBy.slice('user:'.length);
  if (createdBy === 'cli') return 'the CLI';
  if (createdBy === 'system') return 'Keygate (first start)';
  return createdBy;
}

function pendingRow(i: PendingInviteView) {
  return html`<tr data-invite-id="${i.id}" data-username="${i.username}">
<td data-label="For"><a href="/-/admin/users/${encodeURIComponent(i.username)}">${i.username}</a></td>
<td data-label="Kind">${i.recovery ? 'Recovery link' : 'Invite'}${i.grantsAdmin && html` <span class="tag">Admin</span>`}</td>
<td data-label="Made by" data-field="created-by">${inviteCreator(i.createdBy)}</td>
<td data-label="Made" data-field="created-at">${utc(i.createdAt)}</td>
<td data-label="Expires" data-field="expires-at">${utc(i.expiresAt)}</td>
<td><button type="button" class="button button-secondary button-inline" data-action="reissue-invite" data-invite-id="${i.id}">Re-issue</button>
<button type="button" class="button button-secondary button-inline admin-danger" data-action="revoke-invite" data-invite-id="${i.id}">Revoke</button></td>
</tr>`;
}

/**
 * The pending invites (unused, unexpired): who they are for, who made them and when, when they
 * expire; each can be revoked, or re-issued (a new link shown once in #reissue-result).
 * `more`: the list was cut; the CLI lists every one.
 */
export function pendingInvites(opts: { invites: PendingInviteView[]; more?: boolean; heading?: string }): Raw {
  return html`<section aria-labelledby="pending-heading">
<h2 id="pending-heading">${opts.heading ?? 'Pending invites'}</h2>
${
  opts.invites.length > 0 &&
  html`<div class="table-scroll"><table id="pending-invites" class="admin-table">
<thead><tr><th scope="col">For</th><th scope="col">Kind</th><th scope="col">Made by</th><th scope="col">Made</th><th scope="col">Expires</th><th scope="col">Actions</th></tr></thead>
<tbody>${opts.invites.map(pendingRow)}</tbody>
</table></div>`
}
<p id="pending-invites-empty" class="hint"${opts.invites.length ? html` hidden` : ''}>No pending invites.</p>
${opts.more && html`<p class="hint">Only the newest ${opts.invites.length} are shown here; <code>npm run cli -- invites</code> lists every one.</p>`}
${linkResult('reissue', 'New invite link')}
</section>`;
}

/** Pieces shared by the admin pages: the frame, times in UTC, the invite form and the pending invites. */
import { strings, type Catalogue, type Lang } from '../i18n/index.js';
import { html, rich, type Raw } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** `YYYY-MM-DD HH:MM UTC`: unambiguous whatever the reader's locale. */
export function utc(d: Date): Raw {
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/** A duration in whole days, hours, minutes or seconds (the largest that divides it), in words. */
export function durationText(ms: number, lang?: Lang): string {
  const d = strings(lang).durations;
  const s = Math.round(ms / 1000);
  if (s % 86400 === 0) return d.days(s / 86400);
  if (s % 3600 === 0) return d.hours(s / 3600);
  if (s % 60 === 0) return d.minutes(s / 60);
  return d.seconds(s);
}

type Section = 'users' | 'audit' | 'policy';

/** An admin page: the wide frame, the admin navigation and the admin script. */
export function adminLayout(opts: { title: string; section: Section; body: Raw; data?: Record<string, string> } & SiteOptions): string {
  const t = strings(opts.lang).admin;
  const link = (section: Section, href: string, label: string) =>
    html`<a href="${href}"${section === opts.section ? html` aria-current="page"` : ''}>${label}</a>`;
  const body = html`<div class="admin">
<nav class="admin-nav" aria-label="${t.nav}">${link('users', '/-/admin', t.users)}${link('audit', '/-/admin/audit', t.auditLog)}${link('policy', '/-/admin/policy', t.policy)}<a href="/-/account">${t.yourAccount}</a></nav>
${opts.body}
</div>`;
  return layout({ title: opts.title, body, script: 'admin', data: opts.data, site: opts.site, lang: opts.lang });
}

/**
 * The invite form. On a user's page it is for that user (a recovery link that adds a key and
 * keeps the others); on the list it is for anyone. The link appears in #invite-result once, from
 * the API's answer, and is never rendered by the server.
 */
export function inviteForm(opts: { username?: string; defaultTtl: string; email?: boolean; mail?: boolean; lang?: Lang }): Raw {
  const recovery = opts.username !== undefined;
  const t = strings(opts.lang).admin;
  return html`<form id="invite-form" class="stack" novalidate>
${
  recovery
    ? html`<input type="hidden" id="invite-username" name="username" value="${opts.username}">`
    : html`<label for="invite-username">${t.username}</label>
<input id="invite-username" name="username" type="text" required maxlength="35" autocomplete="off" autocapitalize="none" spellcheck="false">
<p class="hint">${t.usernameHint}</p>
${
  opts.mail
    ? html`<label for="invite-email">${t.emailOptional}</label>
<input id="invite-email" name="email" type="email" maxlength="254" autocomplete="off" spellcheck="false">
<p class="hint">${opts.email ? t.emailMailHintGogs : t.emailMailHint}</p>`
    : opts.email
      ? html`<label for="invite-email">${t.email}</label>
<input id="invite-email" name="email" type="email" maxlength="254" autocomplete="off" spellcheck="false">
<p class="hint">${t.emailHint}</p>`
      : ''
}
<label class="checkbox"><input id="invite-admin" name="admin" type="checkbox"> ${t.makeAdmin}</label>`
}
<label for="invite-ttl">${t.validFor}</label>
<select id="invite-ttl" name="ttl">
<option value="">${t.defaultTtl(opts.defaultTtl)}</option>
<option value="1h">${t.oneHour}</option>
<option value="7d">${t.sevenDays}</option>
<option value="30d">${t.thirtyDays}</option>
</select>
<button type="submit" id="invite-button" class="button button-primary">${recovery ? t.createRecoveryLink : t.createInviteLink}</button>
</form>
${linkResult('invite', t.inviteLink, t)}`;
}

/**
 * Where a new link is shown once, with a copy button: #<name>-result, #<name>-summary,
 * #<name>-url and #copy-<name>. Filled by the script from the API's answer, never by the server.
 */
function linkResult(name: string, label: string, t: Catalogue['admin']): Raw {
  return html`<div id="${name}-result" class="invite-result" hidden>
<p id="${name}-summary"></p>
<label for="${name}-url">${label}</label>
<input id="${name}-url" type="text" readonly autocomplete="off" spellcheck="false">
<button type="button" id="copy-${name}" class="button button-secondary">${t.copyLink}</button>
<p class="hint">${t.shownOnce}</p>
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
export function inviteCreator(createdBy: string, lang?: Lang): string {
  if (createdBy.startsWith('user:')) return createdBy.slice('user:'.length);
  if (createdBy === 'cli') return strings(lang).admin.byCli;
  if (createdBy === 'system') return strings(lang).admin.byFirstStart;
  return createdBy;
}

function pendingRow(t: Catalogue['admin'], lang?: Lang) {
  return (i: PendingInviteView) => html`<tr data-invite-id="${i.id}" data-username="${i.username}">
<td data-label="${t.colFor}"><a href="/-/admin/users/${encodeURIComponent(i.username)}">${i.username}</a></td>
<td data-label="${t.colKind}">${i.recovery ? t.kindRecovery : t.kindInvite}${i.grantsAdmin && html` <span class="tag">${t.adminTag}</span>`}</td>
<td data-label="${t.colMadeBy}" data-field="created-by">${inviteCreator(i.createdBy, lang)}</td>
<td data-label="${t.colMade}" data-field="created-at">${utc(i.createdAt)}</td>
<td data-label="${t.colExpires}" data-field="expires-at">${utc(i.expiresAt)}</td>
<td><button type="button" class="button button-secondary button-inline" data-action="reissue-invite" data-invite-id="${i.id}">${t.reissue}</button>
<button type="button" class="button button-secondary button-inline admin-danger" data-action="revoke-invite" data-invite-id="${i.id}">${t.revoke}</button></td>
</tr>`;
}

/**
 * The pending invites (unused, unexpired): who they are for, who made them and when, when they
 * expire; each can be revoked, or re-issued (a new link shown once in #reissue-result).
 * `more`: the list was cut; the CLI lists every one.
 */
export function pendingInvites(opts: { invites: PendingInviteView[]; more?: boolean; lang?: Lang }): Raw {
  const t = strings(opts.lang).admin;
  return html`<section aria-labelledby="pending-heading">
<h2 id="pending-heading">${t.pendingHeading}</h2>
${
  opts.invites.length > 0 &&
  html`<div class="table-scroll"><table id="pending-invites" class="admin-table">
<thead><tr><th scope="col">${t.colFor}</th><th scope="col">${t.colKind}</th><th scope="col">${t.colMadeBy}</th><th scope="col">${t.colMade}</th><th scope="col">${t.colExpires}</th><th scope="col">${t.colActions}</th></tr></thead>
<tbody>${opts.invites.map(pendingRow(t, opts.lang))}</tbody>
</table></div>`
}
<p id="pending-invites-empty" class="hint"${opts.invites.length ? html` hidden` : ''}>${t.noPending}</p>
${opts.more && html`<p class="hint">${rich(t.onlyNewest, String(opts.invites.length), html`<code>npm run cli -- invites</code>`)}</p>`}
${linkResult('reissue', t.newInviteLink, t)}
</section>`;
}

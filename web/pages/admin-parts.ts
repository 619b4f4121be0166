/** Pieces shared by the admin pages: the frame, times in UTC, and the invite form. */
import { html, type Raw } from './html.js';
import { layout } from './layout.js';

/** `YYYY-MM-DD HH:MM UTC`: unambiguous whatever the reader's locale. */
export function utc(d: Date): Raw {
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

type Section = 'users' | 'audit' | 'policy';

/** An admin page: the wide frame, the admin navigation and the admin script. */
export function adminLayout(opts: { title: string; section: Section; body: Raw; data?: Record<string, string> }): string {
  const link = (section: Section, href: string, label: string) =>
    html`<a href="${href}"${section === opts.section ? html` aria-current="page"` : ''}>${label}</a>`;
  const body = html`<div class="admin">
<nav class="admin-nav" aria-label="Admin">${link('users', '/-/admin', 'Users')}${link('audit', '/-/admin/audit', 'Audit log')}${link('policy', '/-/admin/policy', 'Policy')}<a href="/-/account">Your account</a></nav>
${opts.body}
</div>`;
  return layout({ title: opts.title, body, script: 'admin', data: opts.data });
}

/**
 * The invite form. On a user's page it is for that user (a recovery link that adds a key and
 * keeps the others); on the list it is for anyone. The link appears in #invite-result once, from
 * the API's answer, and is never rendered by the server.
 */
export function inviteForm(opts: { username?: string; defaultTtl: string; email?: boolean }): Raw {
  const recovery = opts.username !== undefined;
  return html`<form id="invite-form" class="stack" novalidate>
${
  recovery
    ? html`<input type="hidden" id="invite-username" name="username" value="${opts.username}">`
    : html`<label for="invite-username">Username</label>
<input id="invite-username" name="username" type="text" required maxlength="35" autocomplete="off" autocapitalize="none" spellcheck="false">
<p class="hint">Their Gogs username. For someone already enrolled this makes a recovery link: it adds a key and keeps their others.</p>
${
  opts.email
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
<div id="invite-result" class="invite-result" hidden>
<p id="invite-summary"></p>
<label for="invite-url">Invite link</label>
<input id="invite-url" type="text" readonly autocomplete="off" spellcheck="false">
<button type="button" id="copy-invite" class="button button-secondary">Copy link</button>
<p class="hint">This link is shown only this once: Keygate keeps only a fingerprint of it. Send it to the person over a channel you trust.</p>
</div>`;
}

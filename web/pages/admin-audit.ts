import { adminLayout, utc } from './admin-parts.js';
import { html } from './html.js';

/** The filters as typed, echoed back into the form and the paging links. */
export interface AuditFilters {
  user: string;
  event: string;
  from: string;
  to: string;
}

/** One audit row as shown. */
export interface AuditEntryView {
  id: string;
  at: Date;
  actor: string;
  subject: string | null;
  credential: { credentialId: string; nickname: string } | null;
  event: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Options for {@link adminAuditPage}. */
export interface AdminAuditPageOptions {
  filters: AuditFilters;
  events: readonly string[];
  entries: AuditEntryView[];
  /** The next page back in time (before=<last id>), if there is one. */
  olderHref: string | null;
  /** The first page with the same filters, when this is not it. */
  newestHref: string | null;
}

const dash = (v: string | null) => v ?? '–';

function entryRow(e: AuditEntryView) {
  return html`<tr data-audit-id="${e.id}" data-event="${e.event}" class="${e.outcome === 'failure' ? 'audit-failure' : ''}">
<td>${utc(e.at)}</td>
<td>${e.actor}</td>
<td>${e.subject ? html`<a href="/-/admin/users/${encodeURIComponent(e.subject)}">${e.subject}</a>` : '–'}</td>
<td class="audit-credential">${e.credential ? html`${e.credential.nickname && html`${e.credential.nickname}<br>`}<code>${e.credential.credentialId}</code>` : '–'}</td>
<td>${e.event}</td>
<td>${e.outcome}</td>
<td>${dash(e.reason)}</td>
<td>${dash(e.ip)}</td>
<td class="audit-ua">${dash(e.userAgent)}</td>
<td><code>${dash(e.requestId)}</code></td>
</tr>`;
}

/** The audit log (/-/admin/audit), newest first. Plain GET forms and links: no script needed. */
export function adminAuditPage({ filters, events, entries, olderHref, newestHref }: AdminAuditPageOptions): string {
  const body = html`
<form id="audit-filters" class="audit-filters" method="get" action="/-/admin/audit">
<div><label for="user">User</label>
<input id="user" name="user" type="text" value="${filters.user}" maxlength="64" autocomplete="off" autocapitalize="none" spellcheck="false"></div>
<div><label for="event">Event</label>
<select id="event" name="event"><option value="">All events</option>${events.map((e) => html`<option value="${e}"${e === filters.event ? html` selected` : ''}>${e}</option>`)}</select></div>
<div><label for="from">From (UTC)</label>
<input id="from" name="from" type="datetime-local" value="${filters.from}"></div>
<div><label for="to">Until (UTC)</label>
<input id="to" name="to" type="datetime-local" value="${filters.to}"></div>
<div class="audit-filter-actions"><button type="submit" class="button button-primary button-inline">Filter</button>
<a href="/-/admin/audit">Clear</a></div>
</form>
${
  entries.length
    ? html`<div class="table-scroll"><table id="audit-log" class="admin-table audit-table">
<thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Credential</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Reason</th><th scope="col">IP</th><th scope="col">User agent</th><th scope="col">Request id</th></tr></thead>
<tbody>${entries.map(entryRow)}</tbody>
</table></div>`
    : html`<p id="audit-empty" class="hint">No audit entries match these filters.</p>`
}
<nav class="pager" aria-label="Pages">${newestHref && html`<a id="audit-newest" href="${newestHref}">Newest</a>`}${olderHref && html`<a id="audit-older" href="${olderHref}" rel="next">Older</a>`}</nav>
`;
  return adminLayout({ title: 'Audit log', section: 'audit', body });
}

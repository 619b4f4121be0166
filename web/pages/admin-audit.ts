import { adminLayout, utc } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { html, type Interpolation } from './html.js';

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
  /** Who did it, as people say it: a username, "Command line" or "Keygate". */
  actor: string;
  /** The username when the actor is a person (linked to their page). */
  actorUser: string | null;
  subject: string | null;
  credential: { credentialId: string; nickname: string } | null;
  /** The event's stored name, and what the page calls it. */
  event: string;
  label: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  ip: string | null;
  /** "Chrome 126 on Linux", from the user agent. */
  browser: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** The event's own details (key=value), shown on demand. */
  details: Array<[string, string]>;
}

/** Options for {@link adminAuditPage}. */
export interface AdminAuditPageOptions extends SiteOptions {
  filters: AuditFilters;
  /** The event filter's choices: stored name and label. */
  events: ReadonlyArray<readonly [string, string]>;
  /** The export links for these filters. */
  exportHref: { csv: string; jsonl: string };
  entries: AuditEntryView[];
  /** The next page back in time (before=<last id>), if there is one. */
  olderHref: string | null;
  /** The first page with the same filters, when this is not it. */
  newestHref: string | null;
}

const userLink = (name: string) => html`<a href="/-/admin/users/${encodeURIComponent(name)}">${name}</a>`;

/** Five columns a person reads at a glance; the rest (raw names, full user agent, ids) on demand. */
function entryRow(e: AuditEntryView) {
  const more: Array<[string, Interpolation]> = [
    ['Event', html`<code>${e.event}</code>`],
    ['Outcome', e.outcome],
    ...(e.reason ? [['Reason', e.reason] as [string, Interpolation]] : []),
    ...(e.credential
      ? [['Key', html`${e.credential.nickname && html`${e.credential.nickname} `}<code>${e.credential.credentialId}</code>`] as [string, Interpolation]]
      : []),
    ...(e.userAgent ? [['User agent', e.userAgent] as [string, Interpolation]] : []),
    ...(e.requestId ? [['Request id', html`<code>${e.requestId}</code>`] as [string, Interpolation]] : []),
    ...e.details.map(([k, v]) => [k, v] as [string, Interpolation]),
  ];
  return html`<tr data-audit-id="${e.id}" data-event="${e.event}" class="${e.outcome === 'failure' ? 'audit-failure' : ''}">
<td data-label="Time">${utc(e.at)}</td>
<td data-label="By">${e.actorUser ? userLink(e.actorUser) : e.actor}</td>
<td data-label="Person">${e.subject ? userLink(e.subject) : '–'}</td>
<td data-label="What" class="audit-what">${e.label}${e.outcome === 'failure' && html` <strong class="audit-failed">failed</strong>`}${e.reason && html`<br><span class="audit-reason">${e.reason}</span>`}</td>
<td data-label="From">${e.ip ?? '–'}${e.browser && html`<br><span class="audit-browser">${e.browser}</span>`}</td>
<td data-label="Details"><details><summary>More<span class="visually-hidden"> about entry ${e.id}</span></summary><dl class="audit-details">${more.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></details></td>
</tr>`;
}

/** The audit log (/-/admin/audit), newest first. Plain GET forms and links: no script needed. */
export function adminAuditPage({ filters, events, exportHref, entries, olderHref, newestHref, site }: AdminAuditPageOptions): string {
  const body = html`
<form id="audit-filters" class="audit-filters" method="get" action="/-/admin/audit">
<div><label for="user">User</label>
<input id="user" name="user" type="text" value="${filters.user}" maxlength="64" autocomplete="off" autocapitalize="none" spellcheck="false"></div>
<div><label for="event">Event</label>
<select id="event" name="event"><option value="">All events</option>${events.map(([e, label]) => html`<option value="${e}"${e === filters.event ? html` selected` : ''}>${label}</option>`)}</select></div>
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
<thead><tr><th scope="col">Time</th><th scope="col">By</th><th scope="col">Person</th><th scope="col">What</th><th scope="col">From</th><th scope="col">Details</th></tr></thead>
<tbody>${entries.map(entryRow)}</tbody>
</table></div>`
    : html`<p id="audit-empty" class="hint">No audit entries match these filters.</p>`
}
<nav class="pager" aria-label="Pages">${newestHref && html`<a id="audit-newest" href="${newestHref}">Newest</a>`}${olderHref && html`<a id="audit-older" href="${olderHref}" rel="next">Older</a>`}</nav>
<p class="hint">Export every entry these filters match: <a id="audit-export-csv" href="${exportHref.csv}" download>CSV</a> · <a id="audit-export-jsonl" href="${exportHref.jsonl}" download>JSON lines</a></p>
`;
  return adminLayout({ title: 'Audit log', section: 'audit', body, site });
}

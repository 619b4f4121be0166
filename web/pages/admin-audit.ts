import { adminLayout, utc } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { strings, type Catalogue } from '../i18n/index.js';
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
const entryRow = (t: Catalogue['admin']) => (e: AuditEntryView) => {
  const more: Array<[string, Interpolation]> = [
    [t.detailEvent, html`<code>${e.event}</code>`],
    [t.detailOutcome, e.outcome],
    ...(e.reason ? [[t.detailReason, e.reason] as [string, Interpolation]] : []),
    ...(e.credential
      ? [[t.detailKey, html`${e.credential.nickname && html`${e.credential.nickname} `}<code>${e.credential.credentialId}</code>`] as [string, Interpolation]]
      : []),
    ...(e.userAgent ? [[t.detailUserAgent, e.userAgent] as [string, Interpolation]] : []),
    ...(e.requestId ? [[t.detailRequestId, html`<code>${e.requestId}</code>`] as [string, Interpolation]] : []),
    ...e.details.map(([k, v]) => [k, v] as [string, Interpolation]),
  ];
  return html`<tr data-audit-id="${e.id}" data-event="${e.event}" class="${e.outcome === 'failure' ? 'audit-failure' : ''}">
<td data-label="${t.colTime}">${utc(e.at)}</td>
<td data-label="${t.colBy}">${e.actorUser ? userLink(e.actorUser) : e.actor}</td>
<td data-label="${t.colPerson}">${e.subject ? userLink(e.subject) : '–'}</td>
<td data-label="${t.colWhat}" class="audit-what">${e.label}${e.outcome === 'failure' && html` <strong class="audit-failed">${t.failed}</strong>`}${e.reason && html`<br><span class="audit-reason">${e.reason}</span>`}</td>
<td data-label="${t.colFrom}">${e.ip ?? '–'}${e.browser && html`<br><span class="audit-browser">${e.browser}</span>`}</td>
<td data-label="${t.colDetails}"><details><summary>${t.more}<span class="visually-hidden">${t.aboutEntry(e.id)}</span></summary><dl class="audit-details">${more.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></details></td>
</tr>`;
};

/** The audit log (/-/admin/audit), newest first. Plain GET forms and links: no script needed. */
export function adminAuditPage({ filters, events, exportHref, entries, olderHref, newestHref, site, lang }: AdminAuditPageOptions): string {
  const t = strings(lang).admin;
  const body = html`
<form id="audit-filters" class="audit-filters" method="get" action="/-/admin/audit">
<div><label for="user">${t.auditUser}</label>
<input id="user" name="user" type="text" value="${filters.user}" maxlength="64" autocomplete="off" autocapitalize="none" spellcheck="false"></div>
<div><label for="event">${t.auditEvent}</label>
<select id="event" name="event"><option value="">${t.allEvents}</option>${events.map(([e, label]) => html`<option value="${e}"${e === filters.event ? html` selected` : ''}>${label}</option>`)}</select></div>
<div><label for="from">${t.auditFrom}</label>
<input id="from" name="from" type="datetime-local" value="${filters.from}"></div>
<div><label for="to">${t.auditUntil}</label>
<input id="to" name="to" type="datetime-local" value="${filters.to}"></div>
<div class="audit-filter-actions"><button type="submit" class="button button-primary button-inline">${t.filter}</button>
<a href="/-/admin/audit">${t.clear}</a></div>
</form>
${
  entries.length
    ? html`<div class="table-scroll"><table id="audit-log" class="admin-table audit-table">
<thead><tr><th scope="col">${t.colTime}</th><th scope="col">${t.colBy}</th><th scope="col">${t.colPerson}</th><th scope="col">${t.colWhat}</th><th scope="col">${t.colFrom}</th><th scope="col">${t.colDetails}</th></tr></thead>
<tbody>${entries.map(entryRow(t))}</tbody>
</table></div>`
    : html`<p id="audit-empty" class="hint">${t.noEntries}</p>`
}
<nav class="pager" aria-label="${t.pages}">${newestHref && html`<a id="audit-newest" href="${newestHref}">${t.newest}</a>`}${olderHref && html`<a id="audit-older" href="${olderHref}" rel="next">${t.older}</a>`}</nav>
<p class="hint">${t.export} <a id="audit-export-csv" href="${exportHref.csv}" download>CSV</a> · <a id="audit-export-jsonl" href="${exportHref.jsonl}" download>${t.jsonLines}</a></p>
`;
  return adminLayout({ title: t.auditLog, section: 'audit', body, site, lang });
}

/** /-/admin/audit: the audit log with filters (user, event, time range) and keyset paging. */
import { Router } from 'express';
import { z } from 'zod';
import { adminAuditPage, type AuditEntryView, type AuditFilters } from '../../web/pages/admin-audit.js';
import type { RouterDeps } from '../deps.js';
import { queryAudit, type AuditRow } from '../audit/query.js';
import type { Queryable } from '../db/pool.js';
import { badRequest } from '../errors.js';
import { requireSignIn } from '../session/require-sign-in.js';
import { AUDIT_EVENTS, auditEventLabel } from '../audit/events.js';
import { describeBrowser, displayIp } from '../account/view.js';
import { exportAudit, type ExportFormat } from './audit-export.js';
import { parseFilterTime, parseQuery } from './query.js';
import { say } from '../http/validate.js';
import { requireAdmin } from './require-admin.js';
import { pageOf } from '../http/site.js';
import { strings, type Lang } from '../../web/i18n/index.js';

export const AUDIT_PAGE_SIZE = 50;

const text = (max: number) =>
  z
    .string({ error: say('giveOnce') })
    .trim()
    .max(max)
    .optional();

const auditQuery = z.object({
  user: text(64),
  event: z.union([z.literal(''), z.enum(AUDIT_EVENTS)], { error: say('notAnEvent') }).optional(),
  from: text(40),
  to: text(40),
  before: z
    .string({ error: say('giveOnce') })
    .regex(/^[1-9]\d{0,17}$/, say('auditEntryNumber'))
    .optional(),
});

const exportQuery = auditQuery.omit({ before: true }).extend({
  format: z.enum(['csv', 'jsonl'], { error: say('csvOrJsonl') }),
});

/** Audit rows name credentials by row id; people recognise them by nickname and credential id. */
async function credentialLabels(db: Queryable, rows: AuditRow[]): Promise<Map<string, { credentialId: string; nickname: string }>> {
  const ids = [...new Set(rows.map((r) => r.credentialId).filter((id): id is string => id !== null))];
  if (!ids.length) return new Map();
  const { rows: found } = await db.query<{ id: string; credential_id: Buffer; nickname: string }>(
    'SELECT id, credential_id, nickname FROM credentials WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(found.map((c) => [String(c.id), { credentialId: c.credential_id.toString('base64url'), nickname: c.nickname }]));
}

function asFormTime(at: Date | undefined): string {
  if (!at) return '';
  const iso = at.toISOString();
  return iso.endsWith(':00.000Z') ? iso.slice(0, 16) : iso.slice(0, 23);
}

/** The page's own address with these filters (and optionally a page), for the paging links; or its export's. */
export function auditHref(filters: AuditFilters, before?: string, format?: ExportFormat): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters) as Array<[string, string | undefined]>) if (value) params.set(key, value);
  if (before) params.set('before', before);
  if (format) params.set('format', format);
  const query = params.toString();
  return `/-/admin/audit${format ? '/export' : ''}${query ? `?${query}` : ''}`;
}

/** Who did it, as the page says it. */
function actorView(actor: string, lang: Lang): { actor: string; actorUser: string | null } {
  if (actor.startsWith('user:')) return { actor: actor.slice(5), actorUser: actor.slice(5) };
  if (actor === 'cli') return { actor: strings(lang).admin.actorCli, actorUser: null };
  if (actor === 'system') return { actor: 'Keygate', actorUser: null };
  return { actor, actorUser: null };
}

function detailText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function entryView(r: AuditRow, labels: Map<string, { credentialId: string; nickname: string }>, lang: Lang): AuditEntryView {
  return {
    id: r.id,
    at: r.at,
    ...actorView(r.actor, lang),
    subject: r.subjectUsername,
    credential: r.credentialId ? (labels.get(r.credentialId) ?? { credentialId: `#${r.credentialId}`, nickname: '' }) : null,
    event: r.event,
    label: auditEventLabel(r.event, lang),
    outcome: r.outcome,
    reason: r.reason,
    ip: displayIp(r.ip),
    browser: describeBrowser(r.userAgent, lang),
    userAgent: r.userAgent,
    requestId: r.requestId,
    details: Object.entries(r.details ?? {}).map(([k, v]) => [k, detailText(v)]),
  };
}

export function adminAuditRouter(deps: RouterDeps): Router {
  const { db } = deps;
  const router = Router();

  /** The filters from the query, checked; the same for the page and its export. */
  function filtersOf(q: z.infer<typeof auditQuery>) {
    const since = parseFilterTime(q.from);
    const until = parseFilterTime(q.to);
    if (since === null) throw badRequest((t) => t.adminErrors.fromNotATime, 'invalid_query');
    if (until === null) throw badRequest((t) => t.adminErrors.untilNotATime, 'invalid_query');
    return { username: q.user || undefined, event: q.event || undefined, since, until };
  }

  router.get('/-/admin/audit/export', requireSignIn(deps), requireAdmin(deps), async (req, res) => {
    const q = parseQuery(exportQuery, req);
    await exportAudit(db, res, filtersOf(q), q.format);
  });

  router.get('/-/admin/audit', requireSignIn(deps), requireAdmin(deps), async (req, res) => {
    const q = parseQuery(auditQuery, req);
    const f = filtersOf(q);
    // Times are echoed as the form's datetime-local fields show them (UTC, no zone).
    const filters: AuditFilters = { user: q.user ?? '', event: q.event ?? '', from: asFormTime(f.since), to: asFormTime(f.until) };
    // One more than a page: whether an older page exists, without a count.
    const found = await queryAudit(db, { ...f, beforeId: q.before, limit: AUDIT_PAGE_SIZE + 1 });
    const rows = found.slice(0, AUDIT_PAGE_SIZE);
    const labels = await credentialLabels(db, rows);
    const page = pageOf(deps.config, req, res);
    const entries: AuditEntryView[] = rows.map((r) => entryView(r, labels, page.lang));
    const last = rows.at(-1);
    res.type('html').send(
      adminAuditPage({
        ...page,
        filters,
        events: AUDIT_EVENTS.map((e) => [e, auditEventLabel(e, page.lang)] as const),
        exportHref: { csv: auditHref(filters, undefined, 'csv'), jsonl: auditHref(filters, undefined, 'jsonl') },
        entries,
        olderHref: found.length > AUDIT_PAGE_SIZE && last ? auditHref(filters, last.id) : null,
        newestHref: q.before ? auditHref(filters) : null,
      }),
    );
  });

  return router;
}

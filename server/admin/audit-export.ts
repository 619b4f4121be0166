/**
 * The audit log as a file (/-/admin/audit/export): every entry the page's filters match, newest
 * first, as CSV (for a spreadsheet) or JSON lines (for a log pipeline). Streamed in batches of a
 * thousand read by keyset, so a long log costs neither memory nor one long query. CSV cells that
 * a spreadsheet would run as a formula (user agents, nicknames and reasons come from browsers and
 * people) are prefixed with a quote by csv-stringify's escape_formulas.
 */
import type { Response } from 'express';
import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../db/pool.js';
import { queryAudit, type AuditFilter, type AuditRow } from '../audit/query.js';

export type ExportFormat = 'csv' | 'jsonl';

const BATCH = 1000;

const CSV_COLUMNS = [
  'id',
  'at',
  'actor',
  'subject_user_id',
  'subject_username',
  'credential_id',
  'event',
  'outcome',
  'reason',
  'ip',
  'user_agent',
  'request_id',
  'details',
];

function csvLine(r: AuditRow): string {
  const cells = [
    r.id,
    r.at.toISOString(),
    r.actor,
    r.subjectUserId,
    r.subjectUsername,
    r.credentialId,
    r.event,
    r.outcome,
    r.reason,
    r.ip,
    r.userAgent,
    r.requestId,
    JSON.stringify(r.details ?? {}),
  ];
  return stringify([cells.map((c) => c ?? '')], { escape_formulas: true, record_delimiter: 'windows' });
}

function jsonLine(r: AuditRow): string {
  return `${JSON.stringify({ ...r, at: r.at.toISOString() })}\n`;
}

/** Writes the matching entries to `res` as a download; stops early if the client goes away. */
export async function exportAudit(db: Queryable, res: Response, filter: Omit<AuditFilter, 'beforeId' | 'limit'>, format: ExportFormat): Promise<void> {
  const first = await queryAudit(db, { ...filter, limit: BATCH });
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  res.writeHead(200, {
    'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="keygate-audit-${stamp}.${format}"`,
    'cache-control': 'no-store',
  });
  const line = format === 'csv' ? csvLine : jsonLine;
  if (format === 'csv') res.write(stringify([CSV_COLUMNS], { record_delimiter: 'windows' }));
  try {
    for (let rows = first; rows.length > 0 && !res.destroyed;) {
      if (!res.write(rows.map(line).join(''))) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (rows.length < BATCH) break;
      rows = await queryAudit(db, { ...filter, beforeId: rows.at(-1)!.id, limit: BATCH });
    }
    res.end();
  } catch (err) {
    // The file has started: a cut download is all that is left to say.
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Reading the audit log in tests: rows as stored, with ids as text and the address as text. */
import type { TestKeygate } from './keygate.js';

export interface AuditRow {
  id: string;
  actor: string;
  subject_user_id: string | null;
  subject_username: string | null;
  credential_id: string | null;
  event: string;
  outcome: string;
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, any>;
}

/** A row with its time (left out of AuditRow, so that whole rows can be compared). */
export interface TimedAuditRow extends AuditRow {
  at: Date;
}

const COLUMNS = `id::text AS id, actor, subject_user_id::text AS subject_user_id, subject_username, credential_id::text AS credential_id,
                 event, outcome, reason, host(ip) AS ip, user_agent, request_id, details`;

async function select<R extends AuditRow>(kg: TestKeygate, columns: string, where: string, params: unknown[]): Promise<R[]> {
  const { rows } = await kg.db.query<R>(`SELECT ${columns} FROM audit_events WHERE ${where} ORDER BY audit_events.id`, params);
  return rows;
}

/** Audit rows matching `where` (SQL over audit_events, with $1… from `params`), oldest first. */
export function auditRowsWhere(kg: TestKeygate, where: string, params: unknown[]): Promise<AuditRow[]> {
  return select(kg, COLUMNS, where, params);
}

/** The newest audit row's id (0 when there is none): what `auditSince` counts from. */
export async function maxAuditId(kg: TestKeygate): Promise<number> {
  const { rows } = await kg.db.query<{ id: string | null }>('SELECT max(id) AS id FROM audit_events');
  return Number(rows[0].id ?? 0);
}

/** The audit rows written after row `since`, oldest first. */
export function auditSince(kg: TestKeygate, since: number): Promise<AuditRow[]> {
  return auditRowsWhere(kg, 'id > $1', [since]);
}

/** The audit rows written after row `since`, oldest first, with their times. */
export function timedAuditSince(kg: TestKeygate, since: number): Promise<TimedAuditRow[]> {
  return select(kg, `${COLUMNS}, at`, 'id > $1', [since]);
}

/** Reading the audit log: filters (user, event, time range) and keyset paging, newest first. */
import type { Queryable } from '../db/pool.js';

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  subjectUserId: string | null;
  subjectUsername: string | null;
  credentialId: string | null;
  event: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  /** Subject username, case-insensitive. */
  username?: string;
  event?: string;
  since?: Date;
  until?: Date;
  /** Keyset paging: only rows older than this id. */
  beforeId?: string;
  limit?: number;
}

/** An audit_events row as the query below reads it. */
interface AuditEventRow {
  id: string;
  at: Date;
  actor: string;
  subject_user_id: string | null;
  subject_username: string | null;
  credential_id: string | null;
  event: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export async function queryAudit(db: Queryable, f: AuditFilter): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (f.username) add('lower(subject_username) = lower(?)', f.username);
  if (f.event) add('event = ?', f.event);
  if (f.since) add('at >= ?', f.since);
  if (f.until) add('at < ?', f.until);
  if (f.beforeId) add('id < ?', f.beforeId);
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 1000);
  const { rows } = await db.query<AuditEventRow>(
    `SELECT id, at, actor, subject_user_id, subject_username, credential_id, event, outcome, reason, host(ip) AS ip, user_agent, request_id, details
       FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id DESC LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at,
    actor: r.actor,
    subjectUserId: r.subject_user_id === null ? null : String(r.subject_user_id),
    subjectUsername: r.subject_username,
    credentialId: r.credential_id === null ? null : String(r.credential_id),
    event: r.event,
    outcome: r.outcome,
    reason: r.reason,
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    details: r.details,
  }));
}

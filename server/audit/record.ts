/**
 * The append-only audit log. The application only ever INSERTs; triggers in the schema refuse
 * UPDATE, DELETE and TRUNCATE.
 */
import type { Queryable } from '../db/pool.js';
import type { AuditEventName } from './events.js';

export type AuditOutcome = 'success' | 'failure';

export interface AuditEvent {
  event: AuditEventName;
  outcome: AuditOutcome;
  /** 'user:<name>', 'cli', 'system' or 'anonymous'. */
  actor: string;
  subjectUserId?: string | null;
  subjectUsername?: string | null;
  credentialId?: string | null;
  reason?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** Where a request came from, for audit rows. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** The columns recordEvent writes, in the order of auditValues. */
export const AUDIT_COLUMNS = 'actor, subject_user_id, subject_username, credential_id, event, outcome, reason, ip, user_agent, request_id, details';

/**
 * An audit row's values as the parameters of another statement, from `$at` on, typed (a row written
 * by an INSERT … SELECT, where PostgreSQL cannot infer them): values from auditValues.
 */
export function auditParams(at: number): string {
  const types = ['text', 'bigint', 'text', 'bigint', 'text', 'text', 'text', 'inet', 'text', 'text', 'jsonb'];
  return types.map((type, i) => `$${at + i}::${type}`).join(', ');
}

/** The values of an audit row, in the order of AUDIT_COLUMNS (for statements that write one along with something else). */
export function auditValues(e: AuditEvent): unknown[] {
  return [
    e.actor,
    e.subjectUserId ?? null,
    e.subjectUsername ?? null,
    e.credentialId ?? null,
    e.event,
    e.outcome,
    e.reason ?? null,
    e.ip ?? null,
    e.userAgent?.slice(0, 512) ?? null,
    e.requestId ?? null,
    JSON.stringify(e.details ?? {}),
  ];
}

export async function recordEvent(db: Queryable, e: AuditEvent): Promise<void> {
  await db.query({
    // Prepared once per connection: every sign-in writes one.
    name: 'keygate-audit-insert',
    text: `INSERT INTO audit_events (${AUDIT_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    values: auditValues(e),
  });
}

/** Every audit event Keygate writes: the type of AuditEvent.event, and the admin page's event filter. */
import { strings, type Lang } from '../../web/i18n/index.js';

export const AUDIT_EVENTS = [
  'invite_created',
  'invite_redeemed',
  'invite_revoked',
  'credential_registered',
  'credential_renamed',
  'credential_removed',
  'credential_revoked',
  'sign_in',
  'sign_out',
  'user_disabled',
  'user_enabled',
  'sessions_ended',
  'all_sessions_ended',
  'step_up_prompted',
  'step_up_passed',
  'step_up_failed',
  'rate_limited',
  'gogs_user_created',
  'gogs_account_missing',
  'admin_flag_synced',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** What each event is called on the admin pages (the raw name stays in exports and the CLI). */
/** In English; each language's are in its catalogue (web/i18n, `auditEvents`). */
export const AUDIT_EVENT_LABELS: Record<AuditEventName, string> = strings('en').auditEvents;

/** The label of an event name as stored, in `lang` (an unknown one, from an older or newer version, as it is). */
export function auditEventLabel(event: string, lang?: Lang): string {
  return (strings(lang).auditEvents as Record<string, string>)[event] ?? event;
}

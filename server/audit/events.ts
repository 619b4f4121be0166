/** Every audit event Keygate writes: the type of AuditEvent.event, and the admin page's event filter. */
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
  'admin_flag_synced',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

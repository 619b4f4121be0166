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

/** What each event is called on the admin pages (the raw name stays in exports and the CLI). */
export const AUDIT_EVENT_LABELS: Record<AuditEventName, string> = {
  invite_created: 'Invite link created',
  invite_redeemed: 'Invite link used',
  invite_revoked: 'Invite link revoked',
  credential_registered: 'Key added',
  credential_renamed: 'Key renamed',
  credential_removed: 'Key removed',
  credential_revoked: 'Key revoked',
  sign_in: 'Sign-in',
  sign_out: 'Sign-out',
  user_disabled: 'Account disabled',
  user_enabled: 'Account enabled',
  sessions_ended: 'Sessions signed out',
  all_sessions_ended: 'Everyone signed out',
  step_up_prompted: 'Asked to confirm it’s them',
  step_up_passed: 'Confirmed it’s them',
  step_up_failed: 'Confirming it’s them failed',
  rate_limited: 'Rate limited',
  gogs_user_created: 'Gogs account created',
  admin_flag_synced: 'Gogs admin flag synced',
};

/** The label of an event name as stored (an unknown one, from an older or newer version, as it is). */
export function auditEventLabel(event: string): string {
  return (AUDIT_EVENT_LABELS as Record<string, string>)[event] ?? event;
}

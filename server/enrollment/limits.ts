/**
 * How long an invite may live, declared once: the default INVITE_TTL, an admin's choice on the
 * admin page and the CLI's --ttl are all held to these bounds.
 */
export const INVITE_TTL_MIN_MS = 1000;
export const INVITE_TTL_MAX_MS = 30 * 24 * 3600 * 1000;

/** The bounds in words, for the messages that refuse a lifetime outside them. */
export const INVITE_TTL_RULE = 'between 1 second and 30 days';

/** Whether `ms` is a lifetime an invite may have. */
export function isValidInviteTtl(ms: number): boolean {
  return Number.isFinite(ms) && ms >= INVITE_TTL_MIN_MS && ms <= INVITE_TTL_MAX_MS;
}

/**
 * Gogs routes that sign people in with a password or hand out a Gogs session (Gogs 0.14.3's
 * internal/cmd/web.go and the 0.15 line's web.go and webapi.go): none of them may ever reach Gogs.
 */
export const BLOCKED_ROUTES = [
  // 0.14.x
  '/user/login',
  '/user/login/two_factor',
  '/user/login/two_factor_recovery_code',
  '/user/sign_up',
  '/user/forget_password',
  '/user/reset_password',
  '/user/activate',
  '/user/activate_email',
  // 0.15 development line
  '/user/sign-in',
  '/user/mfa',
  '/user/sign-up',
  '/user/reset-password',
  '/user/forgot-password',
  '/activate/complete',
  '/api/web/user/sign-in',
  '/api/web/user/mfa',
  '/api/web/user/mfa/verify',
  '/api/web/user/mfa-recovery',
  '/api/web/user/sign-up',
  '/api/web/user/reset-password',
  '/api/web/user/forgot-password',
  '/api/web/user/activate',
] as const;

/** Gogs' own sign-out (POST): 0.14 and 0.15. */
export const GOGS_SIGN_OUT_ROUTES = ['/user/logout', '/api/web/user/sign-out'] as const;

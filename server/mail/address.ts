/** Email addresses, as Keygate accepts them from admins (invites) and from MAIL_FROM. */

/** Gogs' own email check is looser; this keeps obvious mistakes away from Gogs and from the SMTP server. */
const EMAIL_PATTERN = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function isValidEmail(email: string): boolean {
  return email.length <= 254 && EMAIL_PATTERN.test(email);
}

/** `someone@example.com` or `Name <someone@example.com>`, with no line break or other control character. */
export function isMailbox(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return false;
  const named = /^([^<>]*)<([^<>]+)>$/.exec(value);
  return isValidEmail((named ? named[2]! : value).trim());
}

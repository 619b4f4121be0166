/**
 * "A sign-in from a new browser": the person has never signed in, enrolled or added a key (audit
 * rows `sign_in` and `credential_registered`, success) from a browser of the same family: the
 * same browser on the same operating system, whatever their versions ("Chrome on Linux"). Read
 * from the audit log, which keeps every sign-in, only when a sign-in is to be told about by email
 * (SMTP_URL set), after the sign-in has answered: no cookie, and nothing on any other request.
 */
import Bowser from 'bowser';
import type { Queryable } from '../db/pool.js';

/** Browser and operating system names without versions; the raw User-Agent when bowser names neither. */
export function browserFamily(userAgent: string | null): string {
  if (!userAgent) return '';
  const { browser, os } = Bowser.getParser(userAgent).getResult();
  if (!browser.name && !os.name) return userAgent;
  return `${browser.name ?? '?'} on ${os.name ?? '?'}`;
}

/** Most distinct User-Agents of one person looked at: enough for anyone's history. */
const HISTORY_LIMIT = 1000;

/** Whether `userAgent` is of a family the person has not used before the request `requestId`. */
export async function isNewBrowser(db: Queryable, userId: string, userAgent: string | null, requestId: string | null): Promise<boolean> {
  const { rows } = await db.query<{ user_agent: string | null }>(
    `SELECT DISTINCT user_agent FROM audit_events
      WHERE subject_user_id = $1 AND outcome = 'success' AND event IN ('sign_in', 'credential_registered')
        AND request_id IS DISTINCT FROM $2
      LIMIT ${HISTORY_LIMIT}`,
    [userId, requestId],
  );
  const family = browserFamily(userAgent);
  return !rows.some((r) => browserFamily(r.user_agent) === family);
}

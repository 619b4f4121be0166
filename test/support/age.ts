/**
 * Time passing for one browser's session, without waiting for it: the timestamps Keygate judges
 * (in the session row) are moved back. Tests then run with timeouts long enough that nothing
 * else expires on a busy machine, instead of one-second timeouts and sleeps.
 */
import type { TestClient } from './client.js';
import type { BrowserContext } from 'playwright-core';
import { sidOf, sidOfCookie } from './instances.js';
import type { TestKeygate } from './keygate.js';

/** The browser's last user-verified assertion (sign-in or step-up) is now older than STEP_UP_MAX_AGE. */
export async function ageStepUp(kg: TestKeygate, browser: TestClient): Promise<void> {
  await ageStepUpOf(kg, sidOf(browser, kg));
}

/** The same for a Chromium context's session (test/e2e), read from its cookie jar. */
export async function ageStepUpInBrowser(kg: TestKeygate, context: BrowserContext): Promise<void> {
  const cookie = (await context.cookies(kg.url)).find((c) => c.name === kg.config.sessionCookieName);
  await ageStepUpOf(kg, sidOfCookie(cookie?.value));
}

async function ageStepUpOf(kg: TestKeygate, sid: string): Promise<void> {
  const { rowCount } = await kg.db.query(`UPDATE session SET sess = jsonb_set(sess, '{stepUpAt}', to_jsonb($2::bigint)) WHERE sid = $1`, [
    sid,
    Date.now() - kg.config.stepUpMaxAgeMs - 1000,
  ]);
  if (rowCount !== 1) throw new Error('no session to age');
}

/** The ceremony the browser started has expired (its CEREMONY_TIMEOUT has passed). */
export async function expireCeremony(kg: TestKeygate, browser: TestClient): Promise<void> {
  const { rowCount } = await kg.db.query(
    `UPDATE session SET sess = jsonb_set(sess, '{ceremony,expiresAt}', to_jsonb($2::bigint)) WHERE sid = $1 AND sess ? 'ceremony'`,
    [sidOf(browser, kg), Date.now() - 1000],
  );
  if (rowCount !== 1) throw new Error('no ceremony to expire');
}

/**
 * Several Keygate instances on one database, as behind a load balancer with no sticky sessions:
 * a second instance sharing the first one's database, upstream and public URL, and the helpers
 * that look at a session from both sides.
 */
import assert from 'node:assert/strict';
import { sessionKey } from '../../server/session/key.js';
import type { TestClient } from './client.js';
import { startKeygate, type StartOptions, type TestKeygate } from './keygate.js';
import { sleep } from './net.js';

/** Another instance of `a`: same database, same Gogs, same PUBLIC_URL (the balancer's). */
export function secondInstance(
  a: TestKeygate,
  env: Record<string, string> = {},
  opts: Omit<StartOptions, 'database' | 'upstream' | 'env'> = {},
): Promise<TestKeygate> {
  return startKeygate({ ...opts, database: a.database, upstream: a.gogs, env: { PUBLIC_URL: a.origin, ...env } });
}

/** The key of the session in a browser's signed session cookie: how its row, cache entry and NOTIFY name it. */
export function sidOf(client: TestClient, kg: TestKeygate): string {
  return sidOfCookie(client.cookies.get(kg.config.sessionCookieName));
}

/** The stored session key of a session cookie's value (`s:<id>.<signature>`, maybe percent-encoded). */
export function sidOfCookie(value: string | undefined): string {
  const raw = decodeURIComponent(value ?? '');
  assert.ok(raw.startsWith('s:'), 'a signed session cookie');
  return sessionKey(raw.slice(2, raw.lastIndexOf('.')));
}

/**
 * Waits until instance `kg` has heard through NOTIFY that the session ended (notifications arrive
 * at commit; bounded at two seconds) and returns how long that took.
 */
export async function forgotten(kg: TestKeygate, sid: string): Promise<number> {
  const started = performance.now();
  while (kg.gateway.sessionCache.get(sid) !== undefined && performance.now() - started < 2000) await sleep(1);
  assert.equal(kg.gateway.sessionCache.get(sid), undefined, 'the instance forgot the ended session');
  return performance.now() - started;
}

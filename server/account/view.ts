/**
 * A stored credential as a person reads it on /-/account: the model, the kind of authenticator,
 * and where it was last used ("Chrome 120 on macOS", from the stored User-Agent via `bowser`).
 */
import Bowser from 'bowser';
import { strings, type Lang } from '../../web/i18n/index.js';
import type { AccountDevice } from '../../web/pages/account.js';
import { deviceKind, isKnownModel } from '../devices/models.js';
import { storedFacts, type AuthenticatorPolicy } from '../policy/policy.js';
import type { StoredCredential } from '../webauthn/credentials.js';

/** "Chrome 120 on macOS", "Safari 17 on iOS", "Firefox"…; null when the User-Agent says nothing useful. */
export function describeBrowser(userAgent: string | null | undefined, lang?: Lang): string | null {
  if (!userAgent) return null;
  const t = strings(lang).browsers;
  const result = Bowser.getParser(userAgent).getResult();
  const major = result.browser.version?.split('.')[0];
  const browser = result.browser.name ? [result.browser.name, major].filter(Boolean).join(' ') : '';
  const os = result.os.name ?? '';
  if (browser && os) return t.on(browser, os);
  return browser || (os ? t.someBrowserOn(os) : null);
}

/** An IPv4 address as people know it, not in its IPv6-mapped form (::ffff:203.0.113.5). */
export function displayIp(ip: string | null): string | null {
  if (!ip) return null;
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** "Security key", "Built-in authenticator", "Synced passkey (backed up)" or "Synced passkey (backup eligible)", in `lang`. */
export function kindLabel(c: Pick<StoredCredential, 'deviceType' | 'transports' | 'backedUp'>, lang?: Lang): string {
  const t = strings(lang).kinds;
  const kind = deviceKind(c);
  if (kind === 'Synced passkey') return c.backedUp ? t.syncedBackedUp : t.syncedBackupEligible;
  return kind === 'Built-in authenticator' ? t.builtIn : t.securityKey;
}

export function accountDevice(c: StoredCredential, currentCredentialId: string, policy: AuthenticatorPolicy, admin: boolean, lang?: Lang): AccountDevice {
  return {
    id: c.credentialId,
    nickname: c.nickname,
    // The AAGUID of an unknown model means nothing to its owner (admins and the CLI still show it).
    model: isKnownModel(policy.modelName(c.aaguid)) ? policy.modelName(c.aaguid) : strings(lang).account.modelNotKnown,
    kind: kindLabel(c, lang),
    createdAt: c.createdAt,
    lastUsed: c.lastUsedAt ? { at: c.lastUsedAt, ip: displayIp(c.lastUsedIp), browser: describeBrowser(c.lastUsedUserAgent, lang) } : null,
    current: c.credentialId === currentCredentialId,
    policyProblems: policy.violations(storedFacts(c), { admin }, 'sign-in').map((v) => v.said(strings(lang))),
  };
}

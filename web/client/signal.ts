/**
 * The WebAuthn Signal API (WebAuthn Level 3 §5.1.10): tells the person's passkey manager which of
 * their passkeys Keygate still accepts, so a removed or revoked passkey disappears from it, and
 * what the account is called. Feature-detected, best effort: where the browser lacks a method it
 * does nothing, and a refusal never disturbs the page (it is only logged as a warning).
 */

interface SignalMethods {
  signalAllAcceptedCredentials(options: { rpId: string; userId: string; allAcceptedCredentialIds: string[] }): Promise<void>;
  signalCurrentUserDetails(options: { rpId: string; userId: string; name: string; displayName: string }): Promise<void>;
  signalUnknownCredential(options: { rpId: string; credentialId: string }): Promise<void>;
}

type SignalName = keyof SignalMethods;

/** The browser's PublicKeyCredential if it has `name`, else null. */
function signalApi<K extends SignalName>(name: K): Pick<SignalMethods, K> | null {
  if (typeof PublicKeyCredential === 'undefined' || !(name in PublicKeyCredential)) return null;
  return PublicKeyCredential as unknown as Pick<SignalMethods, K>;
}

async function send<K extends SignalName>(name: K, options: Parameters<SignalMethods[K]>[0]): Promise<boolean> {
  const api = signalApi(name);
  if (!api) return false;
  try {
    await (api[name] as (o: typeof options) => Promise<void>).call(api, options);
    return true;
  } catch (e) {
    console.warn(`Keygate: ${name} was refused`, e);
    return false;
  }
}

/** Every credential Keygate accepts for this user (base64url ids); the manager may hide the rest. */
export function signalAllAcceptedCredentials(rpId: string, userId: string, allAcceptedCredentialIds: string[]): Promise<boolean> {
  return send('signalAllAcceptedCredentials', { rpId, userId, allAcceptedCredentialIds });
}

/** The account's name as the passkey manager should show it. */
export function signalCurrentUserDetails(rpId: string, userId: string, username: string): Promise<boolean> {
  return send('signalCurrentUserDetails', { rpId, userId, name: username, displayName: username });
}

/** A credential Keygate does not know (or has revoked): the manager may remove it. */
export function signalUnknownCredential(rpId: string, credentialId: string): Promise<boolean> {
  return send('signalUnknownCredential', { rpId, credentialId });
}

/**
 * Shared browser helpers: talking to Keygate's JSON API, turning any failure
 * into a sentence a person understands, and the message area.
 */
import { browserSupportsWebAuthn } from '@simplewebauthn/browser';

/** Shown when the browser can't do WebAuthn at all. */
export const UNSUPPORTED_MESSAGE =
  "This browser has no WebAuthn support, so it can't use security keys or passkeys. Try a current version of Chrome, Safari, Firefox or Edge.";

const INSECURE_MESSAGE =
  "This page wasn't loaded over a secure (HTTPS) connection, so your browser won't use security keys or passkeys here. Ask your administrator to serve Keygate over HTTPS.";

/** Shown while the browser waits for the authenticator. */
export const WAITING_MESSAGE = 'Touch your security key or confirm on your device…';

const NETWORK_MESSAGE = 'Keygate could not be reached. Check your connection and try again.';

/** An error reported by Keygate's API; `message` is already written for people. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, or 0 when the request never got an answer. */
    readonly status: number,
    /** The server's machine-readable code, when it sent one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

// For answers without Keygate's JSON error body, e.g. a proxy's HTML error page.
function fallbackMessage(status: number): string {
  if (status === 429) return 'Too many attempts. Wait a minute, then try again.';
  if (status >= 500) return `Keygate ran into a problem (error ${status}). Try again in a moment.`;
  return `Keygate refused the request (error ${status}). Reload the page and try again.`;
}

/**
 * POST `body` as JSON to `path` and return the parsed JSON answer.
 * Throws {@link ApiError} carrying the server's person-friendly message on an
 * error status, or a connection message when the server can't be reached.
 */
export async function postJSON<T = unknown>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(NETWORK_MESSAGE, 0);
  }
  let data: unknown;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = (data as ErrorBody | undefined)?.error;
    const message = typeof err?.message === 'string' && err.message ? err.message : fallbackMessage(res.status);
    throw new ApiError(message, res.status, typeof err?.code === 'string' ? err.code : undefined);
  }
  if (data === undefined) throw new ApiError(fallbackMessage(502), res.status);
  return data as T;
}

/**
 * Explain any failure from a WebAuthn ceremony or the API in plain words.
 * Returns null for an AbortError: that is our own superseded request (e.g.
 * the autofill one cancelled by a button press) and must not be shown.
 *
 * @param ceremony which ceremony failed; InvalidStateError means different things in each.
 */
export function describeError(e: unknown, ceremony: 'registration' | 'authentication' = 'authentication'): string | null {
  if (e instanceof ApiError) return e.message;
  const problem = webAuthnProblem();
  if (problem) return problem;
  const name = e instanceof Error ? e.name : '';
  switch (name) {
    case 'AbortError':
      return null;
    case 'NotAllowedError':
      // The browser does not offer an authenticator the options rule out (attachment, user
      // verification, resident key): say what this organisation accepts, listed on the page.
      if (ceremony === 'registration' && document.getElementById('policy-requirements')) {
        return "The request was cancelled or timed out. If your browser didn't offer your authenticator, it may not be one this organisation accepts: see the list above.";
      }
      return "The request was cancelled or timed out. Try again when you're ready.";
    case 'InvalidStateError':
      if (ceremony === 'registration') {
        return 'This key is already registered here. Use another key, or sign in with this one.';
      }
      break;
    case 'SecurityError':
      return "This page's address doesn't match Keygate's configured address, so your browser refused the request.";
    case 'NotSupportedError':
      return "This security key or device can't create the kind of key Keygate needs. Try another key or device.";
    case 'ConstraintError':
      return "This security key can't meet Keygate's requirements, for example because it has no PIN set. Set a PIN or try another key.";
    case 'UnknownError':
      return 'Your security key or device reported a problem. Unplug it, plug it back in and try again.';
  }
  // Keep the technical detail for whoever opens the console; the person gets a next step.
  console.error(e);
  return 'Something went wrong talking to your security key. Try again, and tell your administrator if it keeps happening.';
}

/**
 * Why this page can't use WebAuthn at all, or null if it can. Browsers hide
 * WebAuthn on plain-HTTP pages, which would otherwise look like an old browser.
 */
export function webAuthnProblem(): string | null {
  if (browserSupportsWebAuthn()) return null;
  return window.isSecureContext === false ? INSECURE_MESSAGE : UNSUPPORTED_MESSAGE;
}

/** Show `text` in the page's `#message` area (an ARIA alert), styled by `kind`. Empty text hides it. */
export function showMessage(text: string, kind: 'error' | 'info' | 'success'): void {
  const el = document.getElementById('message');
  if (!el) return;
  el.className = `message message-${kind}`;
  el.textContent = text;
  // On long pages the message area can be above the fold; bring it into view without jumping if it's visible.
  if (text) el.scrollIntoView({ block: 'nearest' });
}

/** Empty the message area. */
export function clearMessage(): void {
  showMessage('', 'info');
}

/**
 * Disable or re-enable buttons while a ceremony runs, so it can't be started
 * twice; `active`, the button that started it, also gets a spinner (aria-busy).
 */
export function setBusy(buttons: Iterable<HTMLButtonElement>, busy: boolean, active?: HTMLButtonElement): void {
  for (const b of buttons) {
    b.disabled = busy;
    b.setAttribute('aria-busy', String(busy && b === active));
  }
}

/** Read a `data-*` value from `main#app`, where the server puts the page's data. */
export function appData(key: string): string {
  return document.getElementById('app')?.dataset[key] ?? '';
}

/** Get an element the page template guarantees, failing loudly if templates and script drift apart. */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Keygate page is missing #${id}`);
  return el as T;
}

/**
 * Shared browser helpers: talking to Keygate's JSON API, turning any failure
 * into a sentence a person understands, and the message area.
 */
import { browserSupportsWebAuthn } from '@simplewebauthn/browser';
import { t } from './strings.js';

/** Shown while the browser waits for the authenticator. */
export const WAITING_MESSAGE = t.waiting;

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
  if (status === 429) return t.tooManyAttempts;
  if (status >= 500) return t.serverProblem(status);
  return t.serverRefused(status);
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
    throw new ApiError(t.network, 0);
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
      if (ceremony === 'registration' && document.getElementById('policy-requirements')) return t.cancelledSeeList;
      return t.cancelled;
    case 'InvalidStateError':
      if (ceremony === 'registration') return t.alreadyEnrolled;
      break;
    case 'SecurityError':
      return t.wrongAddress;
    case 'NotSupportedError':
      return t.notSupported;
    case 'ConstraintError':
      return t.constraint;
    case 'UnknownError':
      return t.keyProblem;
  }
  // Keep the technical detail for whoever opens the console; the person gets a next step.
  console.error(e);
  return t.somethingWrong;
}

/**
 * Why this page can't use WebAuthn at all, or null if it can. Browsers hide
 * WebAuthn on plain-HTTP pages, which would otherwise look like an old browser.
 */
export function webAuthnProblem(): string | null {
  if (browserSupportsWebAuthn()) return null;
  return window.isSecureContext === false ? t.insecure : t.unsupported;
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

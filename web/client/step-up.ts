/**
 * Step-up in the browser: run a sensitive action; if the server answers `step_up_required`
 * (no user-verified assertion in the last few minutes), ask for the key, then run the same action
 * again. The person clicks once and confirms with their key; nothing is lost.
 */
import { startAuthentication } from '@simplewebauthn/browser';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { ApiError, postJSON, showMessage } from './api.js';
import { t } from './strings.js';

/** Runs the step-up ceremony (options → key → verify). Throws what the key or server threw. */
export async function stepUp(): Promise<void> {
  const optionsJSON = await postJSON<PublicKeyCredentialRequestOptionsJSON>('/-/api/step-up/options', {});
  showMessage(t.confirmItsYou, 'info');
  const response = await startAuthentication({ optionsJSON });
  await postJSON('/-/api/step-up/verify', { response });
}

/** Runs `action`, stepping up once and retrying if the server asks for a fresh verification. */
export async function withStepUp<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'step_up_required') throw e;
    await stepUp();
    return action();
  }
}

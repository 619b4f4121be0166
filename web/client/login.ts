/**
 * Sign-in page (/-/login). Three ways in, one verify step:
 *  - the passkey button (discoverable credential, no username),
 *  - the username form (for security keys that only hold non-discoverable credentials),
 *  - passkey autofill on the username field (conditional mediation), armed on load.
 * Starting a button ceremony makes the library abort the autofill request;
 * that AbortError is expected and never shown.
 */
import {
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { ApiError, appData, byId, clearMessage, describeError, postJSON, setBusy, showMessage, WAITING_MESSAGE, webAuthnProblem } from './api.js';
import { signalUnknownCredential } from './signal.js';
import { t } from './strings.js';

const OPTIONS_PATH = '/-/api/login/options';
const VERIFY_PATH = '/-/api/login/verify';

const passkeyButton = byId<HTMLButtonElement>('passkey-button');
const usernameForm = byId<HTMLFormElement>('username-form');
const usernameInput = byId<HTMLInputElement>('username');
const usernameButton = byId<HTMLButtonElement>('username-button');
const buttons = [passkeyButton, usernameButton];
const returnTo = appData('returnTo');
const rpId = appData('rpId');

/** True while a button-started ceremony (or any verify) runs. */
let busy = false;
/** Bumped whenever autofill is (re)armed or superseded, so stale autofill work stops. */
let autofillGeneration = 0;
/** The autofill's options request, if in flight; a button waits for it so challenges can't cross at the server. */
let autofillOptionsPending: Promise<unknown> | null = null;
/** When autofill was last armed, to avoid re-arming in a tight loop if it fails instantly. */
let autofillArmedAt = 0;

async function verify(response: AuthenticationResponseJSON): Promise<void> {
  let result: { ok: true; redirect: string };
  try {
    result = await postJSON<{ ok: true; redirect: string }>(VERIFY_PATH, { response, returnTo });
  } catch (e) {
    // Unknown or revoked here: the passkey manager may drop it, so it is not offered again.
    if (e instanceof ApiError && e.code === 'unknown_credential' && rpId) void signalUnknownCredential(rpId, response.id);
    throw e;
  }
  showMessage(t.signedInGoing, 'success');
  location.assign(result.redirect);
}

/** Run a ceremony the person asked for with a button. `body` selects passkey ({}) or username flow. */
async function buttonCeremony(button: HTMLButtonElement, body: { username?: string }): Promise<void> {
  if (busy) return;
  busy = true;
  autofillGeneration++; // any autofill still being set up must not start and cancel this one
  setBusy(buttons, true, button);
  clearMessage();
  let navigating = false;
  try {
    await autofillOptionsPending?.catch(() => undefined);
    const optionsJSON = await postJSON<PublicKeyCredentialRequestOptionsJSON>(OPTIONS_PATH, body);
    showMessage(WAITING_MESSAGE, 'info');
    const response = await startAuthentication({ optionsJSON });
    await verify(response);
    navigating = true;
  } catch (e) {
    const text = describeError(e, 'authentication');
    if (text) showMessage(text, 'error');
    else clearMessage();
  } finally {
    // Stay disabled while the browser navigates away, so nothing can be double-submitted.
    if (!navigating) {
      busy = false;
      setBusy(buttons, false);
      void armAutofill();
    }
  }
}

/** Offer passkeys in the username field's autofill; quietly does nothing where unsupported. */
async function armAutofill(): Promise<void> {
  if (busy || webAuthnProblem() || !(await browserSupportsWebAuthnAutofill())) return;
  const generation = ++autofillGeneration;
  autofillArmedAt = Date.now();
  const pending = postJSON<PublicKeyCredentialRequestOptionsJSON>(OPTIONS_PATH, { mode: 'conditional' });
  autofillOptionsPending = pending;
  let optionsJSON: PublicKeyCredentialRequestOptionsJSON;
  try {
    optionsJSON = await pending;
  } catch (e) {
    // Nobody asked for this request, so only speak up if the page is otherwise idle.
    if (generation === autofillGeneration && !busy) showMessage(describeError(e) ?? '', 'error');
    return;
  } finally {
    if (autofillOptionsPending === pending) autofillOptionsPending = null;
  }
  if (generation !== autofillGeneration || busy) return;

  let response: AuthenticationResponseJSON;
  try {
    response = await startAuthentication({ optionsJSON, useBrowserAutofill: true });
  } catch (e) {
    const text = describeError(e, 'authentication');
    if (text === null || generation !== autofillGeneration || busy) return; // superseded by a button
    showMessage(text, 'error');
    rearmAfterFailure();
    return;
  }
  // A button ceremony started meanwhile: its options replaced this challenge on the server.
  if (generation !== autofillGeneration || busy) return;

  // The person picked a passkey from autofill: from here on it's like a button ceremony.
  busy = true;
  setBusy(buttons, true);
  showMessage(t.signingIn, 'info');
  try {
    await verify(response);
  } catch (e) {
    busy = false;
    setBusy(buttons, false);
    showMessage(describeError(e) ?? '', 'error');
    rearmAfterFailure();
  }
}

function rearmAfterFailure(): void {
  if (Date.now() - autofillArmedAt > 2000) void armAutofill();
}

passkeyButton.addEventListener('click', () => {
  void buttonCeremony(passkeyButton, {});
});

usernameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const username = usernameInput.value.trim();
  if (!username) {
    showMessage(t.enterUsername, 'error');
    usernameInput.focus();
    return;
  }
  void buttonCeremony(usernameButton, { username });
});

const problem = webAuthnProblem();
if (problem) {
  showMessage(problem, 'error');
  for (const b of buttons) b.disabled = true;
} else {
  void armAutofill();
}

/**
 * Account page (/-/account): the person's keys (renamed and removed in account-devices.ts), adding
 * another key, and telling the passkey manager which passkeys still count (Signal API).
 */
import { startRegistration, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import { byId, clearMessage, describeError, postJSON, setBusy, showMessage, WAITING_MESSAGE, webAuthnProblem } from './api.js';
import { setUpDevices, signalAcceptedCredentials } from './account-devices.js';
import { withStepUp } from './step-up.js';
import { t } from './strings.js';

const button = byId<HTMLButtonElement>('add-device-button');
const nicknameInput = byId<HTMLInputElement>('nickname');

async function addDevice(): Promise<void> {
  setBusy([button], true, button);
  clearMessage();
  let reloading = false;
  try {
    const optionsJSON = await withStepUp(() => postJSON<PublicKeyCredentialCreationOptionsJSON>('/-/api/account/devices/options', {}));
    showMessage(WAITING_MESSAGE, 'info');
    const response = await startRegistration({ optionsJSON });
    const nickname = nicknameInput.value.trim();
    await postJSON<{ ok: true }>('/-/api/account/devices/verify', { response, nickname });
    showMessage(t.keyAdded, 'success');
    reloading = true;
    // The server-rendered page shows the new key, says it was added (after a reload too), and
    // offers to sign out the other sessions.
    location.assign('/-/account?added');
  } catch (e) {
    const text = describeError(e, 'registration');
    if (text) showMessage(text, 'error');
    else clearMessage();
  } finally {
    if (!reloading) setBusy([button], false);
  }
}

button.addEventListener('click', () => {
  void addDevice();
});
setUpDevices();

const problem = webAuthnProblem();
if (problem) {
  showMessage(problem, 'error');
  for (const b of document.querySelectorAll<HTMLButtonElement>('#add-device-button, #device-list button')) b.disabled = true;
} else {
  signalAcceptedCredentials();
}

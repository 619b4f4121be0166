/**
 * Enrolment page (/-/enroll/<token>): enrols the first (or a recovery)
 * key for the account the invitation token belongs to.
 */
import { startRegistration, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import { appData, byId, clearMessage, describeError, postJSON, setBusy, showMessage, WAITING_MESSAGE, webAuthnProblem } from './api.js';
import { t } from './strings.js';

const button = byId<HTMLButtonElement>('enroll-button');
const nicknameInput = byId<HTMLInputElement>('nickname');
const token = appData('token');

async function enroll(): Promise<void> {
  setBusy([button], true, button);
  clearMessage();
  let navigating = false;
  try {
    const optionsJSON = await postJSON<PublicKeyCredentialCreationOptionsJSON>('/-/api/enroll/options', { token });
    showMessage(WAITING_MESSAGE, 'info');
    const response = await startRegistration({ optionsJSON });
    const nickname = nicknameInput.value.trim();
    const result = await postJSON<{ ok: true; redirect: string }>('/-/api/enroll/verify', { token, response, nickname });
    showMessage(t.enrolledSigningIn, 'success');
    navigating = true;
    // The next page (the next steps) says it worked: no pause needed to read this.
    location.assign(result.redirect);
  } catch (e) {
    const text = describeError(e, 'registration');
    if (text) showMessage(text, 'error');
    else clearMessage();
  } finally {
    if (!navigating) setBusy([button], false);
  }
}

button.addEventListener('click', () => {
  void enroll();
});

const problem = webAuthnProblem();
if (problem) {
  showMessage(problem, 'error');
  button.disabled = true;
}

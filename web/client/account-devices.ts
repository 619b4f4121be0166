/**
 * Renaming and removing keys on /-/account. Each change may need a fresh confirmation with a key
 * (withStepUp), after which the same change carries on. Removing always asks first, inline; when
 * the server says it is the last key, the confirmation explains what that means and the removal
 * is sent again with `confirmLast`.
 */
import { ApiError, appData, clearMessage, describeError, postJSON, setBusy, showMessage } from './api.js';
import { signalAllAcceptedCredentials, signalCurrentUserDetails } from './signal.js';
import { withStepUp } from './step-up.js';
import { t } from './strings.js';

const rpId = appData('rpId');
const userId = appData('userId');
const username = appData('username');

/** Every button on the page that starts something, so that nothing starts twice. */
function pageButtons(): HTMLButtonElement[] {
  return [...document.querySelectorAll<HTMLButtonElement>('#device-list button, #add-device-button')];
}

function devices(): HTMLLIElement[] {
  return [...document.querySelectorAll<HTMLLIElement>('#device-list li[data-credential-id]')];
}

/** Tells the passkey manager which of this person's passkeys still count (see signal.ts). */
export function signalAcceptedCredentials(): void {
  if (!rpId || !userId) return;
  void signalAllAcceptedCredentials(
    rpId,
    userId,
    devices().map((li) => li.dataset.credentialId!),
  );
}

function part<T extends HTMLElement>(li: HTMLElement, selector: string): T {
  const el = li.querySelector<T>(selector);
  if (!el) throw new Error(`Keygate page is missing ${selector}`);
  return el;
}

/** The name as the server will store it (server/text/safe-text.ts): control and bidi characters dropped, trimmed. */
function cleanName(input: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return input.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, '').trim();
}

function deviceUrl(li: HTMLElement, action: 'rename' | 'remove'): string {
  return `/-/api/account/devices/${encodeURIComponent(li.dataset.credentialId!)}/${action}`;
}

function explain(e: unknown): void {
  const name = e instanceof Error ? e.name : '';
  // Renaming and removing run no ceremony of their own: a cancelled prompt is the step-up's.
  const text = name === 'NotAllowedError' ? t.notConfirmed : describeError(e, 'authentication');
  if (text) showMessage(text, 'error');
  else clearMessage();
}

/**
 * Runs a change with every button disabled and `active` spinning; failures are explained. The
 * buttons stay disabled if the change answers 'leaving' (the browser is navigating away).
 */
async function busyWhile(active: HTMLButtonElement, change: () => Promise<void | 'leaving'>): Promise<void> {
  const buttons = pageButtons();
  setBusy(buttons, true, active);
  clearMessage();
  let leaving = false;
  try {
    leaving = (await change()) === 'leaving';
  } catch (e) {
    explain(e);
  } finally {
    if (!leaving)
      setBusy(
        buttons.filter((b) => b.isConnected),
        false,
      );
  }
}

function closePanels(): void {
  for (const panel of document.querySelectorAll<HTMLElement>('#device-list .device-panel')) panel.hidden = true;
}

function openRename(li: HTMLLIElement): void {
  closePanels();
  const form = part<HTMLFormElement>(li, '.rename-form');
  const input = part<HTMLInputElement>(form, '.rename-input');
  input.value = part(li, '.device-nickname').textContent ?? '';
  form.hidden = false;
  input.focus();
  input.select();
}

async function rename(li: HTMLLIElement): Promise<void> {
  const form = part<HTMLFormElement>(li, '.rename-form');
  const input = part<HTMLInputElement>(form, '.rename-input');
  const nickname = cleanName(input.value);
  if (nickname.length < 1 || nickname.length > 64) {
    showMessage(t.nameRule, 'error');
    input.focus();
    return;
  }
  await busyWhile(part(form, '.rename-save'), async () => {
    const result = await withStepUp(() => postJSON<{ ok: true; nickname: string }>(deviceUrl(li, 'rename'), { nickname }));
    part(li, '.device-nickname').textContent = result.nickname;
    part(li, '.rename-button').setAttribute('aria-label', t.renameKey(result.nickname));
    part(li, '.remove-button').setAttribute('aria-label', t.removeKey(result.nickname));
    form.hidden = true;
    showMessage(t.renamed(result.nickname), 'success');
    if (rpId && userId) void signalCurrentUserDetails(rpId, userId, username);
  });
}

/** Shows the inline confirmation; `last` carries the server's explanation for the last key. */
function openRemove(li: HTMLLIElement, last?: string): void {
  closePanels();
  const panel = part(li, '.remove-confirm');
  const name = part(li, '.device-nickname').textContent ?? '';
  part(panel, '.remove-text').textContent = last ?? (li.dataset.current === 'true' ? t.removeQuestionCurrent(name) : t.removeQuestion(name));
  panel.dataset.last = last ? 'true' : '';
  panel.classList.toggle('device-panel-warning', Boolean(last));
  part(panel, '.remove-confirm-button').textContent = last ? t.removeLastKey : t.remove;
  panel.hidden = false;
  part<HTMLButtonElement>(panel, '.remove-confirm-button').focus();
}

async function remove(li: HTMLLIElement): Promise<void> {
  const panel = part(li, '.remove-confirm');
  const confirmLast = panel.dataset.last === 'true';
  const name = part(li, '.device-nickname').textContent ?? '';
  let lastKeyWarning: string | undefined;
  await busyWhile(part(panel, '.remove-confirm-button'), async () => {
    let result: { ok: true; signedOut: boolean };
    try {
      result = await withStepUp(() => postJSON(deviceUrl(li, 'remove'), confirmLast ? { confirmLast: true } : {}));
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'last_device')) throw e;
      lastKeyWarning = e.message;
      return;
    }
    if (result.signedOut) {
      showMessage(t.removedSignedOut(name), 'success');
      location.assign('/-/login?signed_out');
      return 'leaving';
    }
    li.remove();
    showMessage(t.removed(name), 'success');
    signalAcceptedCredentials();
  });
  // The server asks for an explicit confirmation: once the buttons are enabled again, show it.
  if (lastKeyWarning) openRemove(li, lastKeyWarning);
}

/** Wires each device's buttons (event delegation: the list is server-rendered). */
export function setUpDevices(): void {
  const list = document.getElementById('device-list');
  if (!list) return;
  list.addEventListener('click', (event) => {
    const button = (event.target as Element).closest('button');
    const li = button?.closest<HTMLLIElement>('li[data-credential-id]');
    if (!button || !li || button.type === 'submit') return;
    if (button.classList.contains('rename-button')) openRename(li);
    else if (button.classList.contains('remove-button')) openRemove(li);
    else if (button.classList.contains('remove-confirm-button')) void remove(li);
    else if (button.classList.contains('panel-cancel')) {
      closePanels();
      part<HTMLButtonElement>(li, '.rename-button').focus();
    }
  });
  list.addEventListener('submit', (event) => {
    event.preventDefault();
    const li = (event.target as Element).closest<HTMLLIElement>('li[data-credential-id]');
    if (li) void rename(li);
  });
}

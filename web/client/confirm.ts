import { t } from './strings.js';

/**
 * Asks before an admin action, in the page's own style instead of the browser's confirm(): a modal
 * <dialog> (the browser traps focus in it, and Escape cancels), with the question and a button
 * that names the action. Resolves true only for that button.
 */
export function confirmInPage(question: string, confirmLabel: string): Promise<boolean> {
  const dialog = document.createElement('dialog');
  dialog.className = 'confirm-dialog';
  dialog.setAttribute('aria-labelledby', 'confirm-question');
  const text = document.createElement('p');
  text.id = 'confirm-question';
  text.textContent = question;
  // method="dialog": a button closes the dialog with its value as the dialog's returnValue.
  const form = document.createElement('form');
  form.method = 'dialog';
  form.className = 'confirm-actions';
  const confirm = document.createElement('button');
  confirm.value = 'confirm';
  confirm.className = 'button button-danger button-inline';
  confirm.id = 'confirm-yes';
  confirm.textContent = confirmLabel;
  const cancel = document.createElement('button');
  cancel.value = 'cancel';
  cancel.className = 'button button-secondary button-inline';
  cancel.id = 'confirm-no';
  cancel.textContent = t.cancel;
  form.append(confirm, cancel);
  dialog.append(text, form);
  document.body.append(dialog);
  const opener = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'confirm');
        dialog.remove();
        opener?.focus();
      },
      { once: true },
    );
    dialog.showModal();
    cancel.focus();
  });
}

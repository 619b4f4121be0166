/**
 * The invite form on the admin pages. The link comes back in the API's answer and is put in the
 * page once: nothing stores it (not the server, not this script), so after a reload it is gone.
 */
import { byId, clearMessage, describeError, postJSON, setBusy, showMessage } from './api.js';
import { withStepUp } from './step-up.js';
import { t } from './strings.js';

interface CreatedInvite {
  url: string;
  expiresAt: string;
  recovery: boolean;
  username: string;
  admin: boolean;
  gogsAccount?: 'not_checked' | 'exists' | 'created';
}

/** An ISO time as the pages write it: `2026-01-31 12:00 UTC`. */
export const utcText = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

function summary(i: CreatedInvite): string {
  const what = i.recovery ? t.recoveryLinkFor(i.username) : i.admin ? t.inviteLinkForAdmin(i.username) : t.inviteLinkFor(i.username);
  const gogs = i.gogsAccount === 'created' ? t.gogsAccountCreated : '';
  return `${what}${gogs}${t.worksOnceUntil(utcText(i.expiresAt))}`;
}

/** Copies with the Clipboard API; where that is missing or refused, selects the text instead. */
export async function copyLink(input: HTMLInputElement): Promise<void> {
  try {
    if (!navigator.clipboard) throw new Error('no clipboard');
    await navigator.clipboard.writeText(input.value);
    showMessage(t.linkCopied, 'success');
  } catch {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    showMessage(t.linkSelected, 'info');
  }
}

export function setUpInviteForm(): void {
  const form = document.getElementById('invite-form') as HTMLFormElement | null;
  if (!form) return;
  const button = byId<HTMLButtonElement>('invite-button');
  const username = byId<HTMLInputElement>('invite-username');
  const admin = document.getElementById('invite-admin') as HTMLInputElement | null;
  const email = document.getElementById('invite-email') as HTMLInputElement | null;
  const ttl = byId<HTMLSelectElement>('invite-ttl');
  const result = byId<HTMLDivElement>('invite-result');
  const url = byId<HTMLInputElement>('invite-url');

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      setBusy([button], true, button);
      clearMessage();
      result.hidden = true;
      url.value = '';
      try {
        const body = {
          username: username.value.trim(),
          admin: admin?.checked ?? false,
          ...(ttl.value ? { ttl: ttl.value } : {}),
          ...(email?.value.trim() ? { email: email.value.trim() } : {}),
        };
        const created = await withStepUp(() => postJSON<CreatedInvite>('/-/api/admin/invites', body));
        byId('invite-summary').textContent = summary(created);
        url.value = created.url;
        result.hidden = false;
        if (username.type !== 'hidden') username.value = '';
        if (admin) admin.checked = false;
        if (email) email.value = '';
        showMessage(t.inviteCreated, 'success');
        url.focus();
      } catch (e) {
        const text = describeError(e);
        if (text) showMessage(text, 'error');
        else clearMessage();
      } finally {
        setBusy([button], false);
      }
    })();
  });

  byId<HTMLButtonElement>('copy-invite').addEventListener('click', () => void copyLink(url));
}

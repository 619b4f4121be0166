/**
 * The pending invites on the admin pages: revoke one (its row goes), or re-issue it (the row then
 * stands for the new invite, and the new link is shown once in #reissue-result, with a copy
 * button). Both ask for a fresh step-up when the server wants one. Nothing is reloaded: a reload
 * would lose the link, and on the page of someone invited but not enrolled there may be nothing
 * left to show.
 */
import { byId, clearMessage, describeError, postJSON, setBusy, showMessage } from './api.js';
import { copyLink, utcText } from './admin-invite.js';
import { withStepUp } from './step-up.js';
import { confirmInPage } from './confirm.js';
import { t } from './strings.js';

interface ReissuedInvite {
  url: string;
  id: string;
  replaces: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  recovery: boolean;
  username: string;
  admin: boolean;
}

const path = (id: string, what: 'revoke' | 'reissue') => `/-/api/admin/invites/${encodeURIComponent(id)}/${what}`;

function allButtons(): HTMLButtonElement[] {
  return [...document.querySelectorAll<HTMLButtonElement>('button[data-action]')];
}

function utcTime(iso: string): HTMLTimeElement {
  const time = document.createElement('time');
  time.dateTime = iso;
  time.textContent = utcText(iso);
  return time;
}

function field(row: HTMLTableRowElement, name: string): HTMLElement | null {
  return row.querySelector<HTMLElement>(`[data-field="${name}"]`);
}

/** After a row is gone: the table goes too when it was the last one. */
function showWhenEmpty(): void {
  const table = document.getElementById('pending-invites');
  if (!table || table.querySelector('tbody tr')) return;
  table.closest('.table-scroll')?.remove();
  const empty = document.getElementById('pending-invites-empty');
  if (empty) empty.hidden = false;
}

/** The link shown in #reissue-result, if it is `id`'s (revoking that invite makes it useless). */
function hideLinkOf(id: string): void {
  const result = document.getElementById('reissue-result');
  if (result && result.dataset.inviteId === id) {
    result.hidden = true;
    byId<HTMLInputElement>('reissue-url').value = '';
  }
}

async function act(button: HTMLButtonElement, action: 'revoke-invite' | 'reissue-invite'): Promise<void> {
  const row = button.closest<HTMLTableRowElement>('tr[data-invite-id]');
  if (!row) return;
  const id = row.dataset.inviteId ?? '';
  const user = row.dataset.username ?? '';
  const question = action === 'revoke-invite' ? t.revokeInviteQuestion(user) : t.reissueInviteQuestion(user);
  if (!(await confirmInPage(question, action === 'revoke-invite' ? t.revokeLink : t.reissueLink))) return;
  const buttons = allButtons();
  setBusy(buttons, true, button);
  clearMessage();
  try {
    if (action === 'revoke-invite') {
      await withStepUp(() => postJSON(path(id, 'revoke'), {}));
      row.remove();
      hideLinkOf(id);
      showWhenEmpty();
      showMessage(t.inviteRevoked(user), 'success');
      return;
    }
    const created = await withStepUp(() => postJSON<ReissuedInvite>(path(id, 'reissue'), {}));
    // The row now stands for the new invite.
    row.dataset.inviteId = created.id;
    for (const b of row.querySelectorAll<HTMLButtonElement>('button[data-invite-id]')) b.dataset.inviteId = created.id;
    field(row, 'created-by')?.replaceChildren(created.createdBy.replace(/^user:/, ''));
    field(row, 'created-at')?.replaceChildren(utcTime(created.createdAt));
    field(row, 'expires-at')?.replaceChildren(utcTime(created.expiresAt));
    const result = byId<HTMLDivElement>('reissue-result');
    const url = byId<HTMLInputElement>('reissue-url');
    const what = created.recovery
      ? t.newRecoveryLinkFor(created.username)
      : created.admin
        ? t.newInviteLinkForAdmin(created.username)
        : t.newInviteLinkFor(created.username);
    byId('reissue-summary').textContent = `${what}${t.newLinkWorksOnceUntil(utcText(created.expiresAt))}`;
    url.value = created.url;
    result.dataset.inviteId = created.id;
    result.hidden = false;
    showMessage(t.inviteReissued, 'success');
    url.focus();
  } catch (e) {
    const text = describeError(e);
    if (text) showMessage(text, 'error');
    else clearMessage();
  } finally {
    setBusy(buttons, false);
  }
}

export function setUpPendingInvites(): void {
  document.addEventListener('click', (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button[data-action]');
    const action = button?.dataset.action;
    if (button && (action === 'revoke-invite' || action === 'reissue-invite')) void act(button, action);
  });
  document.getElementById('copy-reissue')?.addEventListener('click', () => void copyLink(byId<HTMLInputElement>('reissue-url')));
}

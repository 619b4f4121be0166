/**
 * The admin pages: revoke a key, disable or enable a person, end their sessions, create invites
 * (and revoke or re-issue pending ones: admin-pending.ts).
 * Every action asks the server; if it wants a fresh step-up, the admin confirms with their key
 * and the same action runs again (withStepUp). After a change the page reloads to show the new
 * state, carrying its one-line result across the reload.
 */
import { appData, clearMessage, describeError, postJSON, setBusy, showMessage, webAuthnProblem } from './api.js';
import { setUpInviteForm } from './admin-invite.js';
import { setUpPendingInvites } from './admin-pending.js';
import { confirmInPage } from './confirm.js';
import { withStepUp } from './step-up.js';

const FLASH_KEY = 'keygate-admin-result';

interface ActionResult {
  sessionsEnded?: number;
  /** The admin ended their own session (e.g. revoked the key they signed in with). */
  signedOut?: boolean;
}

interface Action {
  confirm: (button: HTMLButtonElement, user: string) => string | null;
  /** The confirmation's button: what it does, in a word or two. */
  verb?: string;
  path: (button: HTMLButtonElement, user: string) => string;
  done: (result: ActionResult, user: string) => string;
}

const sessions = (n = 0) => `${n} session${n === 1 ? '' : 's'} ended`;
const userPath = (user: string, what: string) => `/-/api/admin/users/${encodeURIComponent(user)}/${what}`;

const ACTIONS: Record<string, Action> = {
  revoke: {
    confirm: (b, user) => `Revoke ${user}'s key “${b.dataset.label}”? It can never sign in again, and every session it signed in ends now.`,
    verb: 'Revoke key',
    path: (b) => `/-/api/admin/credentials/${encodeURIComponent(b.dataset.credentialId ?? '')}/revoke`,
    done: (r) => `Key revoked; ${sessions(r.sessionsEnded)}.`,
  },
  disable: {
    confirm: (_b, user) => `Disable ${user}? All their sessions end now and none of their keys can sign in until you enable them again.`,
    verb: 'Disable',
    path: (_b, user) => userPath(user, 'disable'),
    done: (r, user) => `${user} is disabled; ${sessions(r.sessionsEnded)}.`,
  },
  enable: {
    confirm: () => null,
    path: (_b, user) => userPath(user, 'enable'),
    done: (_r, user) => `${user} is enabled and can sign in again.`,
  },
  'end-all-sessions': {
    confirm: () => 'Sign everyone out? Every session but yours ends now, and everyone must sign in again with their keys.',
    verb: 'Sign everyone out',
    path: () => '/-/api/admin/sessions/end-all',
    done: (r) => `Everyone is signed out: ${sessions(r.sessionsEnded)}.`,
  },
  'end-sessions': {
    confirm: (_b, user) => `End every session of ${user}? They stay enabled and can sign in again with their keys.`,
    verb: 'End sessions',
    path: (_b, user) => userPath(user, 'end-sessions'),
    done: (r) => `${sessions(r.sessionsEnded).charAt(0).toUpperCase()}${sessions(r.sessionsEnded).slice(1)}.`,
  },
};

function actionButtons(): HTMLButtonElement[] {
  return [...document.querySelectorAll<HTMLButtonElement>('button[data-action]')];
}

async function run(button: HTMLButtonElement, action: Action): Promise<void> {
  const user = appData('username');
  const question = action.confirm(button, user);
  if (question && !(await confirmInPage(question, action.verb ?? 'Confirm'))) return;
  const buttons = actionButtons();
  setBusy(buttons, true, button);
  clearMessage();
  let leaving = false;
  try {
    const result = await withStepUp(() => postJSON<ActionResult>(action.path(button, user), {}));
    leaving = true;
    if (result.signedOut) {
      location.assign('/-/login');
      return;
    }
    sessionStorage.setItem(FLASH_KEY, action.done(result, user));
    location.reload();
  } catch (e) {
    const text = describeError(e);
    if (text) showMessage(text, 'error');
    else clearMessage();
  } finally {
    if (!leaving) setBusy(buttons, false);
  }
}

document.addEventListener('click', (event) => {
  const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button[data-action]');
  const action = button && ACTIONS[button.dataset.action ?? ''];
  if (button && action) void run(button, action);
});

setUpInviteForm();
setUpPendingInvites();

const flash = sessionStorage.getItem(FLASH_KEY);
if (flash) {
  sessionStorage.removeItem(FLASH_KEY);
  showMessage(flash, 'success');
} else {
  // Viewing needs no key; acting does, so say so up front where it cannot work.
  const problem = document.querySelector('button[data-action], #invite-form') ? webAuthnProblem() : null;
  if (problem) showMessage(problem, 'error');
}

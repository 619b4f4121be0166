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
import { t } from './strings.js';

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

const userPath = (user: string, what: string) => `/-/api/admin/users/${encodeURIComponent(user)}/${what}`;

const ACTIONS: Record<string, Action> = {
  revoke: {
    confirm: (b, user) => t.revokeKeyQuestion(user, b.dataset.label ?? ''),
    verb: t.revokeKey,
    path: (b) => `/-/api/admin/credentials/${encodeURIComponent(b.dataset.credentialId ?? '')}/revoke`,
    done: (r) => t.keyRevoked(r.sessionsEnded ?? 0),
  },
  disable: {
    confirm: (_b, user) => t.disableQuestion(user),
    verb: t.disable,
    path: (_b, user) => userPath(user, 'disable'),
    done: (r, user) => t.disabled(user, r.sessionsEnded ?? 0),
  },
  enable: {
    confirm: () => null,
    path: (_b, user) => userPath(user, 'enable'),
    done: (_r, user) => t.enabled(user),
  },
  'end-all-sessions': {
    confirm: () => t.signEveryoneOutQuestion,
    verb: t.signEveryoneOut,
    path: () => '/-/api/admin/sessions/end-all',
    done: (r) => t.everyoneSignedOut(r.sessionsEnded ?? 0),
  },
  'end-sessions': {
    confirm: (_b, user) => t.endSessionsQuestion(user),
    verb: t.endSessions,
    path: (_b, user) => userPath(user, 'end-sessions'),
    done: (r) => t.sessionsEnded(r.sessionsEnded ?? 0),
  },
};

function actionButtons(): HTMLButtonElement[] {
  return [...document.querySelectorAll<HTMLButtonElement>('button[data-action]')];
}

async function run(button: HTMLButtonElement, action: Action): Promise<void> {
  const user = appData('username');
  const question = action.confirm(button, user);
  if (question && !(await confirmInPage(question, action.verb ?? t.confirm))) return;
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

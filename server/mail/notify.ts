/**
 * The email the admin page and the CLI both send after the same actions: a key revoked
 * (devices/actions.ts endDevice), a recovery link issued (enrollment/invites.ts issueInvite,
 * reissueInvite). Called once the action has committed.
 */
import type { Actor } from '../audit/actor.js';
import type { EndedDevice } from '../devices/actions.js';
import type { CreatedInvite } from '../enrollment/invites.js';
import { cleanText } from '../text/safe-text.js';
import type { Notifier } from './mailer.js';

/** Its owner is told a key was revoked, unless it had already ended (then nothing changed). */
export function notifyRevoked(mail: Notifier, ended: EndedDevice, actor: Actor, reason?: string): void {
  if (ended.alreadyEnded) return;
  mail.notify(ended.credential.userId, {
    kind: 'key_revoked',
    at: new Date(),
    keyName: ended.credential.nickname,
    by: actor.name,
    reason: reason ? cleanText(reason) : null,
  });
}

/** An invite for an account that exists is a recovery link: its person is told (never sent the link). */
export function notifyRecoveryLink(mail: Notifier, created: CreatedInvite, actor: Actor): void {
  const { invite } = created;
  if (invite.userId === null) return;
  mail.notify(invite.userId, { kind: 'recovery_link', at: invite.createdAt, by: actor.name, expiresAt: invite.expiresAt });
}

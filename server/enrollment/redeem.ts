/**
 * Redeeming an invite: in one transaction, under the invite's row lock, the invite is checked
 * again, the user is created (or found, for a recovery link) with the handle the authenticator
 * stored, the authenticator policy is applied, the credential is stored, the invite is marked
 * used, the address given with the link is kept as the person's, and both audit rows are
 * written. Either all of it happens or none.
 */
import { recordEvent, type RequestContext } from '../audit/record.js';
import { withTransaction, type Db } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { AuthenticatorFacts, AuthenticatorPolicy } from '../policy/policy.js';
import { createOrGetUser, grantAdmin, setUserEmail, type User } from '../users/users.js';
import { CeremonyError, type Ceremony } from '../webauthn/ceremony.js';
import { countActiveCredentials, recordEnrolmentUse, type NewCredential, type StoredCredential } from '../webauthn/credentials.js';
import { enforceRegistrationPolicy } from '../webauthn/register.js';
import { storeCredential } from '../webauthn/store.js';
import { findInvite, INVITE_STATUS, markInviteUsed, type InviteState } from './invites.js';

export function inviteProblem(state: Exclude<InviteState, 'valid'>): AppError {
  return new AppError(`invite_${state}`, INVITE_STATUS[state], (t) => `${t.invite[state].title}. ${t.invite[state].message}`);
}

export interface Redemption {
  token: string;
  ceremony: Ceremony;
  verified: Omit<NewCredential, 'userId' | 'nickname'>;
  facts: AuthenticatorFacts;
  nickname: string;
  ctx: RequestContext;
}

export function redeemInvite(
  db: Db,
  policy: AuthenticatorPolicy,
  input: Redemption,
): Promise<{ user: User; credential: StoredCredential; /** The link was for an account that existed already. */ recovery: boolean }> {
  return withTransaction(db, async (tx) => {
    // The row lock serialises concurrent redemptions of one invite: exactly one stores a key.
    const { state, invite } = await findInvite(tx, input.token, { lock: true });
    if (state !== 'valid' || !invite) throw inviteProblem(state as Exclude<InviteState, 'valid'>);
    if (invite.id !== input.ceremony.inviteId) throw new CeremonyError('wrong_ceremony', (t) => t.attempts.wrongInvite);
    const handle = Buffer.from(input.ceremony.userHandle ?? '', 'base64url');
    const user = await createOrGetUser(tx, input.ceremony.username ?? invite.username, handle, invite.grantsAdmin);
    // The authenticator stored the ceremony's user handle; if someone else created this user meanwhile, they differ.
    if (!user.userHandle.equals(handle)) throw new AppError('enrolment_conflict', 409, (t) => t.errors.enrolmentConflict);
    if (user.disabledAt) throw new AppError('user_disabled', 403, (t) => t.errors.accountDisabled);
    const active = await countActiveCredentials(tx, user.id, { lock: true });
    enforceRegistrationPolicy(policy, input.facts, { admin: user.isAdmin || invite.grantsAdmin }, active);
    if (invite.grantsAdmin && !user.isAdmin) await grantAdmin(tx, user.id);
    const credential = await recordEnrolmentUse(tx, await storeCredential(tx, { ...input.verified, userId: user.id, nickname: input.nickname }), input.ctx);
    await markInviteUsed(tx, invite.id, credential.id);
    // The address given with the link becomes the person's (server/mail/).
    if (invite.email) await setUserEmail(tx, user.id, invite.email);
    const base = {
      actor: `user:${user.username}`,
      subjectUserId: user.id,
      subjectUsername: user.username,
      credentialId: credential.id,
      outcome: 'success' as const,
      ...input.ctx,
    };
    await recordEvent(tx, { ...base, event: 'invite_redeemed', details: { inviteId: invite.id, recovery: invite.userId !== null } });
    await recordEvent(tx, { ...base, event: 'credential_registered', details: { nickname: credential.nickname, aaguid: credential.aaguid } });
    return { user, credential, recovery: invite.userId !== null || active > 0 };
  });
}

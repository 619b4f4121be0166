/**
 * Admin actions on people: disable, enable, end every session. Shared by the admin page and the
 * CLI, so both write the same audit events. Disabling ends every session at once (ASVS 7.4.2).
 */
import type { Actor } from '../audit/actor.js';
import { recordEvent } from '../audit/record.js';
import { withTransaction, type Db } from '../db/pool.js';
import { AppError } from '../errors.js';
import { endEverySession, endSessionsOfUser } from '../session/sql.js';
import { findUserByUsername, type User } from './users.js';

export async function requireUser(db: Db, username: string): Promise<User> {
  const user = await findUserByUsername(db, username);
  if (!user) throw new AppError('no_such_user', 404, (t) => t.adminErrors.noSuchUser(username.slice(0, 64)));
  return user;
}

const audit = (actor: Actor, user: User) => ({
  actor: actor.name,
  subjectUserId: user.id,
  subjectUsername: user.username,
  ip: actor.ctx?.ip,
  userAgent: actor.ctx?.userAgent,
  requestId: actor.ctx?.requestId,
});

/** Disables the user and ends every session they have; returns how many sessions ended. */
export async function disableUser(db: Db, username: string, actor: Actor): Promise<{ user: User; sessionsEnded: number; endedSessionIds: string[] }> {
  const user = await requireUser(db, username);
  return withTransaction(db, async (tx) => {
    await tx.query('UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE id = $1', [user.id]);
    const endedSessionIds = await endSessionsOfUser(tx, user.id, 'user_disabled');
    const sessionsEnded = endedSessionIds.length;
    await recordEvent(tx, {
      ...audit(actor, user),
      event: 'user_disabled',
      outcome: 'success',
      details: { sessionsEnded, alreadyDisabled: user.disabledAt !== null },
    });
    return { user: { ...user, disabledAt: user.disabledAt ?? new Date() }, sessionsEnded, endedSessionIds };
  });
}

export async function enableUser(db: Db, username: string, actor: Actor): Promise<User> {
  const user = await requireUser(db, username);
  return withTransaction(db, async (tx) => {
    await tx.query('UPDATE users SET disabled_at = NULL, updated_at = now() WHERE id = $1', [user.id]);
    await recordEvent(tx, { ...audit(actor, user), event: 'user_enabled', outcome: 'success', details: { wasDisabled: user.disabledAt !== null } });
    return { ...user, disabledAt: null };
  });
}

/** "Log out everywhere": ends every session of the user; they stay enabled. */
export async function endAllSessions(db: Db, username: string, actor: Actor): Promise<{ user: User; sessionsEnded: number; endedSessionIds: string[] }> {
  const user = await requireUser(db, username);
  return withTransaction(db, async (tx) => {
    const endedSessionIds = await endSessionsOfUser(tx, user.id, 'ended_by_admin');
    const sessionsEnded = endedSessionIds.length;
    await recordEvent(tx, { ...audit(actor, user), event: 'sessions_ended', outcome: 'success', details: { sessionsEnded } });
    return { user, sessionsEnded, endedSessionIds };
  });
}

/**
 * The emergency button: ends every signed-in session of everyone but `exceptKey` (the admin's
 * own, so they can see what they did); nobody is disabled and no key is revoked.
 */
export async function endEveryonesSessions(db: Db, actor: Actor, exceptKey: string): Promise<{ sessionsEnded: number; endedSessionIds: string[] }> {
  return withTransaction(db, async (tx) => {
    const endedSessionIds = await endEverySession(tx, 'ended_by_admin', exceptKey);
    const sessionsEnded = endedSessionIds.length;
    await recordEvent(tx, {
      actor: actor.name,
      ip: actor.ctx?.ip,
      userAgent: actor.ctx?.userAgent,
      requestId: actor.ctx?.requestId,
      event: 'all_sessions_ended',
      outcome: 'success',
      details: { sessionsEnded },
    });
    return { sessionsEnded, endedSessionIds };
  });
}

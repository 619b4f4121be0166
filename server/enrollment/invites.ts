/**
 * One-time enrolment invites. The token is 32 random bytes shown once as a URL; only its SHA-256
 * is stored. An invite is single use and expires; an invite for an existing user is a recovery
 * link that adds a credential and keeps the others.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { SYSTEM_ACTOR, type Actor } from '../audit/actor.js';
import { recordEvent } from '../audit/record.js';
import { oneRow, withTransaction, type Db, type Queryable } from '../db/pool.js';
import { ensureGogsUser, GogsInviteInputError, type GogsAccount } from '../gogs/users.js';
import { findUserByUsername, isValidUsername } from '../users/users.js';
import { INVITE_TTL_RULE, isValidInviteTtl } from './limits.js';

export interface Invite {
  id: string;
  username: string;
  userId: string | null;
  grantsAdmin: boolean;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

interface InviteRow {
  id: string;
  username: string;
  user_id: string | null;
  grants_admin: boolean;
  created_by: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

const COLUMNS = 'id, username, user_id, grants_admin, created_by, created_at, expires_at, used_at';

const toInvite = (r: InviteRow): Invite => ({
  id: String(r.id),
  username: r.username,
  userId: r.user_id === null ? null : String(r.user_id),
  grantsAdmin: r.grants_admin,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class InviteInputError extends Error {}

export interface CreatedInvite {
  invite: Invite;
  token: string;
  url: string;
}

/** The invite's username and lifetime, checked: throws InviteInputError. */
function checkInviteInput(config: Config, input: { username: string; ttlMs?: number }): { username: string; ttlMs: number } {
  const username = input.username.trim();
  if (!isValidUsername(username)) {
    throw new InviteInputError(`"${input.username}" is not a valid Gogs username (letters, digits, "_", "-", ".", at most 35, not starting with "-" or ".")`);
  }
  const ttlMs = input.ttlMs ?? config.inviteTtlMs;
  if (!isValidInviteTtl(ttlMs)) throw new InviteInputError(`the invite lifetime must be ${INVITE_TTL_RULE}`);
  return { username, ttlMs };
}

export async function createInvite(
  db: Queryable,
  config: Config,
  input: { username: string; grantsAdmin?: boolean; ttlMs?: number; createdBy: string },
): Promise<CreatedInvite> {
  const { username, ttlMs } = checkInviteInput(config, input);
  const existing = await findUserByUsername(db, username);
  const token = randomBytes(32).toString('base64url');
  const { rows } = await db.query<InviteRow>(
    `INSERT INTO invites (token_hash, username, user_id, grants_admin, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING ${COLUMNS}`,
    [hashToken(token), existing?.username ?? username, existing?.id ?? null, input.grantsAdmin ?? false, input.createdBy, ttlMs / 1000],
  );
  return { invite: toInvite(oneRow(rows)), token, url: `${config.origin}/-/enroll/${token}` };
}

export type InviteState = 'valid' | 'expired' | 'used' | 'unknown' | 'superseded';

/** Looks an invite up by its token; `lock` takes a row lock for redemption. */
export async function findInvite(db: Queryable, token: string, opts: { lock?: boolean } = {}): Promise<{ state: InviteState; invite: Invite | null }> {
  if (!TOKEN_PATTERN.test(token)) return { state: 'unknown', invite: null };
  // A first-run link (made by the system while no admin existed) stops working as soon as an
  // enabled admin exists, however they came to be one: it exists only to bootstrap the first.
  const { rows } = await db.query<InviteRow & { expired: boolean; superseded: boolean }>(
    `SELECT ${COLUMNS}, expires_at <= now() AS expired,
            (created_by = $2 AND grants_admin AND EXISTS (SELECT 1 FROM users WHERE is_admin AND disabled_at IS NULL)) AS superseded
       FROM invites WHERE token_hash = $1 ${opts.lock ? 'FOR UPDATE' : ''}`,
    [hashToken(token), SYSTEM_ACTOR.name],
  );
  const row = rows[0];
  if (!row) return { state: 'unknown', invite: null };
  const invite = toInvite(row);
  if (invite.usedAt) return { state: 'used', invite };
  if (row.expired) return { state: 'expired', invite };
  if (row.superseded) return { state: 'superseded', invite };
  return { state: 'valid', invite };
}

/** Marks the invite used by a credential. Call inside the transaction that stored the credential. */
export async function markInviteUsed(db: Queryable, inviteId: string, credentialRowId: string): Promise<void> {
  await db.query('UPDATE invites SET used_at = now(), used_by_credential = $2 WHERE id = $1 AND used_at IS NULL', [inviteId, credentialRowId]);
}

export const INVITE_MESSAGES: Record<Exclude<InviteState, 'valid'>, { status: number; title: string; message: string }> = {
  unknown: {
    status: 404,
    title: 'This enrolment link is not valid',
    message: 'Check that you copied the whole link, or ask your administrator for a new one.',
  },
  expired: {
    status: 410,
    title: 'This enrolment link has expired',
    message: 'Enrolment links work for a limited time. Ask your administrator for a new one.',
  },
  superseded: {
    status: 410,
    title: 'This first-run link no longer works',
    message: 'An administrator already exists, so the link printed at first start was withdrawn. Ask an administrator for an enrolment link.',
  },
  used: {
    status: 410,
    title: 'This enrolment link has already been used',
    message: 'Each link registers one key. If that was you, sign in with your key; otherwise ask your administrator for a new link.',
  },
};

/**
 * Creates an invite and records who made it, in one transaction: the same for the CLI and the
 * admin page. With GOGS_ADMIN_TOKEN it first makes sure the Gogs account exists, creating it
 * with `email` and a random password (gogs/users.ts); if that fails, no invite is stored.
 */
export async function issueInvite(
  db: Db,
  config: Config,
  input: { username: string; grantsAdmin?: boolean; ttlMs?: number; email?: string },
  actor: Actor,
): Promise<CreatedInvite & { gogsAccount: GogsAccount }> {
  const { username } = checkInviteInput(config, input);
  let gogsAccount: GogsAccount;
  try {
    gogsAccount = await ensureGogsUser(db, config, { username, email: input.email }, actor);
  } catch (err) {
    if (err instanceof GogsInviteInputError) throw new InviteInputError(err.message);
    throw err;
  }
  const { email: _email, ...rest } = input;
  const created = await withTransaction(db, (tx) => issueInviteIn(tx, config, rest, actor));
  return { ...created, gogsAccount };
}

/** issueInvite's work, inside the caller's transaction. */
export async function issueInviteIn(
  tx: Queryable,
  config: Config,
  input: { username: string; grantsAdmin?: boolean; ttlMs?: number },
  actor: Actor,
): Promise<CreatedInvite> {
  const created = await createInvite(tx, config, { ...input, createdBy: actor.name });
  await recordEvent(tx, {
    event: 'invite_created',
    outcome: 'success',
    actor: actor.name,
    subjectUserId: created.invite.userId,
    subjectUsername: created.invite.username,
    ip: actor.ctx?.ip,
    userAgent: actor.ctx?.userAgent,
    requestId: actor.ctx?.requestId,
    details: { inviteId: created.invite.id, admin: created.invite.grantsAdmin, recovery: created.invite.userId !== null, expiresAt: created.invite.expiresAt },
  });
  return created;
}

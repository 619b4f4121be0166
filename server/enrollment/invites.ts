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
import { AppError, InputError, type Said } from '../errors.js';
import { ensureGogsUser, GogsInviteInputError, type GogsAccount } from '../gogs/users.js';
import { isValidEmail } from '../mail/address.js';
import { findUserByUsername, isReservedByGogs, isValidUsername } from '../users/users.js';
import { isValidInviteTtl } from './limits.js';

export interface Invite {
  id: string;
  username: string;
  userId: string | null;
  grantsAdmin: boolean;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** The address given with the invite (server/mail/): the person's email once it is redeemed. */
  email: string | null;
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
  email: string | null;
}

const COLUMNS = 'id, username, user_id, grants_admin, created_by, created_at, expires_at, used_at, email';

const toInvite = (r: InviteRow): Invite => ({
  id: String(r.id),
  username: r.username,
  userId: r.user_id === null ? null : String(r.user_id),
  grantsAdmin: r.grants_admin,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  email: r.email,
});

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class InviteInputError extends InputError {}

export interface CreatedInvite {
  invite: Invite;
  token: string;
  url: string;
}

/** The invite's username and lifetime, checked: throws InviteInputError. */
function checkInviteInput(
  config: Config,
  input: { username: string; ttlMs?: number; email?: string },
): { username: string; ttlMs: number; email: string | null } {
  const username = input.username.trim();
  if (!isValidUsername(username)) {
    throw new InviteInputError((t) => t.adminErrors.notAGogsUsername(input.username));
  }
  if (isReservedByGogs(username)) {
    throw new InviteInputError((t) => t.adminErrors.reservedName(username));
  }
  const ttlMs = input.ttlMs ?? config.inviteTtlMs;
  if (!isValidInviteTtl(ttlMs)) throw new InviteInputError((t) => t.adminErrors.inviteTtl);
  const email = input.email?.trim() || null;
  if (email !== null && !isValidEmail(email)) throw new InviteInputError((t) => t.adminErrors.notAnEmail(email));
  return { username, ttlMs, email };
}

export async function createInvite(
  db: Queryable,
  config: Config,
  input: { username: string; grantsAdmin?: boolean; ttlMs?: number; createdBy: string; email?: string },
): Promise<CreatedInvite> {
  const { username, ttlMs, email } = checkInviteInput(config, input);
  const existing = await findUserByUsername(db, username);
  // Its enrolment would be refused: say so now, not when the person opens the link.
  if (existing?.disabledAt) throw new AppError('user_disabled', 409, (t) => t.adminErrors.recoveryForDisabled(existing.username));
  const token = randomBytes(32).toString('base64url');
  const { rows } = await db.query<InviteRow>(
    `INSERT INTO invites (token_hash, username, user_id, grants_admin, created_by, expires_at, email)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), $7) RETURNING ${COLUMNS}`,
    [hashToken(token), existing?.username ?? username, existing?.id ?? null, input.grantsAdmin ?? false, input.createdBy, ttlMs / 1000, email],
  );
  return { invite: toInvite(oneRow(rows)), token, url: `${config.origin}/-/enroll/${token}` };
}

export type InviteState = 'valid' | 'expired' | 'used' | 'unknown' | 'superseded' | 'revoked';

/**
 * SQL: the invite `i` is a first-run link (made by the system while no admin existed) and an
 * enabled admin exists now, however they came to be one: it existed only to bootstrap the first,
 * so it no longer works. `$param` holds SYSTEM_ACTOR's name.
 */
const SUPERSEDED = (param: string) =>
  `(i.created_by = ${param} AND i.grants_admin AND EXISTS (SELECT 1 FROM users a WHERE a.is_admin AND a.disabled_at IS NULL))`;

/** SQL: the invite `i` can still be redeemed: unused, unexpired, not superseded. */
const PENDING = (param: string) => `(i.used_at IS NULL AND i.expires_at > now() AND NOT ${SUPERSEDED(param)})`;

/**
 * SQL: when an admin revoked the invite `i` (null if never). A revocation is an audit row, not a
 * column: the invite itself just stops working (revokeInvite), and the append-only log keeps who
 * did it and when.
 */
const REVOKED_AT = `(SELECT max(r.at) FROM audit_events r WHERE r.event = 'invite_revoked' AND r.outcome = 'success' AND r.details ->> 'inviteId' = i.id::text)`;

/** Looks an invite up by its token; `lock` takes a row lock for redemption. */
export async function findInvite(db: Queryable, token: string, opts: { lock?: boolean } = {}): Promise<{ state: InviteState; invite: Invite | null }> {
  if (!TOKEN_PATTERN.test(token)) return { state: 'unknown', invite: null };
  // Whether it was revoked is looked up only for an expired invite (CASE evaluates lazily).
  const { rows } = await db.query<InviteRow & { expired: boolean; revoked: boolean; superseded: boolean }>(
    `SELECT ${COLUMNS.replace(/(\w+)/g, 'i.$1')}, i.expires_at <= now() AS expired,
            CASE WHEN i.expires_at <= now() THEN ${REVOKED_AT} IS NOT NULL ELSE false END AS revoked,
            ${SUPERSEDED('$2')} AS superseded
       FROM invites i WHERE i.token_hash = $1 ${opts.lock ? 'FOR UPDATE OF i' : ''}`,
    [hashToken(token), SYSTEM_ACTOR.name],
  );
  const row = rows[0];
  if (!row) return { state: 'unknown', invite: null };
  const invite = toInvite(row);
  if (invite.usedAt) return { state: 'used', invite };
  if (row.revoked) return { state: 'revoked', invite };
  if (row.expired) return { state: 'expired', invite };
  if (row.superseded) return { state: 'superseded', invite };
  return { state: 'valid', invite };
}

/** Marks the invite used by a credential. Call inside the transaction that stored the credential. */
export async function markInviteUsed(db: Queryable, inviteId: string, credentialRowId: string): Promise<void> {
  await db.query('UPDATE invites SET used_at = now(), used_by_credential = $2 WHERE id = $1 AND used_at IS NULL', [inviteId, credentialRowId]);
}

/** The status of the answer to an invite link that cannot be used; what it says is in the catalogue (web/i18n, `invite`). */
export const INVITE_STATUS: Record<Exclude<InviteState, 'valid'>, number> = {
  unknown: 404,
  expired: 410,
  superseded: 410,
  used: 410,
  revoked: 410,
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
    if (err instanceof GogsInviteInputError) throw new InviteInputError(err.said);
    throw err;
  }
  const created = await withTransaction(db, (tx) => issueInviteIn(tx, config, input, actor));
  return { ...created, gogsAccount };
}

/** issueInvite's work, inside the caller's transaction. */
export async function issueInviteIn(
  tx: Queryable,
  config: Config,
  input: { username: string; grantsAdmin?: boolean; ttlMs?: number; email?: string },
  actor: Actor,
  /** More for the audit row (a re-issue names the invite it replaces). */
  details: Record<string, unknown> = {},
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
    details: {
      inviteId: created.invite.id,
      admin: created.invite.grantsAdmin,
      recovery: created.invite.userId !== null,
      expiresAt: created.invite.expiresAt,
      ...details,
    },
  });
  return created;
}

// -- Pending invites: listed, revoked, re-issued (the admin page and the CLI).

/**
 * An invite that can still be redeemed, as an admin sees it: never its token (only the token's
 * hash is stored), but the row id that the audit rows name as `inviteId`.
 */
export interface PendingInvite {
  id: string;
  username: string;
  grantsAdmin: boolean;
  /** Redeeming it adds a key to an account that exists now (made for one, or someone enrolled meanwhile). */
  recovery: boolean;
  /** The actor who made it: 'user:<name>', 'cli' or 'system' (the first-run link). */
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

interface PendingRow {
  id: string;
  username: string;
  grants_admin: boolean;
  recovery: boolean;
  created_by: string;
  created_at: Date;
  expires_at: Date;
}

const PENDING_COLUMNS = `i.id, i.username, i.grants_admin, i.created_by, i.created_at, i.expires_at,
  (i.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM users u WHERE lower(u.username) = lower(i.username))) AS recovery`;

const toPending = (r: PendingRow): PendingInvite => ({
  id: String(r.id),
  username: r.username,
  grantsAdmin: r.grants_admin,
  recovery: r.recovery,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** Invite ids are the rows' bigint ids, written without leading zeros. */
export const INVITE_ID_PATTERN = /^[1-9]\d{0,17}$/;

/**
 * Pending invites, newest first: all of them, one person's (`username`, case-insensitive), or
 * those whose id starts with `idPrefix`. `more` says whether `limit` (none: every one) cut the list.
 */
export async function listPendingInvites(
  db: Queryable,
  opts: { username?: string; idPrefix?: string; limit?: number } = {},
): Promise<{ invites: PendingInvite[]; more: boolean }> {
  const limit = opts.limit ?? Infinity;
  // LIMIT NULL is no limit.
  const { rows } = await db.query<PendingRow>(
    `SELECT ${PENDING_COLUMNS} FROM invites i
      WHERE ${PENDING('$1')}
        AND ($2::text IS NULL OR lower(i.username) = lower($2))
        AND ($3::text IS NULL OR left(i.id::text, length($3)) = $3)
      ORDER BY i.created_at DESC, i.id DESC
      LIMIT $4`,
    [SYSTEM_ACTOR.name, opts.username ?? null, opts.idPrefix ?? null, opts.limit === undefined ? null : opts.limit + 1],
  );
  return { invites: rows.slice(0, limit).map(toPending), more: rows.length > limit };
}

/** Whether an invite with this id exists, whatever its state. */
export async function inviteExists(db: Queryable, id: string): Promise<boolean> {
  if (!INVITE_ID_PATTERN.test(id)) return false;
  const { rows } = await db.query('SELECT 1 FROM invites WHERE id = $1', [id]);
  return rows.length > 0;
}

/** `2026-01-31 12:00 UTC`, as the admin pages write times. */
const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const noSuchInvite = (id: string) => new AppError('no_such_invite', 404, (t) => t.adminErrors.noSuchInvite(id.slice(0, 40)));

/** Why invite `id` cannot be revoked or re-issued: unknown (404), or already used, revoked, expired or withdrawn (409). */
async function notPending(db: Queryable, id: string): Promise<AppError> {
  const { rows } = await db.query<{
    username: string;
    used_at: Date | null;
    expires_at: Date;
    expired: boolean;
    superseded: boolean;
    revoked_at: Date | null;
  }>(
    `SELECT i.username, i.used_at, i.expires_at, i.expires_at <= now() AS expired, ${SUPERSEDED('$2')} AS superseded, ${REVOKED_AT} AS revoked_at
       FROM invites i WHERE i.id = $1`,
    [id, SYSTEM_ACTOR.name],
  );
  const row = rows[0];
  if (!row) return noSuchInvite(id);
  const { username } = row;
  const conflict = (code: string, said: Said) => new AppError(code, 409, said);
  if (row.used_at) {
    const at = when(row.used_at);
    return conflict('invite_already_used', (t) => t.adminErrors.inviteUsed(id, username, at));
  }
  if (row.revoked_at) {
    const at = when(row.revoked_at);
    return conflict('invite_already_revoked', (t) => t.adminErrors.inviteRevoked(id, username, at));
  }
  if (row.expired) return conflict('invite_already_expired', (t) => t.adminErrors.inviteExpired(id, username, when(row.expires_at)));
  if (row.superseded) return conflict('invite_already_withdrawn', (t) => t.adminErrors.inviteWithdrawn(id, username));
  // Pending again by now: only if it was not at the moment of the update (a clock at the edge of its expiry).
  return new AppError('invite_changed', 409, (t) => t.adminErrors.inviteChanged(id, username));
}

/**
 * Stops a pending invite from working, in one statement that checks and changes it under the
 * row's lock: a concurrent redemption either finished first (then this finds it used) or waits
 * and then finds it expired. Its expiry becomes the earliest the schema allows (just after its
 * creation), so any check from then on, whatever its transaction's clock, sees it expired; the
 * audit row written with it records when and by whom. Returns the invite as it was.
 */
async function expirePending(tx: Queryable, id: string): Promise<PendingInvite> {
  if (!INVITE_ID_PATTERN.test(id)) throw noSuchInvite(id);
  const { rows } = await tx.query<PendingRow>(
    `WITH target AS (SELECT ${PENDING_COLUMNS} FROM invites i WHERE i.id = $1 AND ${PENDING('$2')} FOR UPDATE OF i)
     UPDATE invites SET expires_at = invites.created_at + interval '1 microsecond' FROM target WHERE invites.id = target.id
     RETURNING target.*`,
    [id, SYSTEM_ACTOR.name],
  );
  const row = rows[0];
  if (!row) throw await notPending(tx, id);
  return toPending(row);
}

function revokedEvent(invite: PendingInvite, actor: Actor, details: Record<string, unknown> = {}) {
  return {
    event: 'invite_revoked' as const,
    outcome: 'success' as const,
    actor: actor.name,
    subjectUsername: invite.username,
    ip: actor.ctx?.ip,
    userAgent: actor.ctx?.userAgent,
    requestId: actor.ctx?.requestId,
    details: { inviteId: invite.id, admin: invite.grantsAdmin, recovery: invite.recovery, expiresAt: invite.expiresAt, ...details },
  };
}

/**
 * Revokes a pending invite: its link stops working now (the enrolment page then says it was
 * revoked, 410). Audited as `invite_revoked`. An unknown id is a 404; an invite already used,
 * revoked, expired or withdrawn is a 409 that says which, and changes nothing.
 */
export function revokeInvite(db: Db, id: string, actor: Actor): Promise<PendingInvite> {
  return withTransaction(db, async (tx) => {
    const invite = await expirePending(tx, id);
    const user = await findUserByUsername(tx, invite.username);
    await recordEvent(tx, { ...revokedEvent(invite, actor), subjectUserId: user?.id ?? null });
    return invite;
  });
}

/**
 * Re-issues a pending invite: in one transaction, revokes it and makes a fresh one for the same
 * username and admin flag, lasting as long as the old one was made to (or `ttlMs`). Audited as
 * `invite_revoked` (details.reissued) and `invite_created` (details.replaces). The new link is in
 * the answer only. The Gogs account was seen to when the first invite was made: not again here.
 */
export function reissueInvite(
  db: Db,
  config: Config,
  id: string,
  opts: { ttlMs?: number },
  actor: Actor,
): Promise<{ revoked: PendingInvite; created: CreatedInvite }> {
  if (opts.ttlMs !== undefined && !isValidInviteTtl(opts.ttlMs)) throw new InviteInputError((t) => t.adminErrors.inviteTtl);
  return withTransaction(db, async (tx) => {
    const revoked = await expirePending(tx, id);
    const lifetime = revoked.expiresAt.getTime() - revoked.createdAt.getTime();
    const ttlMs = opts.ttlMs ?? (isValidInviteTtl(lifetime) ? lifetime : config.inviteTtlMs);
    const user = await findUserByUsername(tx, revoked.username);
    await recordEvent(tx, { ...revokedEvent(revoked, actor, { reissued: true }), subjectUserId: user?.id ?? null });
    // The address given with the first link goes with the new one.
    const { rows } = await tx.query<{ email: string | null }>('SELECT email FROM invites WHERE id = $1', [revoked.id]);
    const email = rows[0]?.email ?? undefined;
    const created = await issueInviteIn(tx, config, { username: revoked.username, grantsAdmin: revoked.grantsAdmin, ttlMs, email }, actor, {
      replaces: revoked.id,
    });
    return { revoked, created };
  });
}

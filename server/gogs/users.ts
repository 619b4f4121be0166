/**
 * What Keygate does in Gogs through its admin API (admin-api.ts): create the Gogs account an
 * invite is for, and copy Gogs' site-admin flag to Keygate's admins. Both write audit events:
 * `gogs_user_created` and `admin_flag_synced`.
 */
import type { Actor } from '../audit/actor.js';
import { recordEvent } from '../audit/record.js';
import type { Config } from '../config.js';
import { withTransaction, type Db } from '../db/pool.js';
import { AppError, InputError } from '../errors.js';
import { listUsers } from '../users/users.js';
import { isValidEmail } from '../mail/address.js';
import { gogsAdminApi, type GogsAdminApi } from './admin-api.js';

/** A bad invite input found on the Gogs side (the CLI and the admin API show it as given). */
export class GogsInviteInputError extends InputError {}

export type GogsAccount = 'not_checked' | 'exists' | 'created';

/**
 * With GOGS_ADMIN_TOKEN: makes sure the Gogs user exists, creating it (random password, the
 * given email) if not. Without the token: does nothing. Throws before anything is stored.
 */
export async function ensureGogsUser(
  db: Db,
  config: Config,
  input: { username: string; email?: string },
  actor: Actor,
  api: GogsAdminApi | undefined = gogsAdminApi(config),
): Promise<GogsAccount> {
  if (!api) return 'not_checked';
  const email = input.email?.trim() || undefined;
  if (email !== undefined && !isValidEmail(email)) throw new GogsInviteInputError((t) => t.adminErrors.notAnEmail(email));
  if (await api.findUser(input.username)) return 'exists';
  if (email === undefined) {
    throw new GogsInviteInputError((t) => t.adminErrors.notInGogsYet(input.username));
  }
  const audit = (outcome: 'success' | 'failure', reason?: string, details: Record<string, unknown> = {}) =>
    recordEvent(db, {
      event: 'gogs_user_created',
      outcome,
      reason,
      actor: actor.name,
      subjectUsername: input.username,
      ip: actor.ctx?.ip,
      userAgent: actor.ctx?.userAgent,
      requestId: actor.ctx?.requestId,
      details: { email, ...details },
    });
  try {
    const created = await api.createUser(input.username, email);
    await audit('success', undefined, { gogsUserId: Number.isFinite(created.id) ? created.id : null });
    return 'created';
  } catch (err) {
    await audit('failure', err instanceof AppError ? err.code : 'error', { message: err instanceof Error ? err.message : undefined });
    throw err;
  }
}

export interface AdminSyncResult {
  /** Keygate users whose flag changed. */
  changed: { username: string; isAdmin: boolean }[];
  unchanged: string[];
  /** Users left as they were, and why. */
  skipped: { username: string; reason: string }[];
}

/**
 * Sets each Keygate user's is_admin to Gogs' site-admin flag (GOGS_SYNC_ADMINS=true). Users Gogs
 * does not know, or about whom it gave no clear answer, keep their flag. Refuses a sync that would
 * leave Keygate without an active admin.
 */
export async function syncAdminsFromGogs(db: Db, config: Config, actor: Actor, api: GogsAdminApi | undefined = gogsAdminApi(config)): Promise<AdminSyncResult> {
  if (!config.gogsSyncAdmins) {
    throw new AppError('sync_admins_off', 409, 'Syncing the admin flag from Gogs is off: set GOGS_SYNC_ADMINS=true (and GOGS_ADMIN_TOKEN) to turn it on.');
  }
  if (!api) throw new AppError('sync_admins_off', 409, "Syncing the admin flag from Gogs needs GOGS_ADMIN_TOKEN (a Gogs site administrator's access token).");
  const users = await listUsers(db);
  const result: AdminSyncResult = { changed: [], unchanged: [], skipped: [] };
  const wanted = new Map<string, boolean>();
  let unclear = 0;
  for (const u of users) {
    if (!(await api.findUser(u.username))) {
      result.skipped.push({ username: u.username, reason: 'no such user in Gogs' });
      continue;
    }
    const admin = await api.isSiteAdmin(u.username);
    if (admin === undefined) {
      unclear++;
      result.skipped.push({ username: u.username, reason: 'Gogs did not say (is this address in its TRUSTED_PROXY_IPS?)' });
      continue;
    }
    wanted.set(u.id, admin);
  }
  if (unclear > 0 && wanted.size === 0) {
    throw new AppError(
      'sync_admins_unclear',
      502,
      "Gogs did not tell Keygate who its site admins are: its /admin page answered neither 200 nor 403 for any user. Gogs 0.14's API does not expose the admin flag, so Keygate asks that page as each user through the reverse-proxy header; run sync-admins where Keygate runs (an address in Gogs' TRUSTED_PROXY_IPS).",
    );
  }
  const activeAdminsAfter = users.filter((u) => !u.disabledAt && (wanted.get(u.id) ?? u.isAdmin)).length;
  if (activeAdminsAfter === 0) {
    throw new AppError(
      'sync_admins_no_admin_left',
      409,
      'Syncing would leave Keygate without an administrator: make at least one enrolled person a Gogs site admin first. Nothing was changed.',
    );
  }
  await withTransaction(db, async (tx) => {
    for (const u of users) {
      const admin = wanted.get(u.id);
      if (admin === undefined) continue;
      const { rowCount } = await tx.query('UPDATE users SET is_admin = $2 WHERE id = $1 AND is_admin <> $2', [u.id, admin]);
      if (!rowCount) {
        result.unchanged.push(u.username);
        continue;
      }
      result.changed.push({ username: u.username, isAdmin: admin });
      await recordEvent(tx, {
        event: 'admin_flag_synced',
        outcome: 'success',
        actor: actor.name,
        subjectUserId: u.id,
        subjectUsername: u.username,
        ip: actor.ctx?.ip,
        userAgent: actor.ctx?.userAgent,
        requestId: actor.ctx?.requestId,
        details: { isAdmin: admin, was: !admin, source: 'gogs' },
      });
    }
  });
  return result;
}

/**
 * First run: while no admin exists, each start prints a one-time enrolment link for the first
 * admin. It is an ordinary invite (single use, expires after INVITE_TTL); a newer start's link
 * replaces any older unused one, so exactly one first-run link is valid at a time.
 */
import { SYSTEM_ACTOR } from '../audit/actor.js';
import type { Config } from '../config.js';
import { oneRow, withTransaction, type Db } from '../db/pool.js';
import { issueInviteIn, type CreatedInvite } from '../enrollment/invites.js';

export function firstRunAdminInvite(db: Db, config: Config): Promise<CreatedInvite | null> {
  return withTransaction(db, async (tx) => {
    // Instances starting together take turns, so exactly one first-run link stays valid.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('keygate:first-run-admin'))`);
    const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM users WHERE is_admin AND disabled_at IS NULL');
    if (Number(oneRow(rows).n) > 0) return null;
    await tx.query(
      `UPDATE invites SET expires_at = greatest(created_at + interval '1 millisecond', now())
        WHERE created_by = $1 AND grants_admin AND used_at IS NULL AND expires_at > now()`,
      [SYSTEM_ACTOR.name],
    );
    return issueInviteIn(tx, config, { username: config.firstAdminUsername, grantsAdmin: true }, SYSTEM_ACTOR);
  });
}

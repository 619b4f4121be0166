/**
 * What can happen to an enrolled device after enrolment: renamed, removed by its owner, revoked
 * by an admin. The web UI and the CLI call these same functions, so they write the same audit
 * events. Ending a credential ends every session it signed in, in the same transaction.
 */
import type { Actor } from '../audit/actor.js';
import { recordEvent } from '../audit/record.js';
import { withTransaction, type Db } from '../db/pool.js';
import { AppError } from '../errors.js';
import { cleanText } from '../text/safe-text.js';
import { endSessionsOfCredential } from '../session/sql.js';
import { findUserById } from '../users/users.js';
import { decodeCredentialId, findCredential, revokeCredential, type StoredCredential } from '../webauthn/credentials.js';

export class DeviceError extends AppError {}

const noSuchDevice = (id: string) => new DeviceError('no_such_credential', 404, (t) => t.adminErrors.noSuchCredential(id.slice(0, 80)));

/** A nickname as people type it: control and bidi characters dropped (text/safe-text.ts), trimmed, 1 to 64 characters. */
export function cleanDeviceName(input: string): string {
  const name = cleanText(input);
  if (name.length < 1 || name.length > 64) throw new DeviceError('invalid_name', 400, (t) => t.errors.nameRule);
  return name;
}

async function loadDevice(db: Db, credentialId: string): Promise<StoredCredential> {
  const raw = decodeCredentialId(credentialId);
  const credential = raw ? await findCredential(db, raw) : null;
  if (!credential) throw noSuchDevice(credentialId);
  return credential;
}

function auditBase(actor: Actor, credential: StoredCredential, username: string | null) {
  return {
    actor: actor.name,
    subjectUserId: credential.userId,
    subjectUsername: username,
    credentialId: credential.id,
    ip: actor.ctx?.ip,
    userAgent: actor.ctx?.userAgent,
    requestId: actor.ctx?.requestId,
  };
}

export async function renameDevice(db: Db, credentialId: string, nickname: string, actor: Actor, opts: { ownerId?: string } = {}): Promise<StoredCredential> {
  const name = cleanDeviceName(nickname);
  const credential = await loadDevice(db, credentialId);
  if (opts.ownerId !== undefined && credential.userId !== opts.ownerId) throw noSuchDevice(credentialId);
  if (credential.revokedAt) throw new DeviceError('credential_revoked', 409, (t) => t.errors.renameRevoked);
  const owner = await findUserById(db, credential.userId);
  return withTransaction(db, async (tx) => {
    await tx.query('UPDATE credentials SET nickname = $2 WHERE id = $1', [credential.id, name]);
    await recordEvent(tx, {
      ...auditBase(actor, credential, owner?.username ?? null),
      event: 'credential_renamed',
      outcome: 'success',
      details: { from: credential.nickname, to: name },
    });
    return { ...credential, nickname: name };
  });
}

export interface EndedDevice {
  credential: StoredCredential;
  sessionsEnded: number;
  /** So the caller's instance can forget them at once (others hear through NOTIFY). */
  endedSessionIds: string[];
  /** It had been removed or revoked before: nothing changed. */
  alreadyEnded: boolean;
}

/**
 * Ends a credential: it can never sign in again and every session it signed in ends now.
 * `removed` is the owner taking it off their account; `revoked` is an admin (or the CLI).
 */
export async function endDevice(
  db: Db,
  credentialId: string,
  actor: Actor,
  how: {
    event: 'credential_removed' | 'credential_revoked';
    ownerId?: string;
    reason?: string;
    /** Refuse (with this error) if it is the owner's last active credential. */
    refuseLast?: AppError;
  },
): Promise<EndedDevice> {
  const credential = await loadDevice(db, credentialId);
  if (how.ownerId !== undefined && credential.userId !== how.ownerId) throw noSuchDevice(credentialId);
  const owner = await findUserById(db, credential.userId);
  return withTransaction(db, async (tx) => {
    if (how.refuseLast) {
      // Locks the owner's active credentials, so two removals at once cannot both see "one more left".
      const { rows } = await tx.query<{ id: string }>('SELECT id FROM credentials WHERE user_id = $1 AND revoked_at IS NULL FOR UPDATE', [credential.userId]);
      if (rows.length === 1 && String(rows[0]?.id) === credential.id) throw how.refuseLast;
    }
    // Read again under the row's lock: a revocation and a removal at once must not both be the
    // first (two success rows, two emails); the one that waited sees the other's.
    const { rows: now } = await tx.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM credentials WHERE id = $1 FOR UPDATE', [credential.id]);
    const alreadyEnded = (now[0]?.revoked_at ?? null) !== null;
    const ended = await revokeCredential(tx, Buffer.from(credential.credentialId, 'base64url'), { byOwner: how.event === 'credential_removed' });
    const endedSessionIds = await endSessionsOfCredential(tx, credential.credentialId, how.event);
    const sessionsEnded = endedSessionIds.length;
    await recordEvent(tx, {
      ...auditBase(actor, credential, owner?.username ?? null),
      event: how.event,
      outcome: 'success',
      reason: how.reason ?? null,
      details: { nickname: credential.nickname, sessionsEnded, alreadyRevoked: alreadyEnded },
    });
    return { credential: ended ?? credential, sessionsEnded, endedSessionIds, alreadyEnded };
  });
}

/** Stored WebAuthn credentials (public keys) and the SQL that reads and changes them. */
import type { IncomingMessage } from 'node:http';
import { decodeCredentialPublicKey } from '@simplewebauthn/server/helpers';
import { oneRow, type Queryable } from '../db/pool.js';
import { USER_COLUMNS, userFromRow, type User, type UserRow } from '../users/users.js';

export interface StoredCredential {
  id: string;
  /** base64url of the WebAuthn credential id. */
  credentialId: string;
  userId: string;
  publicKey: Buffer;
  signCount: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFormat: string;
  /** As the browser reported it at registration; null if not recorded. */
  attachment: 'platform' | 'cross-platform' | null;
  /** credProps.rk at registration; null if not reported. */
  discoverable: boolean | null;
  /** The attestation chained to a FIDO metadata root (server/policy/metadata.ts). */
  attestationTrusted: boolean;
  nickname: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  lastUsedUserAgent: string | null;
  revokedAt: Date | null;
  /** Ended by its owner (removed), not by an administrator (revoked). */
  removedByOwner: boolean;
}

interface CredentialRow {
  id: string;
  credential_id: Buffer;
  user_id: string;
  public_key: Buffer;
  sign_count: string;
  transports: string[];
  aaguid: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  attestation_format: string;
  attachment: 'platform' | 'cross-platform' | null;
  discoverable: boolean | null;
  attestation_trusted: boolean;
  nickname: string;
  created_at: Date;
  last_used_at: Date | null;
  last_used_ip: string | null;
  last_used_user_agent: string | null;
  revoked_at: Date | null;
  removed_by_owner: boolean;
}

const COLUMNS = `id, credential_id, user_id, public_key, sign_count, transports, aaguid, device_type, backed_up,
  attestation_format, attachment, discoverable, attestation_trusted, nickname, created_at, last_used_at, last_used_ip, last_used_user_agent, revoked_at, removed_by_owner`;

function toCredential(r: CredentialRow): StoredCredential {
  return {
    id: String(r.id),
    credentialId: r.credential_id.toString('base64url'),
    userId: String(r.user_id),
    publicKey: r.public_key,
    signCount: Number(r.sign_count),
    transports: r.transports,
    aaguid: r.aaguid,
    deviceType: r.device_type,
    backedUp: r.backed_up,
    attestationFormat: r.attestation_format,
    attachment: r.attachment,
    discoverable: r.discoverable,
    attestationTrusted: r.attestation_trusted,
    nickname: r.nickname,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    lastUsedIp: r.last_used_ip,
    lastUsedUserAgent: r.last_used_user_agent,
    revokedAt: r.revoked_at,
    removedByOwner: r.removed_by_owner,
  };
}

/** The COSE algorithm (label 3) of a stored COSE public key, or null if it has none or does not decode. */
export function coseAlgorithm(publicKey: Uint8Array): number | null {
  try {
    const alg = decodeCredentialPublicKey(new Uint8Array(publicKey)).get(3);
    return typeof alg === 'number' ? alg : null;
  } catch {
    return null;
  }
}

/** WebAuthn §5.8.3: credential ids are at most 1023 bytes. */
export const MAX_CREDENTIAL_ID_BYTES = 1023;

/**
 * Decodes a base64url credential id strictly (Node's decoder silently skips junk), or returns
 * null if it is not canonical base64url or is longer than WebAuthn allows.
 */
export function decodeCredentialId(value: unknown): Buffer | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1400 || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length === 0 || bytes.length > MAX_CREDENTIAL_ID_BYTES || bytes.toString('base64url') !== value) return null;
  return bytes;
}

export async function findCredential(db: Queryable, credentialId: Buffer): Promise<StoredCredential | null> {
  const { rows } = await db.query<CredentialRow>(`SELECT ${COLUMNS} FROM credentials WHERE credential_id = $1`, [credentialId]);
  return rows[0] ? toCredential(rows[0]) : null;
}

/**
 * A credential and its owner in one statement (sign-in). Null if the id is unknown, or (as with a
 * separate lookup of the owner) if the owner's row is missing.
 */
export async function findCredentialWithOwner(db: Queryable, credentialId: Buffer): Promise<CredentialWithOwner | null> {
  const { rows } = await db.query<CredentialWithOwnerRow>({
    name: 'keygate-credential-with-owner',
    text: credentialWithOwnerSelect('$1'),
    values: [credentialId],
  });
  return credentialWithOwnerFromRow(rows[0]);
}

export interface CredentialWithOwner {
  credential: StoredCredential;
  user: User;
}

/** A row of credentialWithOwnerSelect: the credential's columns, and its owner's prefixed `u_`. */
export type CredentialWithOwnerRow = CredentialRow & { [K in keyof UserRow as `u_${K}`]: UserRow[K] };

/**
 * The credential whose id is the bytea parameter `param`, with its owner, as one row (none if the
 * id is unknown): findCredentialWithOwner's query, also read along with the session by sign-in's
 * verify (session/sql.ts, loadTakingCeremony).
 */
export function credentialWithOwnerSelect(param: string): string {
  return `SELECT ${COLUMNS.replace(/(\w+)/g, 'c.$1')}, ${USER_COLUMNS.replace(/(\w+)/g, 'u.$1 AS u_$1')}
       FROM credentials c JOIN users u ON u.id = c.user_id
      WHERE c.credential_id = ${param}`;
}

/** The credential and its owner from a row of credentialWithOwnerSelect; null for no row, or a row of nulls (an outer join's). */
export function credentialWithOwnerFromRow(r: CredentialWithOwnerRow | undefined): CredentialWithOwner | null {
  if (!r || r.id === null) return null;
  return {
    credential: toCredential(r),
    user: userFromRow({
      id: r.u_id,
      username: r.u_username,
      user_handle: r.u_user_handle,
      is_admin: r.u_is_admin,
      disabled_at: r.u_disabled_at,
      created_at: r.u_created_at,
    }),
  };
}

const READ_AT_LOAD = Symbol('keygate.credentialReadAtLoad');
type ReadAtLoad = IncomingMessage & { [READ_AT_LOAD]?: { credentialId: Buffer; found: CredentialWithOwner | null } };

/**
 * Notes the credential (with its owner) that the statement loading this request's session also
 * read, or that no credential has this id (sign-in's verify: session/middleware.ts, takingCeremony).
 */
export function noteCredentialReadAtLoad(req: IncomingMessage, credentialId: Buffer, found: CredentialWithOwner | null): void {
  (req as ReadAtLoad)[READ_AT_LOAD] = { credentialId, found };
}

/** What the session's load read for this credential id: undefined if it read nothing, or for another id. */
export function credentialReadAtLoad(req: IncomingMessage, credentialId: Buffer): CredentialWithOwner | null | undefined {
  const read = (req as ReadAtLoad)[READ_AT_LOAD];
  return read?.credentialId.equals(credentialId) ? read.found : undefined;
}

export async function listCredentialsOfUser(db: Queryable, userId: string, opts: { includeRevoked?: boolean } = {}): Promise<StoredCredential[]> {
  const { rows } = await db.query<CredentialRow>(
    `SELECT ${COLUMNS} FROM credentials WHERE user_id = $1 ${opts.includeRevoked ? '' : 'AND revoked_at IS NULL'} ORDER BY created_at, id`,
    [userId],
  );
  return rows.map(toCredential);
}

export interface NewCredential {
  credentialId: Buffer;
  userId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFormat: string;
  attachment: 'platform' | 'cross-platform' | null;
  discoverable: boolean | null;
  attestationTrusted: boolean;
  nickname: string;
}

/** Stores a credential. A duplicate credential id raises unique_violation (credentials_credential_id). */
export async function insertCredential(db: Queryable, c: NewCredential): Promise<StoredCredential> {
  const { rows } = await db.query<CredentialRow>(
    `INSERT INTO credentials (credential_id, user_id, public_key, sign_count, transports, aaguid, device_type, backed_up, attestation_format,
                              attachment, discoverable, attestation_trusted, nickname)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
    [
      c.credentialId,
      c.userId,
      Buffer.from(c.publicKey),
      c.signCount,
      c.transports,
      c.aaguid,
      c.deviceType,
      c.backedUp,
      c.attestationFormat,
      c.attachment,
      c.discoverable,
      c.attestationTrusted,
      c.nickname,
    ],
  );
  return toCredential(oneRow(rows));
}

/** What a verified assertion writes to its credential (recordCredentialUse, or the sign-in's one statement). */
export interface CredentialUse {
  /** The credential's row id. */
  id: string;
  previousCounter: number;
  newCounter: number;
  backedUp: boolean;
  ip: string | null;
  userAgent: string | null;
}

/**
 * The credential-use write, as SQL with its parameters from `$at` on (values from credentialUseValues):
 * the new counter, backup state and last use, only after every other check passed. The WHERE
 * clause re-checks the counter and revocation, so a concurrent use or revocation that won the race
 * leaves the row alone (no row updated) instead of being overwritten. Used alone here, and inside
 * the statement that writes a sign-in's session (session/middleware.ts).
 */
export function credentialUseUpdate(at: number): string {
  const [id, previous, next, backedUp, ip, userAgent] = [0, 1, 2, 3, 4, 5].map((i) => `$${at + i}`);
  return `UPDATE credentials
        SET sign_count = ${next}::bigint, backed_up = ${backedUp}::boolean, last_used_at = now(), last_used_ip = ${ip}::inet, last_used_user_agent = ${userAgent}::text
      WHERE id = ${id}::bigint AND revoked_at IS NULL AND sign_count = ${previous}::bigint
        AND (${next}::bigint > ${previous}::bigint OR (${next}::bigint = 0 AND ${previous}::bigint = 0))`;
}

/** The values of credentialUseUpdate, in its order. */
export function credentialUseValues(use: CredentialUse): unknown[] {
  return [use.id, use.previousCounter, use.newCounter, use.backedUp, use.ip, use.userAgent?.slice(0, 512) ?? null];
}

/** Writes a credential's use on its own (step-up); false if a concurrent use or revocation won. */
export async function recordCredentialUse(db: Queryable, use: CredentialUse): Promise<boolean> {
  const { rowCount } = await db.query({ name: 'keygate-credential-use', text: credentialUseUpdate(1), values: credentialUseValues(use) });
  return rowCount === 1;
}

/** Enrolment signs the person in with the new key: its first use, where and in what browser. */
export async function recordEnrolmentUse(
  db: Queryable,
  credential: StoredCredential,
  ctx: { ip: string | null; userAgent: string | null },
): Promise<StoredCredential> {
  const userAgent = ctx.userAgent?.slice(0, 512) ?? null;
  await db.query('UPDATE credentials SET last_used_at = created_at, last_used_ip = $2, last_used_user_agent = $3 WHERE id = $1', [
    credential.id,
    ctx.ip,
    userAgent,
  ]);
  return { ...credential, lastUsedAt: credential.createdAt, lastUsedIp: ctx.ip, lastUsedUserAgent: userAgent };
}

/**
 * Active (not revoked) credentials of a user. With `lock`, inside a transaction, the user's row is
 * locked first, so two enrolments at once cannot both pass a per-user limit.
 */
export async function countActiveCredentials(db: Queryable, userId: string, opts: { lock?: boolean } = {}): Promise<number> {
  if (opts.lock) await db.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM credentials WHERE user_id = $1 AND revoked_at IS NULL', [userId]);
  return Number(oneRow(rows).n);
}

/** Every active credential with its owner's name and admin flag (policy review: admin page, CLI). */
export async function listActiveCredentials(db: Queryable): Promise<Array<StoredCredential & { username: string; isAdmin: boolean }>> {
  const { rows } = await db.query<CredentialRow & { username: string; is_admin: boolean }>(
    `SELECT ${COLUMNS.replace(/(\w+)/g, 'c.$1')}, u.username, u.is_admin
       FROM credentials c JOIN users u ON u.id = c.user_id
      WHERE c.revoked_at IS NULL AND u.disabled_at IS NULL
      ORDER BY lower(u.username), c.created_at, c.id`,
  );
  return rows.map((r) => ({ ...toCredential(r), username: r.username, isAdmin: r.is_admin }));
}

/**
 * Marks a credential ended (idempotent: the first ending, and who did it, stay); returns it, or
 * null if there is no such credential. `byOwner`: removed by its owner, not revoked by an admin.
 */
export async function revokeCredential(db: Queryable, credentialId: Buffer, opts: { byOwner?: boolean } = {}): Promise<StoredCredential | null> {
  const { rows } = await db.query<CredentialRow>(
    `UPDATE credentials
        SET revoked_at = coalesce(revoked_at, now()),
            removed_by_owner = CASE WHEN revoked_at IS NULL THEN $2 ELSE removed_by_owner END
      WHERE credential_id = $1 RETURNING ${COLUMNS}`,
    [credentialId, opts.byOwner ?? false],
  );
  return rows[0] ? toCredential(rows[0]) : null;
}

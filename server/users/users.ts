/** People known to Keygate, each a Gogs username with a random WebAuthn user handle. */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.js';

export interface User {
  id: string;
  username: string;
  userHandle: Buffer;
  isAdmin: boolean;
  disabledAt: Date | null;
  createdAt: Date;
}

export interface UserRow {
  id: string;
  username: string;
  user_handle: Buffer;
  is_admin: boolean;
  disabled_at: Date | null;
  created_at: Date;
}

export const USER_COLUMNS = 'id, username, user_handle, is_admin, disabled_at, created_at';

export function userFromRow(row: UserRow): User {
  return {
    id: String(row.id),
    username: row.username,
    userHandle: row.user_handle,
    isAdmin: row.is_admin,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  };
}

/**
 * Gogs usernames: letters, digits, `_`, `-`, `.`, at most 35 characters. `-` alone is reserved by
 * Gogs (and is where Keygate lives), so no name may start with `-` or `.`.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,34}$/;

export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

/** Names Gogs 0.14 refuses to give a user (internal/database/users.go, reservedUsernames and `*.keys`). */
export const GOGS_RESERVED_USERNAMES: readonly string[] = Object.freeze([
  '-',
  'explore',
  'create',
  'assets',
  'css',
  'img',
  'js',
  'less',
  'plugins',
  'debug',
  'raw',
  'install',
  'api',
  'avatar',
  'user',
  'org',
  'help',
  'stars',
  'issues',
  'pulls',
  'commits',
  'repo',
  'template',
  'admin',
  'new',
  '.',
  '..',
]);
const GOGS_RESERVED = new Set(GOGS_RESERVED_USERNAMES);

/** Whether Gogs refuses this name for a user (any letter case): nobody can be signed in to Gogs under it. */
export function isReservedByGogs(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return GOGS_RESERVED.has(lower) || lower.endsWith('.keys');
}

/** 32 random bytes: WebAuthn §14.6.1 wants the handle to carry no personal information. */
export function newUserHandle(): Buffer {
  return randomBytes(32);
}

export async function findUserByUsername(db: Queryable, username: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
  return rows[0] ? userFromRow(rows[0]) : null;
}

export async function findUserById(db: Queryable, id: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ? userFromRow(rows[0]) : null;
}

export async function findUserByHandle(db: Queryable, handle: Buffer): Promise<User | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE user_handle = $1`, [handle]);
  return rows[0] ? userFromRow(rows[0]) : null;
}

/**
 * Creates the user, or returns the existing one with the same name (case-insensitively) if it was
 * created concurrently.
 */
export async function createOrGetUser(db: Queryable, username: string, userHandle: Buffer, isAdmin: boolean): Promise<User> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (username, user_handle, is_admin) VALUES ($1, $2, $3)
     ON CONFLICT ((lower(username))) DO NOTHING RETURNING ${USER_COLUMNS}`,
    [username, userHandle, isAdmin],
  );
  if (rows[0]) return userFromRow(rows[0]);
  const existing = await findUserByUsername(db, username);
  if (!existing) throw new Error(`user ${username} vanished during creation`);
  return existing;
}

/** The address Keygate tells the person about their keys at (server/mail/). */
export async function setUserEmail(db: Queryable, userId: string, email: string): Promise<void> {
  await db.query('UPDATE users SET email = $2, updated_at = now() WHERE id = $1', [userId, email]);
}

export async function grantAdmin(db: Queryable, userId: string): Promise<void> {
  await db.query('UPDATE users SET is_admin = true, updated_at = now() WHERE id = $1', [userId]);
}

export interface UserSummary extends User {
  activeCredentials: number;
}

export async function listUsers(db: Queryable): Promise<UserSummary[]> {
  const { rows } = await db.query<UserRow & { active: string }>(
    `SELECT ${USER_COLUMNS.split(', ')
      .map((c) => `u.${c}`)
      .join(', ')},
            (SELECT count(*) FROM credentials c WHERE c.user_id = u.id AND c.revoked_at IS NULL) AS active
       FROM users u ORDER BY lower(u.username)`,
  );
  return rows.map((r) => ({ ...userFromRow(r), activeCredentials: Number(r.active) }));
}

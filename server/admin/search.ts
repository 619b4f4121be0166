/** Finding people for the admin list: case-insensitive substring of the username, paged. */
import type { Queryable } from '../db/pool.js';

export interface UserListing {
  id: string;
  username: string;
  isAdmin: boolean;
  disabledAt: Date | null;
  createdAt: Date;
  /** Credentials that can still sign in. */
  activeDevices: number;
  /** Ended by an administrator. */
  revokedDevices: number;
  /** Ended by their owner. */
  removedDevices: number;
}

export interface UserSearch {
  users: UserListing[];
  /** Whether another page follows this one. */
  more: boolean;
}

export const USERS_PER_PAGE = 50;

/**
 * `strpos` rather than LIKE: the query is a plain substring, so `%` and `_` in it mean themselves
 * and need no escaping.
 */
export async function searchUsers(db: Queryable, opts: { q: string; page: number; perPage?: number }): Promise<UserSearch> {
  const perPage = opts.perPage ?? USERS_PER_PAGE;
  const { rows } = await db.query<{
    id: string;
    username: string;
    is_admin: boolean;
    disabled_at: Date | null;
    created_at: Date;
    active: string;
    revoked: string;
    removed: string;
  }>(
    `SELECT u.id, u.username, u.is_admin, u.disabled_at, u.created_at,
            count(c.id) FILTER (WHERE c.revoked_at IS NULL) AS active,
            count(c.id) FILTER (WHERE c.revoked_at IS NOT NULL AND NOT c.removed_by_owner) AS revoked,
            count(c.id) FILTER (WHERE c.revoked_at IS NOT NULL AND c.removed_by_owner) AS removed
       FROM users u LEFT JOIN credentials c ON c.user_id = u.id
      WHERE $1 = '' OR strpos(lower(u.username), lower($1)) > 0
      GROUP BY u.id
      ORDER BY lower(u.username), u.id
      LIMIT $2 OFFSET $3`,
    [opts.q, perPage + 1, (opts.page - 1) * perPage],
  );
  return {
    more: rows.length > perPage,
    users: rows.slice(0, perPage).map((r) => ({
      id: String(r.id),
      username: r.username,
      isAdmin: r.is_admin,
      disabledAt: r.disabled_at,
      createdAt: r.created_at,
      activeDevices: Number(r.active),
      revokedDevices: Number(r.revoked),
      removedDevices: Number(r.removed),
    })),
  };
}

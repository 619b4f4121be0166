/**
 * Ids as an admin types them: the whole id, or a unique prefix of it (at least MIN_PREFIX
 * characters, so that a slip of one or two characters cannot pick some other key). The whole id
 * always wins over a longer id it happens to begin; a prefix that fits none, or several, is refused
 * with what it matched.
 */
import type { Queryable } from '../db/pool.js';
import { inviteExists, INVITE_ID_PATTERN, listPendingInvites } from '../enrollment/invites.js';
import { decodeCredentialId } from '../webauthn/credentials.js';
import { UsageError } from './errors.js';

export const MIN_PREFIX = 4;

/** How many matches an ambiguous prefix lists. */
const SHOWN = 5;

const tooShort = (text: string) => (text.length < MIN_PREFIX ? ` (a prefix needs at least ${MIN_PREFIX} characters)` : '');

/** A credential as the CLI names it. */
export interface CredentialMatch {
  /** base64url, in full. */
  credentialId: string;
  nickname: string;
  username: string;
  revokedAt: Date | null;
}

interface MatchRow {
  credential_id: Buffer;
  nickname: string;
  username: string;
  revoked_at: Date | null;
}

const MATCH = `SELECT c.credential_id, c.nickname, u.username, c.revoked_at FROM credentials c JOIN users u ON u.id = c.user_id`;

/**
 * The credential `text` names: its base64url id (as `devices` prints it) or a unique prefix of
 * one, revoked credentials included (so that revoking one twice is told, not "unknown").
 */
export async function resolveCredential(db: Queryable, text: string): Promise<CredentialMatch> {
  if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length > 1400) throw new UsageError(`"${text}" is not a key id (base64url, as printed by \`devices\`)`);
  const exact = decodeCredentialId(text);
  let rows: MatchRow[] = exact ? (await db.query<MatchRow>(`${MATCH} WHERE c.credential_id = $1`, [exact])).rows : [];
  if (!rows.length && text.length >= MIN_PREFIX) {
    // base64url of the stored bytes: PostgreSQL's base64 with its alphabet swapped, its padding and line breaks dropped.
    ({ rows } = await db.query<MatchRow>(
      `${MATCH} WHERE left(translate(encode(c.credential_id, 'base64'), E'+/=\\n', '-_'), length($1)) = $1
        ORDER BY c.created_at, c.id LIMIT ${SHOWN + 1}`,
      [text],
    ));
  }
  const matches = rows.map((r) => ({
    credentialId: r.credential_id.toString('base64url'),
    nickname: r.nickname,
    username: r.username,
    revokedAt: r.revoked_at,
  }));
  const [only] = matches;
  if (!only) throw new UsageError(`There is no key with id "${text}"${tooShort(text)}`);
  if (matches.length > 1) {
    const listed = matches.slice(0, SHOWN).map((m) => `${m.credentialId} (${m.username}'s ${m.nickname})`);
    throw new UsageError(`"${text}" matches ${matches.length > SHOWN ? `more than ${SHOWN}` : matches.length} keys: ${listed.join(', ')}; give more of the id`);
  }
  return only;
}

/**
 * The invite `text` names: its id (as `invites` prints it), whatever its state, or a unique prefix
 * of a pending one's id.
 */
export async function resolveInviteId(db: Queryable, text: string): Promise<string> {
  if (!INVITE_ID_PATTERN.test(text)) throw new UsageError(`"${text}" is not an invite id (a number, as printed by \`invites\`)`);
  if (await inviteExists(db, text)) return text;
  if (text.length >= MIN_PREFIX) {
    const { invites, more } = await listPendingInvites(db, { idPrefix: text, limit: SHOWN });
    const [only] = invites;
    if (only && invites.length === 1) return only.id;
    if (invites.length > 1) {
      const listed = invites.map((i) => `${i.id} for ${i.username}`);
      throw new UsageError(`"${text}" matches ${more ? `more than ${SHOWN}` : invites.length} pending invites: ${listed.join(', ')}; give more of the id`);
    }
  }
  throw new UsageError(`There is no invite with id ${text}${tooShort(text)}`);
}

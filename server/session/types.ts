/**
 * The shapes shared by the session modules: what a signed-in session holds, and what Keygate's
 * store adds to express-session's. (Kept apart so that auth.ts, middleware.ts and cache.ts need
 * not import one another.)
 */
import type session from 'express-session';
import type { AuditEvent } from '../audit/record.js';
import type { RowWrite } from '../db/pool.js';
import type { CredentialUse, CredentialWithOwner } from '../webauthn/credentials.js';

/** Why a signed-in session ended; what the person is told on their next page (end-reasons.ts). */
export type SessionEndReason = 'signed_out' | 'timed_out' | 'credential_revoked' | 'credential_removed' | 'user_disabled' | 'ended_by_admin' | 'ended_by_user';

export interface SessionAuth {
  userId: string;
  username: string;
  /** base64url credential id that signed this session in: revoking it ends this session. */
  credentialId: string;
  signedInAt: number;
  lastSeenAt: number;
  /** The address and browser that signed in, for the person's list of their sessions. */
  ip?: string | null;
  userAgent?: string | null;
}

/** What the session store adds to express-session's Store (see createSessionStore). */
export interface ReplacingStore extends session.Store {
  /**
   * Saves a new session and deletes the one it replaces in one statement: sign-in's
   * regenerate-and-save in one round trip instead of a DELETE and an INSERT. With `audit`, that
   * audit row is inserted by the same statement: the session never exists without it. A signed-in
   * session (the only kind it writes) is written only if its key is still active and its person
   * enabled: false if not (and then neither the session nor the audit row is written). With
   * `credentialUse`, the key's new counter and last use are written by the same statement, and
   * only if the counter has not moved since it was read: false (and nothing written) if it has.
   */
  replace(oldSid: string | undefined, sid: string, sess: session.SessionData, opts?: { audit?: AuditEvent; credentialUse?: CredentialUse }): Promise<boolean>;
  /** This session's row, for a statement another module runs (see SessionMiddleware.rowWrite); null for a signed-in session. */
  rowWrite(sid: string, sess: session.SessionData): RowWrite | null;
  /** Ends the session with this id (its row goes) and notes why, for that browser's next page. */
  end(sid: string, reason: SessionEndReason): Promise<void>;
  /**
   * The next get() also takes the ceremony out of the row, and reads the credential named here
   * (createSessionMiddleware's takingCeremony); what it read is left in `credential`.
   */
  takeCeremonyOnLoad: CeremonyLoad | null;
  /** Set by express-session's middleware: a new session id and Session on req. */
  generate?: (req: unknown) => void;
}

/** A session load that also takes the ceremony and reads a credential (ReplacingStore.takeCeremonyOnLoad). */
export interface CeremonyLoad {
  credentialId: Buffer | null;
  /** Filled by the load: the credential with that id and its owner, or null. */
  credential?: CredentialWithOwner | null;
}

/**
 * The admin command line's commands, each against the database; loaded by server/cli.ts once a
 * command is named (help needs none of this).
 */
import { parseArgs } from 'node:util';
import { CLI_ACTOR } from '../audit/actor.js';
import { queryAudit } from '../audit/query.js';
import { ConfigError, loadConfig, parseDuration, type Config } from '../config.js';
import { INVITE_TTL_RULE, isValidInviteTtl } from '../enrollment/limits.js';
import { EmbeddedPostgresError, openDatabase, type EmbeddedDatabase } from '../db/embedded.js';
import { runMigrations } from '../db/migrate.js';
import { createPool, type Db } from '../db/pool.js';
import { endDevice, renameDevice } from '../devices/actions.js';
import { authenticatorName } from '../devices/models.js';
import { AppError } from '../errors.js';
import { InviteInputError, issueInvite } from '../enrollment/invites.js';
import { syncAdminsFromGogs } from '../gogs/users.js';
import { createLogger } from '../log.js';
import { describePolicy, reviewCredentials } from '../policy/describe.js';
import { loadMetadata, MetadataError } from '../policy/metadata.js';
import { AuthenticatorPolicy } from '../policy/policy.js';
import { runningServers } from '../ops/servers.js';
import { forTerminal } from '../text/safe-text.js';
import { listSessionsOfUser } from '../session/sql.js';
import { disableUser, enableUser, endAllSessions, requireUser } from '../users/actions.js';
import { findUserByUsername, listUsers } from '../users/users.js';
import { decodeCredentialId, listCredentialsOfUser } from '../webauthn/credentials.js';
import type { CliIo } from './io.js';
import { USAGE } from './usage.js';

class UsageError extends Error {}

/** Where a command writes: `out` for its results (stdout), `note` for remarks and warnings (stderr). */
type Command = (ctx: { db: Db; config: Config; args: string[]; out: (line: string) => void; note: (line: string) => void }) => Promise<void>;

function one(args: string[], command: string, what: string): string {
  const [only] = args;
  if (args.length !== 1 || only === undefined) throw new UsageError(`${command} needs exactly one ${what}`);
  return only;
}

function credentialIdArg(value: string): string {
  if (!decodeCredentialId(value)) throw new UsageError(`"${value}" is not a credential id (base64url, as printed by \`devices\`)`);
  return value;
}

/** 0001-01-01T00:00Z: a duration reaching further back would not fit a timestamp (and filters nothing). */
const EARLIEST = new Date(0).setUTCFullYear(1, 0, 1);

/** An ISO time, or a duration meaning "that long ago". */
function timeArg(value: string, flag: string): Date {
  const ago = parseDuration(value);
  if (ago !== undefined) {
    const at = new Date(Date.now() - ago);
    if (Number.isNaN(at.getTime()) || at.getTime() < EARLIEST) throw new UsageError(`${flag} "${value}" reaches back before the year 1`);
    return at;
  }
  const bad = () => new UsageError(`${flag} "${value}" is neither an ISO time (2026-01-31T12:00Z) nor a duration (24h)`);
  const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  const at = new Date(value);
  if (!ymd || Number.isNaN(at.getTime())) throw bad();
  // Date rolls an impossible day over (2026-02-31 becomes 3 March): refuse it instead.
  const [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) throw bad();
  return at;
}

const iso = (d: Date | null | undefined) => d?.toISOString() ?? 'never';

const commands: Record<string, Command> = {
  async migrate({ db, out }) {
    const applied = await runMigrations(db);
    out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  },

  async invite({ db, config, args, out, note }) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { admin: { type: 'boolean', default: false }, ttl: { type: 'string' }, email: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('invite needs exactly one <username>');
    let ttlMs: number | undefined;
    if (values.ttl !== undefined) {
      ttlMs = parseDuration(values.ttl);
      if (ttlMs === undefined) throw new UsageError(`--ttl "${values.ttl}" is not a duration (e.g. 30m, 24h, 7d)`);
      if (!isValidInviteTtl(ttlMs)) throw new UsageError(`--ttl "${values.ttl}" must be ${INVITE_TTL_RULE}`);
    }
    const created = await issueInvite(db, config, { username: positionals[0]!, grantsAdmin: values.admin, ttlMs, email: values.email }, CLI_ACTOR);
    if (created.gogsAccount === 'created')
      note(`Created ${created.invite.username} in Gogs (random password, never shown: sign in with a key, use access tokens for git)`);
    note(
      `${created.invite.userId ? 'Recovery invite' : 'Invite'} for ${created.invite.username}${created.invite.grantsAdmin ? ' (admin)' : ''}, valid until ${created.invite.expiresAt.toISOString()}, single use:`,
    );
    out(created.url);
  },

  async 'sync-admins'({ db, config, args, out, note }) {
    if (args.length) throw new UsageError('sync-admins takes no arguments');
    const result = await syncAdminsFromGogs(db, config, CLI_ACTOR);
    for (const c of result.changed) out(`${c.username}\t${c.isAdmin ? 'now admin' : 'no longer admin'}`);
    for (const s of result.skipped) note(`${s.username}: skipped, ${s.reason}`);
    note(`${result.changed.length} changed, ${result.unchanged.length} unchanged, ${result.skipped.length} skipped`);
  },

  async users({ db, args, out, note }) {
    if (args.length) throw new UsageError('users takes no arguments');
    const users = await listUsers(db);
    if (!users.length) note('no users yet: create one with `npm run cli -- invite <username>`');
    for (const u of users) {
      out(
        [
          u.username,
          u.isAdmin ? 'admin' : 'user',
          u.disabledAt ? 'disabled' : 'active',
          `${u.activeCredentials} device(s)`,
          `created ${u.createdAt.toISOString()}`,
        ].join('\t'),
      );
    }
  },

  async devices({ db, args, out, note }) {
    const name = one(args, 'devices', '<username>');
    const user = await findUserByUsername(db, name);
    if (!user) throw new UsageError(`no user named "${name}"`);
    const creds = await listCredentialsOfUser(db, user.id, { includeRevoked: true });
    if (!creds.length) note(`${user.username} has no devices`);
    for (const c of creds) {
      out(
        [
          c.credentialId,
          c.nickname,
          authenticatorName(c.aaguid),
          c.revokedAt ? `revoked ${iso(c.revokedAt)}` : 'active',
          `created ${iso(c.createdAt)}`,
          `last used ${iso(c.lastUsedAt)}`,
        ].join('\t'),
      );
    }
  },

  async policy({ db, config, args, out }) {
    if (args.length) throw new UsageError('policy takes no arguments');
    const policy = new AuthenticatorPolicy(config.policy, await loadMetadata(config, createLogger('error')));
    for (const line of describePolicy(policy)) out(`${line.setting}\t${line.value}\t(${line.variable})`);
    const refused = await reviewCredentials(db, policy);
    out('');
    out(refused.length ? `${refused.length} active key(s) this policy refuses at their next sign-in:` : 'Every active key meets this policy.');
    for (const r of refused) {
      out([r.username + (r.isAdmin ? ' (admin)' : ''), r.credentialId, r.nickname, r.model, r.violations.map((v) => v.reason).join(',')].join('\t'));
    }
  },

  async revoke({ db, args, out }) {
    if (args.length !== 1) throw new UsageError('revoke needs exactly one <credential-id> (see `devices <username>`)');
    const id = credentialIdArg(args[0]!);
    const ended = await endDevice(db, id, CLI_ACTOR, { event: 'credential_revoked' }).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'no_such_credential') throw new UsageError(`no credential with id "${id}"`);
      throw err;
    });
    out(`revoked ${ended.credential.credentialId} (${ended.credential.nickname}); ended ${ended.sessionsEnded} session(s)`);
  },

  async rename({ db, args, out }) {
    if (args.length !== 2) throw new UsageError('rename needs a <credential-id> and a <name> (quote a name with spaces)');
    const renamed = await renameDevice(db, credentialIdArg(args[0]!), args[1]!, CLI_ACTOR);
    out(`renamed ${renamed.credentialId} to "${renamed.nickname}"`);
  },

  async disable({ db, args, out }) {
    const { user, sessionsEnded } = await disableUser(db, one(args, 'disable', '<username>'), CLI_ACTOR);
    out(`disabled ${user.username}; ended ${sessionsEnded} session(s)`);
  },

  async enable({ db, args, out }) {
    const user = await enableUser(db, one(args, 'enable', '<username>'), CLI_ACTOR);
    out(`enabled ${user.username}`);
  },

  async sessions({ db, config, args, out, note }) {
    const user = await requireUser(db, one(args, 'sessions', '<username>'));
    const sessions = await listSessionsOfUser(db, user.id, config);
    if (!sessions.length) note(`${user.username} has no active sessions`);
    for (const s of sessions) {
      out(
        [s.idPrefix, `credential ${s.credentialId}`, `signed in ${iso(s.signedInAt)}`, `last seen ${iso(s.lastSeenAt)}`, `expires ${iso(s.expiresAt)}`].join(
          '\t',
        ),
      );
    }
  },

  async 'logout-everywhere'({ db, args, out }) {
    const { user, sessionsEnded } = await endAllSessions(db, one(args, 'logout-everywhere', '<username>'), CLI_ACTOR);
    out(`ended ${sessionsEnded} session(s) of ${user.username}`);
  },

  async audit({ db, args, out }) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        user: { type: 'string' },
        event: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length) throw new UsageError(`audit takes options only, not "${positionals[0]}"`);
    // An empty filter (say, `--user "$NAME"` with NAME unset) would otherwise print everyone's events.
    for (const flag of ['user', 'event'] as const) if (values[flag]?.trim() === '') throw new UsageError(`--${flag} needs a value`);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit "${values.limit}" must be a whole number from 1 to 1000`);
    const rows = await queryAudit(db, {
      username: values.user,
      event: values.event,
      since: values.since === undefined ? undefined : timeArg(values.since, '--since'),
      until: values.until === undefined ? undefined : timeArg(values.until, '--until'),
      limit,
    });
    for (const r of rows) {
      if (values.json) out(JSON.stringify(r));
      else out([iso(r.at), r.event, r.outcome, r.reason ?? '-', r.actor, r.subjectUsername ?? '-', r.ip ?? '-', r.requestId ?? '-'].join('\t'));
    }
  },
};

/**
 * The CLI and the server must share settings: an invite printed with another PUBLIC_URL than the
 * server's leads nowhere, and a CLI on another database (say, the default ./data while the server
 * runs with DATABASE_URL) changes nothing the server sees. What can be told is told: a server on
 * this database with another public URL (an invite is then refused), or no server on it at all.
 */
async function compareWithServers(db: Db, config: Config, database: EmbeddedDatabase, command: string, note: (line: string) => void): Promise<void> {
  const servers = await runningServers(db);
  const other = servers.find((s) => s.publicUrl !== config.origin);
  if (other) {
    const problem =
      `the Keygate server on this database (${other.host}, pid ${other.pid}, since ${iso(other.startedAt)}) serves ${other.publicUrl}, ` +
      `but this command has PUBLIC_URL ${config.origin}: run it with the server's settings (its .env, CONFIG_FILE or environment)`;
    if (command === 'invite') throw new UsageError(`${problem}. No invite was made: its link would lead nowhere.`);
    note(`keygate: warning: ${problem}`);
  } else if (servers.length === 0 && database.startedHere) {
    note(
      `keygate: note: no Keygate server is running on this database (the embedded PostgreSQL in ${config.dataDir}, started for this command); ` +
        `if yours runs, run the CLI with its settings (its .env, CONFIG_FILE or environment)`,
    );
  }
}

/** Runs a named command (see runCli); unknown names get the usage. */
export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const [name = '', ...args] = argv;
  const command = commands[name];
  if (!command) {
    io.stderr(`keygate: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(io.env, { dotenvFile: io.dotenvFile });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`keygate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  for (const notice of config.notices) io.stderr(`keygate: warning: ${notice}\n`);
  let database: EmbeddedDatabase;
  try {
    database = await openDatabase(config);
  } catch (err) {
    if (err instanceof EmbeddedPostgresError) {
      io.stderr(`keygate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const db = createPool(database.url, 2);
  try {
    // Every command works against a current schema (and `migrate` reports what it did).
    if (name !== 'migrate') await runMigrations(db);
    // Names and user agents came from people and browsers: never raw control characters on a terminal.
    const out = (line: string) => io.stdout(`${forTerminal(line)}\n`);
    const note = (line: string) => io.stderr(`${forTerminal(line)}\n`);
    if (name !== 'migrate') await compareWithServers(db, config, database, name, note);
    await command({ db, config, args, out, note });
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof InviteInputError || err instanceof MetadataError || (err instanceof AppError && err.status < 500)) {
      io.stderr(`keygate: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`keygate: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await db.end();
    await database.stop();
  }
}

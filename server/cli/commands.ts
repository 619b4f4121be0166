/**
 * The admin command line's commands, each against the database; loaded by server/cli.ts once a
 * command is named (help needs none of this).
 */
import { parseArgs } from 'node:util';
import { CLI_ACTOR } from '../audit/actor.js';
import { AUDIT_EVENTS } from '../audit/events.js';
import { queryAudit } from '../audit/query.js';
import { ConfigError, loadConfig, parseDuration, type Config } from '../config.js';
import { INVITE_TTL_RULE, isValidInviteTtl } from '../enrollment/limits.js';
import { EmbeddedPostgresError, openDatabase, type EmbeddedDatabase } from '../db/embedded.js';
import { runMigrations } from '../db/migrate.js';
import { createPool, type Db } from '../db/pool.js';
import { endDevice, renameDevice } from '../devices/actions.js';
import { authenticatorName } from '../devices/models.js';
import { AppError } from '../errors.js';
import { InviteInputError, issueInvite, listPendingInvites, reissueInvite, revokeInvite } from '../enrollment/invites.js';
import { checkGogs } from '../gogs/check.js';
import { syncAdminsFromGogs } from '../gogs/users.js';
import { createLogger } from '../log.js';
import { createMailer, MAIL_FLUSH_MS, type Notifier } from '../mail/mailer.js';
import { notifyRecoveryLink, notifyRevoked } from '../mail/notify.js';
import { describePolicy, reviewCredentials } from '../policy/describe.js';
import { loadMetadata, MetadataError } from '../policy/metadata.js';
import { AuthenticatorPolicy } from '../policy/policy.js';
import { runningServers } from '../ops/servers.js';
import { forTerminal } from '../text/safe-text.js';
import { listSessionsOfUser } from '../session/sql.js';
import { disableUser, enableUser, endAllSessions, requireUser } from '../users/actions.js';
import { listUsers } from '../users/users.js';
import { listCredentialsOfUser } from '../webauthn/credentials.js';
import { UsageError } from './errors.js';
import { resolveCredential, resolveInviteId } from './ids.js';
import type { CliIo } from './io.js';
import { USAGE } from './usage.js';

/**
 * Where a command writes: `out` for its results (stdout), `note` for remarks and warnings (stderr).
 * It may return its exit status (default 0: done).
 */
type Command = (ctx: {
  db: Db;
  config: Config;
  args: string[];
  out: (line: string) => void;
  note: (line: string) => void;
  mail: Notifier;
}) => Promise<number | void>;

function one(args: string[], command: string, what: string): string {
  const [only] = args;
  if (args.length !== 1 || only === undefined) throw new UsageError(`${command} needs exactly one ${what}`);
  return only;
}

/** --ttl's value: a duration an invite may last. */
function ttlArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--ttl "${value}" is not a duration (e.g. 30m, 24h, 7d)`);
  if (!isValidInviteTtl(ms)) throw new UsageError(`--ttl "${value}" must be ${INVITE_TTL_RULE}`);
  return ms;
}

/** A listing's only option, --json, and no other argument. */
function listingArgs(args: string[], command: string): { json: boolean } {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  if (positionals.length) throw new UsageError(`${command} takes no arguments (only --json), not "${positionals[0]}"`);
  return { json: values.json };
}

/** One column of a listing: its header and its cell. */
type Column<T> = [header: string, cell: (row: T) => string | number];

/**
 * Prints a listing: a header line, then one tab-separated line per row; or with --json one JSON
 * object per line and no header. Nothing at all on stdout when there are no rows (the command
 * says so on stderr), so that a script reading stdout sees only rows.
 */
function table<T>(out: (line: string) => void, rows: readonly T[], opts: { json: boolean; columns: Array<Column<T>>; record: (row: T) => unknown }): void {
  if (!rows.length) return;
  if (opts.json) {
    for (const r of rows) out(JSON.stringify(opts.record(r)));
    return;
  }
  out(opts.columns.map(([header]) => header).join('\t'));
  for (const r of rows) out(opts.columns.map(([, cell]) => String(cell(r))).join('\t'));
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
const isoOrDash = (d: Date | null | undefined) => d?.toISOString() ?? '-';

const commands: Record<string, Command> = {
  async migrate({ db, out }) {
    const applied = await runMigrations(db);
    out(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date');
  },

  async invite({ db, config, args, out, note, mail }) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { admin: { type: 'boolean', default: false }, ttl: { type: 'string' }, email: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('invite needs exactly one <username>');
    const ttlMs = ttlArg(values.ttl);
    const created = await issueInvite(db, config, { username: positionals[0]!, grantsAdmin: values.admin, ttlMs, email: values.email }, CLI_ACTOR);
    notifyRecoveryLink(mail, created, CLI_ACTOR);
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

  async 'check-gogs'({ db, config, args, out, note }) {
    const { json } = listingArgs(args, 'check-gogs');
    const findings = await checkGogs(config, db);
    if (json) for (const f of findings) out(JSON.stringify(f));
    else
      for (const f of findings) {
        out(`${f.status.toUpperCase().padEnd(4)}  ${f.check}: ${f.detail}`);
        if (f.fix && f.status !== 'ok') out(`      fix: ${f.fix}`);
      }
    const failed = findings.filter((f) => f.status === 'fail').length;
    note(
      failed
        ? `${failed} problem${failed === 1 ? '' : 's'} found in Gogs' set-up (above, each with its fix)`
        : 'Gogs is set up as Keygate needs (as far as can be seen from here)',
    );
    return failed ? 1 : 0;
  },

  async users({ db, args, out, note }) {
    const { json } = listingArgs(args, 'users');
    const users = await listUsers(db);
    if (!users.length) note('No users yet: create one with `npm run cli -- invite <username>`');
    table(out, users, {
      json,
      columns: [
        ['USERNAME', (u) => u.username],
        ['ROLE', (u) => (u.isAdmin ? 'admin' : 'user')],
        ['STATE', (u) => (u.disabledAt ? 'disabled' : 'active')],
        ['DEVICES', (u) => u.activeCredentials],
        ['CREATED', (u) => iso(u.createdAt)],
      ],
      record: (u) => ({ username: u.username, isAdmin: u.isAdmin, disabledAt: u.disabledAt, activeDevices: u.activeCredentials, createdAt: u.createdAt }),
    });
  },

  async devices({ db, args, out, note }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    const user = await requireUser(db, one(positionals, 'devices', '<username>'));
    const creds = await listCredentialsOfUser(db, user.id, { includeRevoked: true });
    if (!creds.length) note(`${user.username} has no devices`);
    table(out, creds, {
      json: values.json,
      columns: [
        ['CREDENTIAL ID', (c) => c.credentialId],
        ['NAME', (c) => c.nickname],
        ['MODEL', (c) => authenticatorName(c.aaguid)],
        ['STATE', (c) => (c.revokedAt ? 'revoked' : 'active')],
        ['CREATED', (c) => iso(c.createdAt)],
        ['LAST USED', (c) => iso(c.lastUsedAt)],
        ['REVOKED', (c) => isoOrDash(c.revokedAt)],
      ],
      record: (c) => ({
        credentialId: c.credentialId,
        nickname: c.nickname,
        model: authenticatorName(c.aaguid),
        aaguid: c.aaguid,
        createdAt: c.createdAt,
        lastUsedAt: c.lastUsedAt,
        revokedAt: c.revokedAt,
      }),
    });
  },

  async policy({ db, config, args, out }) {
    if (args.length) throw new UsageError('policy takes no arguments');
    const policy = new AuthenticatorPolicy(config.policy, await loadMetadata(config, createLogger('error')));
    table(out, describePolicy(policy), {
      json: false,
      columns: [
        ['SETTING', (line) => line.setting],
        ['VALUE', (line) => line.value],
        ['VARIABLE', (line) => `(${line.variable})`],
      ],
      record: (line) => line,
    });
    const refused = await reviewCredentials(db, policy);
    out('');
    out(refused.length ? `${refused.length} active key(s) this policy refuses at their next sign-in:` : 'Every active key meets this policy.');
    table(out, refused, {
      json: false,
      columns: [
        ['USERNAME', (r) => r.username + (r.isAdmin ? ' (admin)' : '')],
        ['CREDENTIAL ID', (r) => r.credentialId],
        ['NAME', (r) => r.nickname],
        ['MODEL', (r) => r.model],
        ['REASONS', (r) => r.violations.map((v) => v.reason).join(',')],
      ],
      record: (r) => r,
    });
  },

  async revoke({ db, args, out, mail }) {
    if (args.length !== 1) throw new UsageError('revoke needs exactly one <key-id> (see `devices <username>`)');
    const found = await resolveCredential(db, args[0]!);
    // Told, not redone: revoking again would change nothing but add an audit row.
    if (found.revokedAt) {
      throw new UsageError(
        `Credential ${found.credentialId} (${found.username}'s ${found.nickname}) was already revoked, on ${iso(found.revokedAt)}; nothing was changed`,
      );
    }
    const ended = await endDevice(db, found.credentialId, CLI_ACTOR, { event: 'credential_revoked' });
    notifyRevoked(mail, ended, CLI_ACTOR);
    out(`Revoked ${ended.credential.credentialId} (${ended.credential.nickname}); ended ${ended.sessionsEnded} session(s)`);
  },

  async rename({ db, args, out }) {
    if (args.length !== 2) throw new UsageError('rename needs a <key-id> and a <name> (quote a name with spaces)');
    const found = await resolveCredential(db, args[0]!);
    const renamed = await renameDevice(db, found.credentialId, args[1]!, CLI_ACTOR);
    out(`Renamed ${renamed.credentialId} to "${renamed.nickname}"`);
  },

  async disable({ db, args, out }) {
    const { user, sessionsEnded } = await disableUser(db, one(args, 'disable', '<username>'), CLI_ACTOR);
    out(`Disabled ${user.username}; ended ${sessionsEnded} session(s)`);
  },

  async enable({ db, args, out }) {
    const user = await enableUser(db, one(args, 'enable', '<username>'), CLI_ACTOR);
    out(`Enabled ${user.username}`);
  },

  async sessions({ db, config, args, out, note }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    const user = await requireUser(db, one(positionals, 'sessions', '<username>'));
    const sessions = await listSessionsOfUser(db, user.id, config);
    if (!sessions.length) note(`${user.username} has no active sessions`);
    table(out, sessions, {
      json: values.json,
      columns: [
        ['SESSION', (s) => s.idPrefix],
        ['CREDENTIAL ID', (s) => s.credentialId],
        ['SIGNED IN', (s) => iso(s.signedInAt)],
        ['LAST SEEN', (s) => iso(s.lastSeenAt)],
        ['EXPIRES', (s) => iso(s.expiresAt)],
      ],
      // The key names a session to end it: a page's business, not the log's.
      record: ({ key: _key, ...s }) => s,
    });
  },

  async 'logout-everywhere'({ db, args, out }) {
    const { user, sessionsEnded } = await endAllSessions(db, one(args, 'logout-everywhere', '<username>'), CLI_ACTOR);
    out(`Ended ${sessionsEnded} session(s) of ${user.username}`);
  },

  async invites({ db, args, out, note }) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { user: { type: 'string' }, json: { type: 'boolean', default: false } },
    });
    if (positionals.length) throw new UsageError(`invites takes options only, not "${positionals[0]}"`);
    if (values.user?.trim() === '') throw new UsageError('--user needs a value');
    const { invites } = await listPendingInvites(db, { username: values.user });
    if (!invites.length) note(values.user ? `No pending invites for ${values.user}` : 'No pending invites');
    table(out, invites, {
      json: values.json,
      columns: [
        ['ID', (i) => i.id],
        ['USERNAME', (i) => i.username],
        ['KIND', (i) => (i.recovery ? 'recovery' : 'invite')],
        ['ADMIN', (i) => (i.grantsAdmin ? 'yes' : 'no')],
        ['CREATED BY', (i) => i.createdBy],
        ['CREATED', (i) => iso(i.createdAt)],
        ['EXPIRES', (i) => iso(i.expiresAt)],
      ],
      record: (i) => i,
    });
  },

  async 'revoke-invite'({ db, args, out }) {
    if (args.length !== 1) throw new UsageError('revoke-invite needs exactly one <invite-id> (see `invites`)');
    const revoked = await revokeInvite(db, await resolveInviteId(db, args[0]!), CLI_ACTOR);
    out(`Revoked invite ${revoked.id} for ${revoked.username}; its link no longer works`);
  },

  async 'reissue-invite'({ db, config, args, out, note, mail }) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ttl: { type: 'string' } } });
    if (positionals.length !== 1) throw new UsageError('reissue-invite needs exactly one <invite-id> (see `invites`)');
    const ttlMs = ttlArg(values.ttl);
    const { revoked, created } = await reissueInvite(db, config, await resolveInviteId(db, positionals[0]!), { ttlMs }, CLI_ACTOR);
    notifyRecoveryLink(mail, created, CLI_ACTOR);
    note(
      `Revoked invite ${revoked.id}; new ${created.invite.userId ? 'recovery invite' : 'invite'} ${created.invite.id} for ${created.invite.username}` +
        `${created.invite.grantsAdmin ? ' (admin)' : ''}, valid until ${created.invite.expiresAt.toISOString()}, single use:`,
    );
    out(created.url);
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
    // An event Keygate never writes would match nothing: say so, rather than print an empty log.
    if (values.event !== undefined && !(AUDIT_EVENTS as readonly string[]).includes(values.event)) {
      throw new UsageError(`--event "${values.event}" is not an event Keygate records; the events are: ${AUDIT_EVENTS.join(', ')}`);
    }
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit "${values.limit}" must be a whole number from 1 to 1000`);
    const rows = await queryAudit(db, {
      username: values.user,
      event: values.event,
      since: values.since === undefined ? undefined : timeArg(values.since, '--since'),
      until: values.until === undefined ? undefined : timeArg(values.until, '--until'),
      limit,
    });
    table(out, rows, {
      json: values.json,
      columns: [
        ['TIME', (r) => iso(r.at)],
        ['EVENT', (r) => r.event],
        ['OUTCOME', (r) => r.outcome],
        ['REASON', (r) => r.reason ?? '-'],
        ['ACTOR', (r) => r.actor],
        ['USERNAME', (r) => r.subjectUsername ?? '-'],
        ['IP', (r) => r.ip ?? '-'],
        ['REQUEST ID', (r) => r.requestId ?? '-'],
      ],
      record: (r) => r,
    });
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
    // Each prints a link: one under another origin leads nowhere.
    if (command === 'invite' || command === 'reissue-invite') {
      throw new UsageError(`${problem.charAt(0).toUpperCase()}${problem.slice(1)}. No invite was made: its link would lead nowhere.`);
    }
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
    io.stderr(`keygate: Unknown command "${name}"\n\n${USAGE}`);
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
  // Email about what a command did (SMTP_URL): a failure to send is a warning, never the command's failure.
  const mail = createMailer(config, db, {
    warn: (_fields, message) => io.stderr(`keygate: warning: ${message}\n`),
    debug: () => {},
  });
  try {
    // Every command works against a current schema (and `migrate` reports what it did).
    if (name !== 'migrate') await runMigrations(db);
    // Names and user agents came from people and browsers: never raw control characters on a terminal.
    const out = (line: string) => io.stdout(`${forTerminal(line)}\n`);
    const note = (line: string) => io.stderr(`${forTerminal(line)}\n`);
    if (name !== 'migrate') await compareWithServers(db, config, database, name, note);
    return (await command({ db, config, args, out, note, mail })) ?? 0;
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
    // Before the pool ends: sending looks the person up.
    await mail.close(Math.min(config.shutdownTimeoutMs, MAIL_FLUSH_MS));
    await db.end();
    await database.stop();
  }
}

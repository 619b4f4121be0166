/**
 * The admin command line: `npm run cli -- <command>`. Each command exits non-zero with a clear
 * message on bad input.
 */
import { parseArgs } from 'node:util';
import { recordEvent } from './audit/record.js';
import { ConfigError, loadConfig, MAX_INVITE_TTL_MS, parseDuration, type Config } from './config.js';
import { openDatabase } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { createPool, withTransaction, type Db } from './db/pool.js';
import { createInvite, InviteInputError } from './enrollment/invites.js';
import { endSessionsOfCredential } from './session/end.js';
import { findUserByUsername, listUsers } from './users/users.js';
import { decodeCredentialId, listCredentialsOfUser, revokeCredential } from './webauthn/credentials.js';

class UsageError extends Error {}

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate                                         apply database migrations
  invite <username> [--admin] [--ttl <duration>]  print a one-time enrolment URL (ttl e.g. 30m, 24h, 7d)
  users                                           list users
  devices <username>                              list a user's credentials, one per line
  revoke <credential-id>                          revoke a credential and end its sessions
`;

type Command = (ctx: { db: Db; config: Config; args: string[]; out: (line: string) => void }) => Promise<void>;

const commands: Record<string, Command> = {
  async migrate({ db, out }) {
    const applied = await runMigrations(db);
    out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  },

  async invite({ db, config, args, out }) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { admin: { type: 'boolean', default: false }, ttl: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('invite needs exactly one <username>');
    let ttlMs: number | undefined;
    if (values.ttl !== undefined) {
      ttlMs = parseDuration(values.ttl);
      if (ttlMs === undefined) throw new UsageError(`--ttl "${values.ttl}" is not a duration (e.g. 30m, 24h, 7d)`);
      if (ttlMs < 1000 || ttlMs > MAX_INVITE_TTL_MS) throw new UsageError(`--ttl "${values.ttl}" must be between 1s and 30d`);
    }
    const created = await withTransaction(db, async (tx) => {
      const c = await createInvite(tx, config, { username: positionals[0], grantsAdmin: values.admin, ttlMs, createdBy: 'cli' });
      await recordEvent(tx, {
        event: 'invite_created',
        outcome: 'success',
        actor: 'cli',
        subjectUserId: c.invite.userId,
        subjectUsername: c.invite.username,
        details: { inviteId: c.invite.id, admin: c.invite.grantsAdmin, recovery: c.invite.userId !== null, expiresAt: c.invite.expiresAt },
      });
      return c;
    });
    process.stderr.write(
      `${created.invite.userId ? 'Recovery invite' : 'Invite'} for ${created.invite.username}${created.invite.grantsAdmin ? ' (admin)' : ''}, valid until ${created.invite.expiresAt.toISOString()}, single use:\n`,
    );
    out(created.url);
  },

  async users({ db, args, out }) {
    if (args.length) throw new UsageError('users takes no arguments');
    const users = await listUsers(db);
    if (!users.length) process.stderr.write('no users yet: create one with `npm run cli -- invite <username>`\n');
    for (const u of users) {
      out([u.username, u.isAdmin ? 'admin' : 'user', u.disabledAt ? 'disabled' : 'active', `${u.activeCredentials} device(s)`, `created ${u.createdAt.toISOString()}`].join('\t'));
    }
  },

  async devices({ db, args, out }) {
    if (args.length !== 1) throw new UsageError('devices needs exactly one <username>');
    const user = await findUserByUsername(db, args[0]);
    if (!user) throw new UsageError(`no user named "${args[0]}"`);
    const creds = await listCredentialsOfUser(db, user.id, { includeRevoked: true });
    if (!creds.length) process.stderr.write(`${user.username} has no devices\n`);
    for (const c of creds) {
      out([c.credentialId, c.nickname, c.revokedAt ? `revoked ${c.revokedAt.toISOString()}` : 'active', `created ${c.createdAt.toISOString()}`, `last used ${c.lastUsedAt?.toISOString() ?? 'never'}`].join('\t'));
    }
  },

  async revoke({ db, args, out }) {
    if (args.length !== 1) throw new UsageError('revoke needs exactly one <credential-id> (see `devices <username>`)');
    const id = decodeCredentialId(args[0]);
    if (!id) throw new UsageError(`"${args[0]}" is not a credential id (base64url, as printed by \`devices\`)`);
    const result = await withTransaction(db, async (tx) => {
      const credential = await revokeCredential(tx, id);
      if (!credential) return null;
      const ended = await endSessionsOfCredential(tx, credential.credentialId);
      await recordEvent(tx, { event: 'credential_revoked', outcome: 'success', actor: 'cli', subjectUserId: credential.userId, credentialId: credential.id, details: { sessionsEnded: ended } });
      return { credential, ended };
    });
    if (!result) throw new UsageError(`no credential with id "${args[0]}"`);
    out(`revoked ${result.credential.credentialId} (${result.credential.nickname}); ended ${result.ended} session(s)`);
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`keygate: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keygate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const database = await openDatabase(config);
  const db = createPool(database.url, 2);
  try {
    // Every command works against a current schema (and `migrate` reports what it did).
    if (name !== 'migrate') await runMigrations(db);
    await command({ db, config, args, out: (line) => process.stdout.write(`${line}\n`) });
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof InviteInputError) {
      process.stderr.write(`keygate: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`keygate: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await db.end();
    await database.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`keygate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

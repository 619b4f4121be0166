/**
 * What each configuration variable means, for people: the source of docs/configuration.md's table
 * (`npm run docs:config` writes it; test/unit/configuration-doc.test.ts fails when the document is
 * not what this generates, or when a default written here as a literal is not the schema's). The
 * record is keyed by the schema's variables: a variable added to or removed from the schema and
 * not here does not compile.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigVariable } from './config.js';
import { ROOT } from './root.js';

export interface VariableReference {
  /** As the table shows it: a literal in backticks (checked against the schema), `unset`, or words. */
  default: string;
  meaning: string;
}

export const CONFIG_REFERENCE: Record<ConfigVariable, VariableReference> = {
  PORT: {
    default: '`8080`',
    meaning: 'port Keygate listens on (pages, API, proxy, `/-/healthz`, `/-/readyz`)',
  },
  HOST: {
    default: '`0.0.0.0`',
    meaning: 'address Keygate listens on',
  },
  PUBLIC_URL: {
    default: '`http://localhost:8080`, or `http://localhost:<PORT>` when `PORT` is set (with a warning)',
    meaning:
      'the URL people use. Its origin is the **only** WebAuthn origin accepted; it must have no path. `https` turns on Secure `__Host-` cookies and HSTS',
  },
  RP_ID: {
    default: 'host of `PUBLIC_URL`',
    meaning: 'WebAuthn relying-party id: the host or a registrable parent of it (never a public suffix)',
  },
  RP_NAME: {
    default: '`Keygate`',
    meaning: "the organisation's name: in every page's header and title, on the sign-in page, and shown by the browser during enrolment",
  },
  LOGO_FILE: {
    default: 'none (a key symbol)',
    meaning:
      "the organisation's logo beside its name in every page's header: a PNG, JPEG, WebP or SVG file of at most 256 KiB, read at start-up and served at `/-/brand/logo`",
  },
  GOGS_URL: {
    default: '`http://127.0.0.1:3000`',
    meaning: 'where Gogs listens (reachable only by Keygate); `/-/readyz` checks it answers',
  },
  GOGS_AUTH_HEADER: {
    default: '`X-WEBAUTH-USER`',
    meaning: "Gogs' `REVERSE_PROXY_AUTHENTICATION_HEADER`",
  },
  GOGS_SESSION_COOKIE: {
    default: '`i_like_gogs`',
    meaning: "Gogs' `[session] COOKIE_NAME`; expired at every Keygate sign-in and sign-out",
  },
  GOGS_ADMIN_TOKEN: {
    default: 'unset',
    meaning:
      "access token (40 hex characters) of a Gogs site administrator. Set: an invite for a user Gogs does not have creates the Gogs account through Gogs' admin API, with the email given to the invite and a random password nobody sees (audited as `gogs_user_created`). Unset: Keygate never calls Gogs' API. Never logged or shown",
  },
  GOGS_SYNC_ADMINS: {
    default: '`false`',
    meaning:
      "`true` lets `npm run cli -- sync-admins` set each Keygate user's admin flag to Gogs' site-admin flag (audited as `admin_flag_synced`); needs `GOGS_ADMIN_TOKEN`",
  },
  DATABASE_URL: {
    default: 'unset',
    meaning: 'PostgreSQL connection URL. Unset: embedded PostgreSQL under `DATA_DIR` (one instance only)',
  },
  DATA_DIR: {
    default: '`./data`',
    meaning:
      "embedded PostgreSQL's data directory (the cluster in `postgres/`, its password in `postgres.password`). As root, PostgreSQL runs as the `postgres` system user; when `DATA_DIR` is inside a folder that user cannot enter, the cluster is kept in `/var/lib/keygate/clusters/` and `postgres/` links to it",
  },
  EMBEDDED_PG_PORT: {
    default: '`5433`',
    meaning: "loopback port of the embedded PostgreSQL; a port taken by anything but this `DATA_DIR`'s own cluster stops Keygate with an error naming it",
  },
  DATABASE_TIMEOUT: {
    default: '`10s`',
    meaning:
      'bound on one database operation: getting a connection, and one statement (server side; the client gives up a second later). Past it, or at once when PostgreSQL is down, the request gets a 503 page and nobody is let through (see docs/reliability.md)',
  },
  SESSION_SECRET: {
    default: 'generated',
    meaning: 'signs session cookies (32+ characters). Unset: generated once and kept in the database, so restarts and other instances keep sessions',
  },
  SESSION_IDLE_TIMEOUT: {
    default: '`30m`',
    meaning: 'a session unused this long ends (judged on the server)',
  },
  SESSION_ABSOLUTE_TIMEOUT: {
    default: '`12h`',
    meaning: 'a session ends this long after sign-in, however active; not shorter than `SESSION_IDLE_TIMEOUT`',
  },
  CEREMONY_TIMEOUT: {
    default: '`5m`',
    meaning: 'how long an enrolment or sign-in ceremony (its challenge) stays valid',
  },
  SESSION_CACHE_TTL: {
    default: '`30s`',
    meaning:
      'the proxy caches signed-in sessions in memory; PostgreSQL NOTIFY makes every instance forget an ended session at once, and this bounds how long an entry is trusted without hearing anything',
  },
  SESSION_CACHE_SIZE: {
    default: '`50000`',
    meaning:
      'most signed-in sessions the proxy keeps cached at once (about 500 bytes each: 24 MiB at the default); sessions active within SESSION_CACHE_TTL beyond it read PostgreSQL on every request (docs/performance.md, "Capacity")',
  },
  STEP_UP_MAX_AGE: {
    default: '`5m`',
    meaning: 'credential changes and admin actions need a user-verified assertion at most this old; older, the page asks for the key again and then carries on',
  },
  FIRST_ADMIN_USERNAME: {
    default: '`siteadmin`',
    meaning:
      'while no admin exists, each start prints a one-time enrolment link for this Gogs user, with admin rights. Not a name Gogs reserves (`admin`, `api`, `explore`, `*.keys`…): Gogs could never have that user',
  },
  INVITE_TTL: {
    default: '`24h`',
    meaning: 'default lifetime of an invite link (at most 30 days)',
  },
  USER_VERIFICATION: {
    default: '`required`',
    meaning:
      'WebAuthn user verification (PIN, fingerprint, face): `required`, `preferred` or `discouraged`. `required`: a key that does not verify the person is refused at enrolment (reason `user_not_verified`) and at every sign-in',
  },
  ATTESTATION: {
    default: '`none`',
    meaning: 'attestation conveyance asked of authenticators: `none`, `indirect`, `direct` or `enterprise`',
  },
  REQUIRE_TRUSTED_ATTESTATION: {
    default: '`no`',
    meaning:
      "`everyone` or `admins`: the key's attestation certificate chain must reach a root the FIDO metadata (`MDS_BLOB`) lists for its AAGUID; refused otherwise (`policy_untrusted_attestation`). Needs `ATTESTATION=direct` or `enterprise` and `MDS_BLOB`",
  },
  AAGUID_ALLOW: {
    default: 'none',
    meaning:
      'comma-separated AAGUIDs: only these authenticator models may enrol and sign in (`policy_aaguid_not_allowed`). Empty: any model. An AAGUID is only proof of the model when the attestation is trusted',
  },
  AAGUID_DENY: {
    default: 'none',
    meaning: 'comma-separated AAGUIDs refused at enrolment and at sign-in (`policy_aaguid_denied`)',
  },
  SYNCED_PASSKEYS: {
    default: '`allow`',
    meaning: 'backup-eligible (syncable) credentials: `allow`, `refuse-for-admins` or `refuse` (`policy_synced_passkey`)',
  },
  AUTHENTICATOR_ATTACHMENT: {
    default: '`any`',
    meaning:
      '`platform` (Touch ID, Windows Hello…), `cross-platform` (security keys) or `any`; asked of the browser and checked on its answer (`policy_attachment`)',
  },
  RESIDENT_KEY: {
    default: '`preferred`',
    meaning: 'discoverable credentials: `required` (checked on the credProps answer, `policy_resident_key`), `preferred` or `discouraged`',
  },
  ALGORITHMS: {
    default: '`EdDSA,ES256,RS256`',
    meaning: 'signature algorithms offered and accepted, from `EdDSA`, `ES256`, `RS256`; keys of another algorithm are refused at sign-in (`policy_algorithm`)',
  },
  MAX_CREDENTIALS_PER_USER: {
    default: '`10`',
    meaning: 'active keys a person may have; enrolment and "add a key" past it are refused (`policy_too_many_credentials`)',
  },
  MDS_BLOB: {
    default: 'unset',
    meaning:
      'FIDO Metadata Service (MDS3) BLOB: a file path (air-gapped sites) or an http(s) URL (e.g. `https://mds3.fidoalliance.org/`), loaded at start-up. Its signature and chain are verified; its entries decide attestation trust and its status reports refuse revoked or compromised models (`policy_authenticator_compromised`)',
  },
  MDS_ROOT_CERT: {
    default: "FIDO's root",
    meaning: 'PEM file of the root the BLOB must chain to; default the FIDO Alliance MDS root shipped with @simplewebauthn/server',
  },
  MDS_ON_ERROR: {
    default: '`fail`',
    meaning:
      'a BLOB that cannot be read, does not verify or is past its nextUpdate: `fail` stops start-up with the reason; `warn` logs a warning and runs with the metadata disabled (nothing trusted by chain, no status checks)',
  },
  CONFIG_FILE: {
    default: 'unset',
    meaning:
      'a file of `VAR=value` lines (dotenv syntax) setting any variable here, read instead of `./.env`; the environment wins over it, and a variable Keygate does not know is an error',
  },
  TRUST_PROXY: {
    default: '`false`',
    meaning: 'set `true` only when a TLS terminator in front of Keygate sets `X-Forwarded-Proto`/`-For` (and `X-Request-Id`, which is then kept)',
  },
  LOG_FORMAT: {
    default: '`auto`',
    meaning:
      '`pretty`: readable lines (local time, level, message, fields); `json`: one JSON object per line; `auto`: `pretty` when stdout is a terminal, else `json`',
  },
  LOG_LEVEL: {
    default: '`info`',
    meaning:
      '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent` (logs on stdout, see `LOG_FORMAT`). `info` logs one line per Keygate page or API request; `debug` adds one per proxied request',
  },
  RATE_LIMIT_IP_PER_MINUTE: {
    default: '`60`',
    meaning:
      'ceremony and invite requests per client address per minute (shared by every instance through PostgreSQL); a sign-in counts once (its options), a failed sign-in twice',
  },
  RATE_LIMIT_USERNAME_PER_15MIN: {
    default: '`20`',
    meaning: 'username-first sign-in options per typed name, and failed sign-ins per credential owner, per 15 minutes',
  },
  STRIP_HEADERS: {
    default: 'none',
    meaning:
      'comma-separated request headers to remove before Gogs, in any letter case or `_` spelling, like the identity header (e.g. headers another Gogs plugin or proxy trusts)',
  },
  ALLOW_GIT_PASSWORDS: {
    default: '`false`',
    meaning: 'let Basic credentials with a Gogs account password through to git and `/api/`; `false`: access tokens only',
  },
  METRICS_PORT: {
    default: 'unset',
    meaning: 'port of the Prometheus listener (`GET /metrics`). Unset: no metrics listener at all. Never served on `PORT`',
  },
  METRICS_HOST: {
    default: '`127.0.0.1`',
    meaning: 'address of the metrics listener; widen it (e.g. `0.0.0.0` in a container) only on a network the public cannot reach',
  },
  GOGS_CONNECT_TIMEOUT: {
    default: '`5s`',
    meaning: 'how long connecting to Gogs may take; then the request gets a 504 page',
  },
  GOGS_RESPONSE_TIMEOUT: {
    default: '`60s`',
    meaning:
      'once a request has been sent to Gogs, how long its response headers may take; then 504. A response (or upload) whose body is flowing is never cut by it',
  },
  GOGS_CONNECTIONS: {
    default: '`128`',
    meaning:
      "connections to Gogs in each of Keygate's two pools: one for signed-in pages, one for pass-through (git, LFS, API). Anonymous traffic never takes a signed-in page's connection",
  },
  GOGS_ASSET_CACHE_MB: {
    default: '`32`',
    meaning:
      "memory (MiB, in each worker) for the bodies of Gogs' static files (`/css`, `/js`, `/img`, `/assets`, `/plugins`). Every request still asks Gogs whether the file changed (its ETag); Gogs answers 304 and Keygate sends the kept body, so the bytes cross from Gogs once. A file larger than an eighth of this is never kept; an entry is fetched whole again after 10 minutes. `0`: no cache",
  },
  GOGS_SOURCE_ADDRESS: {
    default: 'unset',
    meaning:
      "local IP address Keygate connects to Gogs from (e.g. `127.0.0.2`), so Gogs' `TRUSTED_PROXY_IPS` can name Keygate's address alone. Unset: the system chooses",
  },
  MAX_CONNECTIONS_PER_CLIENT: {
    default: '`64`',
    meaning:
      'open connections one client address may hold; more get a 429 and are closed. Not applied with `TRUST_PROXY` (every connection comes from the front proxy: limit there, see deploy/)',
  },
  MAX_PASSTHROUGH_PER_CLIENT: {
    default: '`32`',
    meaning: 'git, LFS and API requests one client address may have in flight; more get a 429 at once',
  },
  CLIENT_BODY_TIMEOUT: {
    default: '`30s`',
    meaning:
      "a request body that stops moving this long while Keygate reads it is cut (not while Gogs is slower to take it than the client to send it: that is GOGS_RESPONSE_TIMEOUT's to judge); a body for Keygate's own pages must arrive whole within it (408)",
  },
  CLIENT_SEND_TIMEOUT: {
    default: '`60s`',
    meaning:
      "a client whose connection takes nothing of a proxied answer for this long (full, nothing read) is cut, and the connection to Gogs it held goes back to the pool. Counted as nginx's send_timeout: from the last write the connection accepted, so a client that keeps reading is not cut; at most 24 days",
  },
  CLIENT_HEADER_TIMEOUT: {
    default: '`20s`',
    meaning: 'a client must send its request headers within this, or the connection is closed',
  },
  SMTP_URL: {
    default: 'unset',
    meaning:
      'the SMTP server Keygate sends email through: `smtp://host:587` (STARTTLS when the server offers it; required when the URL holds a password, unless it ends in `?requireTLS=false`) or `smtps://host:465` (TLS), with `user:password@` if it needs them. Set: each person is told by email when a key of theirs is added, removed or revoked, a recovery link is issued for them, or they sign in from a browser Keygate has not seen them use (docs/security.md, "Email"). Unset: no email at all. May hold a password: never logged or shown',
  },
  MAIL_FROM: {
    default: 'unset',
    meaning: 'the sender of that email: `keygate@example.com` or `Keygate <keygate@example.com>`; required with `SMTP_URL`',
  },
  WORKERS: {
    default: '`1`',
    meaning:
      "processes serving requests on `PORT`: a number, or `auto` for one per available core. Above 1, the main process keeps the embedded PostgreSQL, migrations, the first-run link and the metrics listener (summed over the workers), and node's cluster module shares the port; each worker has its own database pool (up to 10 connections) and session cache, kept exact by PostgreSQL NOTIFY. SIGTERM drains every worker",
  },
  SHUTDOWN_TIMEOUT: {
    default: '`30s`',
    meaning:
      'on SIGTERM or SIGINT Keygate stops accepting connections and lets in-flight requests (long git transfers too) finish for at most this long, then closes what is left and exits 0',
  },
};

const BEGIN = '<!-- generated by npm run docs:config from server/config-reference.ts: edit there -->';
const END = '<!-- end of generated table -->';

/** The Markdown table of every variable, in the order above. */
export function configurationTable(): string {
  const rows = Object.entries(CONFIG_REFERENCE).map(([name, r]) => `| \`${name}\` | ${r.default} | ${r.meaning} |`);
  return [BEGIN, '', '| variable | default | meaning |', '|---|---|---|', ...rows, '', END].join('\n');
}

export const CONFIGURATION_DOC = path.join(ROOT, 'docs', 'configuration.md');

/** docs/configuration.md with its table replaced by the generated one. */
export function regeneratedDoc(current: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${CONFIGURATION_DOC} has lost its markers; put them back around the table`);
  return current.slice(0, start) + configurationTable() + current.slice(end + END.length);
}

// `npm run docs:config`: rewrite the table.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(CONFIGURATION_DOC, regeneratedDoc(readFileSync(CONFIGURATION_DOC, 'utf8')));
}

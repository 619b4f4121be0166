/**
 * The only reader of process.env. One zod schema, parsed once at startup and frozen: a missing or
 * invalid value stops the process with a message that names the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { parseEnv } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';
import ms from 'ms';
import { parse as parseDomain } from 'tldts';
import { z } from 'zod';
import { INVITE_TTL_RULE, isValidInviteTtl } from './enrollment/limits.js';
import { isMailbox } from './mail/address.js';
import { isReservedByGogs, USERNAME_PATTERN } from './users/users.js';

/**
 * Parses a duration such as `30m`, `12h`, `7d`, or a plain number of seconds (`90`, `1.5`), into
 * whole milliseconds; undefined when it is not one, or not positive.
 */
export function parseDuration(value: string): number | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  let parsed: number | undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) parsed = Number(trimmed) * 1000;
  else {
    try {
      parsed = ms(trimmed as ms.StringValue);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) return undefined;
  const rounded = Math.round(parsed);
  return rounded > 0 ? rounded : undefined;
}

/**
 * The longest a Node timer waits (2^31 - 1 ms, about 24.8 days): a longer one fires at once. A
 * duration that is a timer's (timer below) is refused beyond it rather than cutting everything.
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** A duration (see parseDuration), returned in milliseconds; `timer`: one a timer waits for, so at most LONGEST_TIMER_MS. */
const duration = (fallback: string, opts: { timer?: boolean } = {}) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const parsed = parseDuration(value);
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 90s, 30m, 12h, 7d)` });
        return z.NEVER;
      }
      if (opts.timer && parsed > LONGEST_TIMER_MS) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is longer than 24 days, the longest this can wait` });
        return z.NEVER;
      }
      return parsed;
    });

/** A TCP port written in decimal digits (no `0x50`, `1e3` or blanks, which Number() would accept). */
const portNumber = (min: number) =>
  z.string().transform((value, ctx) => {
    const trimmed = value.trim();
    const n = Number(trimmed);
    if (!/^\d{1,5}$/.test(trimmed) || n < min || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a port number (${min}-65535)` });
      return z.NEVER;
    }
    return n;
  });
const port = (fallback: number, min: number) => z.string().default(String(fallback)).pipe(portNumber(min));

/**
 * An http(s) URL with no credentials, path, query or fragment (`why` says why no path), as a URL.
 * Checked in the schema so that a bad URL is reported together with every other bad variable.
 */
const httpOrigin = (fallback: string, why: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a URL` });
        return z.NEVER;
      }
      let problem: string | undefined;
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problem = `"${value}" must be an http or https URL`;
      else if (url.username || url.password) problem = 'must not contain credentials';
      else if (url.pathname !== '/' || url.search || url.hash) problem = `must be an origin with no path, query or fragment (${why})`;
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      return url;
    });

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A whole number from `min` (1 unless given) to `max`, written in decimal digits (a rate limit, a size). */
const count = (fallback: number, min = 1, max?: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((value, ctx) => {
      const trimmed = value.trim();
      const n = Number(trimmed);
      if (!/^\d{1,9}$/.test(trimmed) || n < min || (max !== undefined && n > max)) {
        const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a whole number ${range}` });
        return z.NEVER;
      }
      return n;
    });

/** COSE algorithm identifiers Keygate can accept (IANA "COSE Algorithms"). */
export const ALGORITHM_IDS = { EdDSA: -8, ES256: -7, RS256: -257 } as const;
export type AlgorithmName = keyof typeof ALGORITHM_IDS;

/** A comma-separated list, blanks dropped; each item checked by `item`. */
const list = <O>(item: z.ZodType<O, string>, fallback = '') =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** An AAGUID as a UUID, lower-cased (how @simplewebauthn and the database present it). */
const aaguid = z
  .string()
  .regex(
    /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
    'must be comma-separated AAGUIDs (UUIDs such as cb69481e-8ff7-4039-93ec-0a2729a154a8)',
  )
  .transform((v) => v.toLowerCase());

/** A header name as RFC 9110 defines a token. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');

/**
 * An SMTP server as nodemailer takes it: smtp:// (STARTTLS when the server offers it) or smtps://
 * (TLS from the start), optionally with user:password. The message never repeats the value: it
 * may hold a password.
 */
const smtpUrl = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL (use smtp://host:587 or smtps://user:password@host:465)' });
    return z.NEVER;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    ctx.addIssue({ code: 'custom', message: `must be an smtp:// or smtps:// URL, not ${url.protocol}//` });
    return z.NEVER;
  }
  if (!url.hostname) {
    ctx.addIssue({ code: 'custom', message: 'must name the SMTP server (smtp://host:587)' });
    return z.NEVER;
  }
  return url.href;
});

const DEFAULT_PORT = 8080;

const schema = z.object({
  PORT: port(DEFAULT_PORT, 0),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: httpOrigin('http://localhost:8080', 'Keygate serves Gogs at the root'),
  RP_ID: z.string().optional(),
  RP_NAME: z.string().min(1).max(64).default('Keygate'),
  LOGO_FILE: z.string().min(1).optional(),
  // The proxy sends each request target unchanged to GOGS_URL's host and port: a path would be ignored.
  GOGS_URL: httpOrigin('http://127.0.0.1:3000', 'Gogs must be served at its root'),
  GOGS_AUTH_HEADER: headerName.default('X-WEBAUTH-USER'),
  GOGS_SESSION_COOKIE: headerName.default('i_like_gogs'),
  // A Gogs site administrator's access token (server/gogs/admin-api.ts). Never logged or shown.
  GOGS_ADMIN_TOKEN: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F]{40}$/, 'must be a Gogs access token (40 hexadecimal characters)')
    .optional(),
  GOGS_SYNC_ADMINS: bool(false),
  DATABASE_URL: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  EMBEDDED_PG_PORT: port(5433, 1),
  // Bound on one database operation: getting a connection, one statement (server/db/pool.ts).
  DATABASE_TIMEOUT: duration('10s', { timer: true }),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_IDLE_TIMEOUT: duration('30m'),
  SESSION_ABSOLUTE_TIMEOUT: duration('12h'),
  CEREMONY_TIMEOUT: duration('5m'),
  SESSION_CACHE_TTL: duration('30s'),
  SESSION_CACHE_SIZE: count(50_000),
  STEP_UP_MAX_AGE: duration('5m'),
  FIRST_ADMIN_USERNAME: z
    .string()
    .regex(USERNAME_PATTERN, 'must be a valid Gogs username')
    .refine((name) => !isReservedByGogs(name), {
      error: (issue) => `"${String(issue.input)}" is a name Gogs reserves (it can never be a Gogs user): choose another, e.g. siteadmin`,
    })
    .default('siteadmin'),
  INVITE_TTL: duration('24h'),
  USER_VERIFICATION: z.enum(['required', 'preferred', 'discouraged']).default('required'),
  // Authenticator policy (server/policy/): what may enrol, and what may keep signing in.
  ATTESTATION: z.enum(['none', 'indirect', 'direct', 'enterprise']).default('none'),
  REQUIRE_TRUSTED_ATTESTATION: z.enum(['no', 'admins', 'everyone']).default('no'),
  AAGUID_ALLOW: list(aaguid),
  AAGUID_DENY: list(aaguid),
  SYNCED_PASSKEYS: z.enum(['allow', 'refuse-for-admins', 'refuse']).default('allow'),
  AUTHENTICATOR_ATTACHMENT: z.enum(['any', 'platform', 'cross-platform']).default('any'),
  RESIDENT_KEY: z.enum(['required', 'preferred', 'discouraged']).default('preferred'),
  ALGORITHMS: list(z.enum(['EdDSA', 'ES256', 'RS256'], { error: 'must be a comma-separated list of EdDSA, ES256, RS256' }), 'EdDSA,ES256,RS256'),
  MAX_CREDENTIALS_PER_USER: count(10),
  // FIDO Metadata Service BLOB: a file path (air-gapped sites) or an https URL.
  MDS_BLOB: z.string().min(1).optional(),
  MDS_ROOT_CERT: z.string().min(1).optional(),
  MDS_ON_ERROR: z.enum(['fail', 'warn']).default('fail'),
  // A file of VAR=value lines (dotenv syntax) with any of these variables; the environment wins.
  // Unset: the .env file in the working directory, if there is one.
  CONFIG_FILE: z.string().min(1).optional(),
  TRUST_PROXY: bool(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // auto: readable lines when stdout is a terminal, JSON lines otherwise (a service manager, a container).
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  // Rate limits (server/ratelimit/), shared by every instance through PostgreSQL.
  RATE_LIMIT_IP_PER_MINUTE: count(60),
  RATE_LIMIT_USERNAME_PER_15MIN: count(20),
  // Basic credentials on git and /api/ pass-through (server/proxy/authorization.ts): false = tokens only.
  ALLOW_GIT_PASSWORDS: bool(false),
  STRIP_HEADERS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    )
    .pipe(z.array(headerName)),
  // Unset: no metrics listener at all. Never the public port: metrics are for the operator only.
  METRICS_PORT: portNumber(1).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  SHUTDOWN_TIMEOUT: duration('30s', { timer: true }),
  // Processes serving requests: a whole number, or `auto` for one per available core (server/workers.ts).
  WORKERS: z
    .string()
    .default('1')
    .transform((value, ctx) => {
      const trimmed = value.trim();
      if (trimmed === 'auto') return os.availableParallelism();
      const n = Number(trimmed);
      if (!/^\d{1,3}$/.test(trimmed) || n < 1 || n > 256) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a number of workers (1-256) or auto` });
        return z.NEVER;
      }
      return n;
    }),
  GOGS_CONNECT_TIMEOUT: duration('5s', { timer: true }),
  GOGS_RESPONSE_TIMEOUT: duration('60s', { timer: true }),
  // Bounded resources (server/proxy/client-limits.ts): one client cannot starve the others.
  GOGS_CONNECTIONS: count(128),
  // Memory for Gogs' static files' bodies in MiB (server/proxy/asset-cache.ts), per process; 0: no cache.
  GOGS_ASSET_CACHE_MB: count(32, 0, 16384).transform((mib) => mib * 1024 * 1024),
  GOGS_SOURCE_ADDRESS: z
    .string()
    .trim()
    .refine((v) => isIP(v) !== 0, 'must be an IP address of this machine (e.g. 127.0.0.2)')
    .optional(),
  MAX_CONNECTIONS_PER_CLIENT: count(64),
  MAX_PASSTHROUGH_PER_CLIENT: count(32),
  CLIENT_BODY_TIMEOUT: duration('30s', { timer: true }),
  CLIENT_SEND_TIMEOUT: duration('60s', { timer: true }),
  CLIENT_HEADER_TIMEOUT: duration('20s', { timer: true }),
  // Optional email (server/mail/): unset, Keygate sends none. The URL may hold the SMTP password: never logged.
  SMTP_URL: smtpUrl.optional(),
  MAIL_FROM: z.string().trim().refine(isMailbox, 'must be an email address, or a name and an address: Keygate <keygate@example.com>').optional(),
});

/**
 * Keygate's configuration: what loadConfig makes of the schema's output. Declared once, by the
 * mapping in loadConfig; this type is derived from it.
 */
export type Config = ReturnType<typeof loadConfig>;

/** The authenticator policy settings, as configured (enforced by server/policy/). */
export type PolicySettings = Config['policy'];

/** A variable Keygate reads. */
export type ConfigVariable = keyof typeof schema.shape;

/** Every environment variable Keygate reads (server/config-reference.ts describes exactly these). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Where loadConfig may find settings besides the environment. */
export interface ConfigSources {
  /**
   * A `.env` file (dotenv syntax) read when CONFIG_FILE is unset: the entry points pass the one in
   * the working directory, so that the server and the CLI started there read the same settings.
   */
  dotenvFile?: string;
}

/**
 * Parses the environment (and CONFIG_FILE, or else the `.env` file) into a frozen Config. Throws
 * ConfigError naming every bad variable. What the operator should know but that does not stop
 * Keygate (a setting that looks like a mistake) is in `notices`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, sources: ConfigSources = {}) {
  const notices: string[] = [];
  // Empty strings count as unset, so `FOO=` in a compose file means "use the default".
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
  const fromFile = given.CONFIG_FILE ? readSettingsFile(given.CONFIG_FILE, 'CONFIG_FILE', notices) : readDotenv(sources.dotenvFile, notices);
  const cleaned = { ...fromFile, ...given };
  // Without PUBLIC_URL, Keygate is taken to be reached on this machine at its own PORT.
  if (!cleaned.PUBLIC_URL && cleaned.PORT && /^\d{1,5}$/.test(cleaned.PORT.trim()) && Number(cleaned.PORT) !== DEFAULT_PORT) {
    cleaned.PUBLIC_URL = `http://localhost:${cleaned.PORT.trim()}`;
    notices.push(
      `PORT is ${cleaned.PORT.trim()} and PUBLIC_URL is not set: links and WebAuthn use ${cleaned.PUBLIC_URL}; if people reach Keygate through another URL (an https front, another host name), set PUBLIC_URL to it`,
    );
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0])}: ${i.path.length > 1 ? `item ${Number(i.path[1]) + 1}: ` : ''}${i.message}`));
  }
  const e = result.data;
  const problems: string[] = [];

  const publicUrl = e.PUBLIC_URL;
  const gogsUrl = e.GOGS_URL;
  const host = publicUrl.hostname;
  const rpId = (e.RP_ID ?? host).toLowerCase();
  if (parseDomain(host).isIp) {
    problems.push(`PUBLIC_URL: "${host}" is an IP address; WebAuthn needs a domain name (use localhost for local trials)`);
  } else if (!isValidRpId(rpId, host)) {
    problems.push(`RP_ID: "${rpId}" must be PUBLIC_URL's host "${host}" or a registrable parent domain of it`);
  }
  if (e.SESSION_ABSOLUTE_TIMEOUT < e.SESSION_IDLE_TIMEOUT) {
    problems.push('SESSION_ABSOLUTE_TIMEOUT: must not be shorter than SESSION_IDLE_TIMEOUT');
  }
  if (!isValidInviteTtl(e.INVITE_TTL)) {
    problems.push(`INVITE_TTL: must be ${INVITE_TTL_RULE}`);
  }
  const bothLists = e.AAGUID_ALLOW.filter((a) => e.AAGUID_DENY.includes(a));
  if (bothLists.length) problems.push(`AAGUID_DENY: ${bothLists.join(', ')} is also in AAGUID_ALLOW`);
  if (e.ALGORITHMS.length === 0) problems.push('ALGORITHMS: must name at least one of EdDSA, ES256, RS256');
  if (e.REQUIRE_TRUSTED_ATTESTATION !== 'no') {
    if (e.ATTESTATION !== 'direct' && e.ATTESTATION !== 'enterprise') {
      problems.push('REQUIRE_TRUSTED_ATTESTATION: needs ATTESTATION=direct or enterprise (otherwise authenticators send no certificate chain to trust)');
    }
    if (!e.MDS_BLOB) problems.push('REQUIRE_TRUSTED_ATTESTATION: needs MDS_BLOB (the FIDO metadata holds the roots an attestation must chain to)');
  }
  if (e.MDS_BLOB && /^[a-z][a-z0-9+.-]*:\/\//i.test(e.MDS_BLOB) && !/^https?:\/\//i.test(e.MDS_BLOB)) {
    problems.push(`MDS_BLOB: "${e.MDS_BLOB}" must be a file path or an http(s) URL`);
  }
  if (e.MDS_ROOT_CERT && !e.MDS_BLOB) problems.push('MDS_ROOT_CERT: only means something with MDS_BLOB');
  if (e.SMTP_URL && !e.MAIL_FROM) problems.push('MAIL_FROM: must be set with SMTP_URL (the address Keygate sends email from)');
  if (e.MAIL_FROM && !e.SMTP_URL) problems.push('MAIL_FROM: only means something with SMTP_URL');
  const logo = e.LOGO_FILE ? readLogo(e.LOGO_FILE, problems) : undefined;
  if (problems.length > 0) throw new ConfigError(problems);

  const https = publicUrl.protocol === 'https:';
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    /** The configured public origin: the only origin WebAuthn accepts. Never taken from a request. */
    origin: publicUrl.origin,
    publicUrl,
    https,
    rpId,
    rpName: e.RP_NAME,
    /** The organisation's logo (LOGO_FILE), read once at start-up: shown in every page's header. */
    logo,
    gogsUrl,
    /** Lower-case, as Node presents header names. */
    gogsAuthHeader: e.GOGS_AUTH_HEADER.toLowerCase(),
    gogsSessionCookie: e.GOGS_SESSION_COOKIE,
    /** Enables Gogs' admin API (invites create missing Gogs users). A secret: never log it. */
    gogsAdminToken: e.GOGS_ADMIN_TOKEN,
    /** Lets `sync-admins` copy Gogs' site-admin flag to Keygate's admins. */
    gogsSyncAdmins: e.GOGS_SYNC_ADMINS,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    /** One database operation (a connection, a statement) may take this long; then the request gets a 503. */
    databaseTimeoutMs: e.DATABASE_TIMEOUT,
    sessionSecret: e.SESSION_SECRET,
    sessionIdleMs: e.SESSION_IDLE_TIMEOUT,
    sessionAbsoluteMs: e.SESSION_ABSOLUTE_TIMEOUT,
    ceremonyTimeoutMs: e.CEREMONY_TIMEOUT,
    /** Upper bound on how long the proxy trusts a cached session without hearing from PostgreSQL. */
    sessionCacheTtlMs: e.SESSION_CACHE_TTL,
    /** Most sessions the proxy keeps cached (those seen within SESSION_CACHE_TTL); beyond, each request reads PostgreSQL. */
    sessionCacheSize: e.SESSION_CACHE_SIZE,
    /** How recent a user-verified assertion must be before a credential or admin change. */
    stepUpMaxAgeMs: e.STEP_UP_MAX_AGE,
    /** Gogs username of the first admin, whose enrolment link is printed while no admin exists. */
    firstAdminUsername: e.FIRST_ADMIN_USERNAME,
    inviteTtlMs: e.INVITE_TTL,
    userVerification: e.USER_VERIFICATION,
    /** Which authenticators may enrol and keep signing in (server/policy/). */
    policy: Object.freeze({
      attestation: e.ATTESTATION,
      /** Who must have an attestation that chains to a root in the FIDO metadata. */
      trustedAttestation: e.REQUIRE_TRUSTED_ATTESTATION,
      /** Lower-case AAGUIDs; empty allow-list: any model. */
      aaguidAllow: Object.freeze([...new Set(e.AAGUID_ALLOW)]),
      aaguidDeny: Object.freeze([...new Set(e.AAGUID_DENY)]),
      /** Backup-eligible (syncable) credentials. */
      syncedPasskeys: e.SYNCED_PASSKEYS,
      attachment: e.AUTHENTICATOR_ATTACHMENT,
      residentKey: e.RESIDENT_KEY,
      userVerification: e.USER_VERIFICATION,
      /** In the order offered to authenticators. */
      algorithms: Object.freeze([...new Set(e.ALGORITHMS)]),
      ceremonyTimeoutMs: e.CEREMONY_TIMEOUT,
      maxCredentialsPerUser: e.MAX_CREDENTIALS_PER_USER,
    }),
    /** FIDO MDS3 BLOB source, its root certificate (PEM file; default FIDO's), and what a bad BLOB does. */
    mds: Object.freeze({ blob: e.MDS_BLOB, rootCert: e.MDS_ROOT_CERT, onError: e.MDS_ON_ERROR }),
    /** The file settings were read from besides the environment: CONFIG_FILE, or the .env file; undefined if none. */
    configFile: e.CONFIG_FILE ?? (sources.dotenvFile && existsSync(sources.dotenvFile) ? sources.dotenvFile : undefined),
    /** Settings that look like a mistake but do not stop Keygate: the entry points print them. */
    notices: Object.freeze(notices),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    /** Ceremony and invite requests per client address per minute. */
    rateLimitIpPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
    /** Username-first options per typed name, and failed sign-ins per credential owner, per 15 minutes. */
    rateLimitUsernamePer15Min: e.RATE_LIMIT_USERNAME_PER_15MIN,
    /** Let Basic credentials with an account password through to Gogs (default: access tokens only). */
    allowGitPasswords: e.ALLOW_GIT_PASSWORDS,
    /** More request headers no client may send to Gogs (lower-case, `-` spelling), besides the identity ones. */
    stripHeaders: Object.freeze(e.STRIP_HEADERS.map((h) => h.toLowerCase().replace(/_/g, '-'))),
    /** Prometheus metrics listener; undefined = disabled. */
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    /** On SIGTERM, in-flight requests get this long to finish before their connections are cut. */
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    /** Processes serving requests (1: this one; more: server/workers.ts). */
    workers: e.WORKERS,
    /** Connecting to Gogs may take this long before the request gets a 504. */
    gogsConnectTimeoutMs: e.GOGS_CONNECT_TIMEOUT,
    /** After the request is sent, Gogs' response headers may take this long (504 after); a flowing body is never cut. */
    gogsResponseTimeoutMs: e.GOGS_RESPONSE_TIMEOUT,
    /** Connections to Gogs per pool (one for signed-in pages, one for pass-through). */
    gogsConnections: e.GOGS_CONNECTIONS,
    gogsAssetCacheBytes: e.GOGS_ASSET_CACHE_MB,
    /** Local address Keygate connects to Gogs from (Gogs' TRUSTED_PROXY_IPS names it); undefined: the system's choice. */
    gogsSourceAddress: e.GOGS_SOURCE_ADDRESS,
    /** Open connections one client address may hold (not applied with TRUST_PROXY: the front proxy's limits apply). */
    maxConnectionsPerClient: e.MAX_CONNECTIONS_PER_CLIENT,
    /** Pass-through requests (git, LFS, API) one client address may have in flight. */
    maxPassthroughPerClient: e.MAX_PASSTHROUGH_PER_CLIENT,
    /** A request body that stops moving this long is cut. */
    clientBodyTimeoutMs: e.CLIENT_BODY_TIMEOUT,
    /** A client that takes none of Gogs' answer for this long is cut, and its connection to Gogs freed. */
    clientSendTimeoutMs: e.CLIENT_SEND_TIMEOUT,
    /** A client must send its request headers within this. */
    clientHeaderTimeoutMs: e.CLIENT_HEADER_TIMEOUT,
    /** Email to people about their keys (server/mail/) goes through this SMTP server; undefined = no email. May hold a password: never log it. */
    smtpUrl: e.SMTP_URL,
    /** The sender of that email; set whenever smtpUrl is. */
    mailFrom: e.MAIL_FROM,
    /** Name of Keygate's session cookie; `__Host-` whenever PUBLIC_URL is https. */
    sessionCookieName: https ? '__Host-keygate' : 'keygate',
  });
}

/** Most bytes a logo may have: it is sent with every first page view. */
const LOGO_MAX_BYTES = 256 * 1024;

/** The logo file's bytes and type (PNG, JPEG, WebP or SVG, told by its content), or a problem naming LOGO_FILE. */
function readLogo(file: string, problems: string[]): { bytes: Buffer; type: string } | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    problems.push(`LOGO_FILE: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  if (bytes.length > LOGO_MAX_BYTES) {
    problems.push(`LOGO_FILE: "${file}" is ${Math.ceil(bytes.length / 1024)} KiB; a logo may be at most ${LOGO_MAX_BYTES / 1024} KiB`);
    return undefined;
  }
  const head = bytes.subarray(0, 512).toString('latin1');
  const type = head.startsWith('\x89PNG\r\n\x1a\n')
    ? 'image/png'
    : head.startsWith('\xff\xd8\xff')
      ? 'image/jpeg'
      : head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP'
        ? 'image/webp'
        : /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(head)
          ? 'image/svg+xml'
          : undefined;
  if (!type) {
    problems.push(`LOGO_FILE: "${file}" is not a PNG, JPEG, WebP or SVG image`);
    return undefined;
  }
  return { bytes, type };
}

/**
 * A settings file's variables (dotenv syntax, parsed by node:util parseEnv). In CONFIG_FILE, which
 * holds Keygate's settings only, a variable Keygate does not know is an error: a typo must not
 * weaken a policy. A `.env` file may also hold other programs' settings (docker compose reads it
 * too), so there only a near miss of a Keygate variable is an error; others are noticed.
 */
function readSettingsFile(file: string, setting: 'CONFIG_FILE' | '.env', notices: string[]): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${setting}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let values: Record<string, string>;
  try {
    values = parseEnv(text) as Record<string, string>;
  } catch (err) {
    throw new ConfigError([`${setting}: "${file}" is not in VAR=value form (${(err as Error).message})`]);
  }
  const problems: string[] = [];
  const others: string[] = [];
  for (const name of Object.keys(values)) {
    if (CONFIG_VARIABLES.includes(name) && name !== 'CONFIG_FILE') continue;
    const near = closest(name, [...CONFIG_VARIABLES]);
    const meant = distance(name, near) <= 2 && name !== 'CONFIG_FILE' ? `; did you mean ${near}?` : '';
    if (setting === 'CONFIG_FILE' || meant) problems.push(`${setting}: "${file}" sets ${name}, which is not a Keygate variable${meant}`);
    else others.push(name);
  }
  if (problems.length) throw new ConfigError(problems);
  if (others.length) notices.push(`${file} also sets ${others.sort().join(', ')}, which Keygate does not read`);
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ''));
}

/** The `.env` file's variables, if there is one. */
function readDotenv(file: string | undefined, notices: string[]): Record<string, string> {
  if (!file || !existsSync(file)) return {};
  return readSettingsFile(file, '.env', notices);
}

/**
 * loadConfig for the entry points (server/main.ts, server/cli.ts): a ConfigError is written to
 * stderr as `keygate: <message>` and gives null, for the caller to exit with code 2.
 */
export function loadConfigOrReport(env: NodeJS.ProcessEnv = process.env, sources: ConfigSources = {}): Config | null {
  try {
    return loadConfig(env, sources);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keygate: ${err.message}\n`);
      return null;
    }
    throw err;
  }
}

/**
 * WebAuthn §5.1.3 / HTML "is a registrable domain suffix of or is equal to": the RP ID is the
 * origin's host, or a parent of it that is not a public suffix (so `com` or `github.io` never are).
 */
function isValidRpId(rpId: string, host: string): boolean {
  if (rpId === host) return true;
  if (!host.endsWith(`.${rpId}`)) return false;
  const info = parseDomain(host, { allowPrivateDomains: true });
  if (info.isIp || !info.domain) return false;
  // rpId must be the registrable domain itself or lie between it and the host.
  return rpId === info.domain || rpId.endsWith(`.${info.domain}`);
}

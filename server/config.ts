/**
 * The only reader of process.env. One zod schema, parsed once at startup and frozen: a missing or
 * invalid value stops the process with a message that names the variable.
 */
import ms from 'ms';
import { parse as parseDomain } from 'tldts';
import { z } from 'zod';

/** A duration such as `30m`, `12h`, `7d` or a number of seconds, returned in milliseconds. */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const trimmed = value.trim();
      const parsed = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : ms(trimmed as ms.StringValue);
      if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 90s, 30m, 12h, 7d)` });
        return z.NEVER;
      }
      return parsed;
    });

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A header name as RFC 9110 defines a token. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.string().default('http://localhost:8080'),
  RP_ID: z.string().optional(),
  RP_NAME: z.string().min(1).max(64).default('Keygate'),
  GOGS_URL: z.string().default('http://127.0.0.1:3000'),
  GOGS_AUTH_HEADER: headerName.default('X-WEBAUTH-USER'),
  GOGS_SESSION_COOKIE: headerName.default('i_like_gogs'),
  DATABASE_URL: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(5433),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_IDLE_TIMEOUT: duration('30m'),
  SESSION_ABSOLUTE_TIMEOUT: duration('12h'),
  CEREMONY_TIMEOUT: duration('5m'),
  INVITE_TTL: duration('24h'),
  USER_VERIFICATION: z.enum(['required', 'preferred', 'discouraged']).default('required'),
  TRUST_PROXY: bool(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<{
  port: number;
  host: string;
  /** The configured public origin: the only origin WebAuthn accepts. Never taken from a request. */
  origin: string;
  publicUrl: URL;
  https: boolean;
  rpId: string;
  rpName: string;
  gogsUrl: URL;
  /** Lower-case, as Node presents header names. */
  gogsAuthHeader: string;
  gogsSessionCookie: string;
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  sessionSecret: string | undefined;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  ceremonyTimeoutMs: number;
  inviteTtlMs: number;
  userVerification: 'required' | 'preferred' | 'discouraged';
  trustProxy: boolean;
  logLevel: string;
  /** Name of Keygate's session cookie; `__Host-` whenever PUBLIC_URL is https. */
  sessionCookieName: string;
}>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment into a frozen Config. Throws ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, so `FOO=` in a compose file means "use the default".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = result.data;
  const problems: string[] = [];

  const publicUrl = parseHttpUrl(e.PUBLIC_URL, 'PUBLIC_URL', problems);
  const gogsUrl = parseHttpUrl(e.GOGS_URL, 'GOGS_URL', problems);
  if (publicUrl && (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash)) {
    problems.push('PUBLIC_URL: must be an origin with no path, query or fragment (Keygate serves Gogs at the root)');
  }
  const host = publicUrl?.hostname ?? '';
  const rpId = (e.RP_ID ?? host).toLowerCase();
  if (publicUrl && !isValidRpId(rpId, host)) {
    problems.push(`RP_ID: "${rpId}" must be PUBLIC_URL's host "${host}" or a registrable parent domain of it`);
  }
  if (e.SESSION_ABSOLUTE_TIMEOUT < e.SESSION_IDLE_TIMEOUT) {
    problems.push('SESSION_ABSOLUTE_TIMEOUT: must not be shorter than SESSION_IDLE_TIMEOUT');
  }
  if (problems.length > 0 || !publicUrl || !gogsUrl) throw new ConfigError(problems);

  const https = publicUrl.protocol === 'https:';
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    origin: publicUrl.origin,
    publicUrl,
    https,
    rpId,
    rpName: e.RP_NAME,
    gogsUrl,
    gogsAuthHeader: e.GOGS_AUTH_HEADER.toLowerCase(),
    gogsSessionCookie: e.GOGS_SESSION_COOKIE,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    sessionSecret: e.SESSION_SECRET,
    sessionIdleMs: e.SESSION_IDLE_TIMEOUT,
    sessionAbsoluteMs: e.SESSION_ABSOLUTE_TIMEOUT,
    ceremonyTimeoutMs: e.CEREMONY_TIMEOUT,
    inviteTtlMs: e.INVITE_TTL,
    userVerification: e.USER_VERIFICATION,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    sessionCookieName: https ? '__Host-keygate' : 'keygate',
  });
}

function parseHttpUrl(value: string, name: string, problems: string[]): URL | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${name}: "${value}" must be an http or https URL`);
      return undefined;
    }
    if (url.username || url.password) {
      problems.push(`${name}: must not contain credentials`);
      return undefined;
    }
    return url;
  } catch {
    problems.push(`${name}: "${value}" is not a URL`);
    return undefined;
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

/**
 * What the app is built from (AppDeps) and what each router is given (RouterDeps). In a module of
 * their own, so routers depend on these types and not on the app that mounts them.
 */
import type { Config } from './config.js';
import type { Db } from './db/pool.js';
import type { Logger } from './log.js';
import type { Notifier } from './mail/mailer.js';
import type { Metrics } from './ops/metrics.js';
import type { AuthenticatorMetadata } from './policy/metadata.js';
import type { AuthenticatorPolicy } from './policy/policy.js';
import type { RateLimits } from './ratelimit/limits.js';
import type { SessionCache } from './session/cache.js';

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** Signs session cookies; also keys the username-enumeration decoys. */
  secret: string;
  /** The verified FIDO metadata (policy/metadata.ts loadMetadata); none when MDS_BLOB is unset. */
  metadata?: AuthenticatorMetadata;
  /** Email to people about their keys (mail/mailer.ts); default: createMailer, which is NO_MAIL when SMTP_URL is unset. */
  mail?: Notifier;
}

/** What routers get: the app's dependencies and this instance's session cache. */
export interface RouterDeps extends AppDeps {
  sessionCache: SessionCache;
  /** This gateway's metrics (e.g. metrics.rateLimitRejections). */
  metrics: Metrics;
  /** Which authenticators may enrol and sign in (config.policy with the FIDO metadata). */
  policy: AuthenticatorPolicy;
  /** The rate limits, shared by every instance; each router mounts them on its own route lines. */
  limits: RateLimits;
  /** Tells people by email about their keys, after the action (NO_MAIL when SMTP_URL is unset). */
  mail: Notifier;
}

/**
 * The hook for metrics: every request a rate limit refuses, and every time the limits' store
 * (PostgreSQL) could not be reached, is announced here.
 *
 * Two places to listen, with the same events:
 * - `RateLimits.events` (limits.ts): one gateway's limits only (one per createApp, so per metrics
 *   registry);
 * - `rateLimitEvents` below: every gateway in this process.
 *
 *   limits.events.on('rejected', ({ limit }) => metrics.rateLimitRejections.inc({ limit }));
 *
 * `limit` is one of RATE_LIMIT_NAMES, a fixed set, so it is safe as a metric label.
 */
import { EventEmitter } from 'node:events';

export const RATE_LIMIT_NAMES = ['ip', 'username', 'sign_in_failures'] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export interface RateLimitRejected {
  limit: RateLimitName;
  /** The mount path or route that was limited, lower-cased, e.g. `/-/api/login`; never a token. */
  route: string;
  retryAfterSeconds: number;
}

export interface RateLimitUnavailable {
  limit: RateLimitName;
  route: string;
  error: unknown;
}

export interface RateLimitEventMap {
  /** A request was refused with 429. */
  rejected: [RateLimitRejected];
  /** The store failed; the request was refused with 503 (fail closed). */
  unavailable: [RateLimitUnavailable];
}

/** Every gateway's rate-limit events in this process. */
export const rateLimitEvents = new EventEmitter<RateLimitEventMap>();

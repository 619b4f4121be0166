/**
 * A ceremony whose body cannot even be read (over the 64 KiB limit, or not JSON) is refused by
 * the body parser before any route runs. It is still a failed ceremony, so it is audited here with
 * the event its route would have written.
 */
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import type { Db } from '../db/pool.js';
import { assignRequestId, peerAddress, requestContext } from '../http/context.js';
import type { Logger } from '../log.js';
import type { AuditEventName } from './events.js';
import { recordEvent } from './record.js';
import { isApiPath } from '../http/api-path.js';

/** Ceremony verification endpoints (below /-/api) and the event each writes. */
const CEREMONY_EVENTS: Record<string, AuditEventName> = {
  '/login/verify': 'sign_in',
  '/enroll/verify': 'invite_redeemed',
  '/step-up/verify': 'step_up_failed',
  '/account/devices/verify': 'credential_registered',
};

const REASONS: Record<string, string> = {
  'entity.too.large': 'body_too_large',
  'entity.parse.failed': 'malformed_json',
  'encoding.unsupported': 'malformed_json',
  'charset.unsupported': 'malformed_json',
};

const eventOf = (path: string): AuditEventName | undefined => CEREMONY_EVENTS[path.toLowerCase().replace(/\/+$/, '')];

/**
 * For a ceremony body refused before Express (its declared size is over the limit, see
 * http/body-limit.ts): the same audit row, written before the answer. Only while `withinLimit`
 * (the address's rate-limit point, as every ceremony request takes before anything is written
 * for it) says the address is within its budget: past it, nothing is written, so no one can
 * fill the audit log with refused bodies.
 */
export function auditOversizedCeremonyBody(db: Db, log: Logger, trustProxy: boolean, withinLimit: (req: IncomingMessage) => Promise<boolean>) {
  return async (req: IncomingMessage): Promise<void> => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const event = isApiPath(path) ? eventOf(path.slice('/-/api'.length)) : undefined;
    if (!event || !(await withinLimit(req))) return;
    const ua = req.headers['user-agent'];
    await recordEvent(db, {
      event,
      outcome: 'failure',
      actor: 'anonymous',
      reason: 'body_too_large',
      ip: peerAddress(req, trustProxy),
      userAgent: ua ?? null,
      requestId: assignRequestId(req, trustProxy),
    }).catch((err: unknown) => log.warn({ err }, 'could not audit a refused ceremony body'));
  };
}

/** On a ceremony's route line, right after jsonBody: audits a body it could not read as `event`. */
export function auditUnreadableBody(db: Db, event: AuditEventName): ErrorRequestHandler {
  return (err, req, _res, next) => {
    const reason = REASONS[(err as { type?: string })?.type ?? ''];
    if (!event || !reason) {
      next(err);
      return;
    }
    recordEvent(db, { event, outcome: 'failure', actor: 'anonymous', reason, ...requestContext(req) }).then(
      () => next(err),
      () => next(err),
    );
  };
}

/**
 * A ceremony whose body cannot even be read (over the 64 KiB limit, or not JSON) is refused by
 * the body parser before any route runs. It is still a failed ceremony, so it is audited here with
 * the event its route would have written.
 */
import type { ErrorRequestHandler } from 'express';
import type { Db } from '../db/pool.js';
import { requestContext } from '../http/context.js';
import { recordEvent } from './record.js';

/** Ceremony verification endpoints (below /-/api) and the event each writes. */
const CEREMONY_EVENTS: Record<string, string> = {
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

/** Mount on /-/api right after express.json(). */
export function auditUnreadableCeremonyBody(db: Db): ErrorRequestHandler {
  return (err, req, _res, next) => {
    const event = CEREMONY_EVENTS[req.path.toLowerCase().replace(/\/+$/, '')];
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

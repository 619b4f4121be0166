/** zod at the edge: one middleware turns the first issue into a 400 with a clear message. */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { badRequest } from '../errors.js';

export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    const parsed = schema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0] ?? { path: [], message: 'is not valid' };
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      next(badRequest(`Invalid request: ${where}${issue.message}`, 'invalid_request'));
      return;
    }
    req.body = parsed.data;
    next();
  };
}

/**
 * zod at the edge: one middleware turns the first issue into a 400 with a clear message, in the
 * language of whoever asked. A schema's own messages are keys of the catalogue
 * (`adminErrors.issues`, written with {@link say}); zod's built-in ones are said in the
 * catalogue's words too.
 */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import type { Catalogue } from '../../web/i18n/index.js';
import { en } from '../../web/i18n/en.js';
import { badRequest } from '../errors.js';

type IssueKey = keyof Catalogue['adminErrors']['issues'];

/** A schema's message: the key of its sentence in the catalogue's `adminErrors.issues`. */
export const say = (key: IssueKey): string => key;

const isIssueKey = (message: string): message is IssueKey => Object.hasOwn(en.adminErrors.issues, message);

/** What is wrong with a field or a parameter, in the catalogue's words. */
export function whatIsWrong(issue: z.core.$ZodIssue | undefined): (t: Catalogue) => string {
  if (issue && isIssueKey(issue.message)) {
    const key = issue.message;
    return (t) => t.adminErrors.issues[key];
  }
  if (issue?.code === 'too_big' && issue.origin === 'string') {
    const max = Number(issue.maximum);
    return (t) => t.adminErrors.atMostCharacters(max);
  }
  if (issue?.code === 'unrecognized_keys') {
    const fields = issue.keys.map((k) => `"${k}"`).join(', ');
    return (t) => t.adminErrors.unknownFields(fields);
  }
  return (t) => t.adminErrors.issues.notValid;
}

export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    const parsed = schema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const what = whatIsWrong(issue);
      const field = issue?.path.join('.');
      next(badRequest((t) => (field ? t.adminErrors.invalidRequestField(field, what(t)) : t.adminErrors.invalidRequest(what(t))), 'invalid_request'));
      return;
    }
    req.body = parsed.data;
    next();
  };
}

/** Query-string parameters of the admin pages, checked with zod like request bodies are. */
import type { Request } from 'express';
import type { z } from 'zod';
import { badRequest } from '../errors.js';
import { whatIsWrong } from '../http/validate.js';

/** Parses req.query; the first problem becomes a 400 page that names the parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const parsed = schema.safeParse(req.query ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const what = whatIsWrong(issue);
  const name = issue?.path.join('.');
  throw badRequest((t) => (name ? t.adminErrors.invalidNamedParameter(name, what(t)) : t.adminErrors.invalidParameter(what(t))), 'invalid_query');
}

/**
 * A time from a filter: an ISO time with a zone, or a zone-less one as a datetime-local field
 * sends it (taken as UTC, which is what the page shows). Undefined when empty.
 */
export function parseFilterTime(value: string | undefined): Date | undefined | null {
  if (!value) return undefined;
  let text = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00Z';
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(text)) text += 'Z';
  else if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

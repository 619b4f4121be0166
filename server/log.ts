/**
 * Structured JSON logs. Secrets, cookies and authorisation headers are redacted wherever they
 * appear. Access log lines (ops/observe.ts) carry no headers and log paths without their query
 * and with invite tokens replaced; the paths below catch what other log calls might pass along.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const HEADERS = ['cookie', 'authorization', '["proxy-authorization"]', '["set-cookie"]'];
const SECRETS = ['sessionSecret', 'gogsAdminToken', 'secret', 'token', 'password', 'databaseUrl', 'cookie', 'authorization'];

export const REDACT_PATHS = [
  ...HEADERS.flatMap((h) => [`req.headers.${h}`, `res.headers.${h}`, `headers.${h}`, `*.headers.${h}`].map((p) => p.replace('.[', '['))),
  ...SECRETS.flatMap((s) => [s, `*.${s}`]),
  // body-parser errors carry the raw request body, e.g. an enrolment request with its invite token.
  'err.body',
  'cause.body',
  '*.cause.body',
];

/** @param destination where to write (default stdout); tests pass a stream to read the output. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'keygate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

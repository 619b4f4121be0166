/**
 * Structured logs: JSON lines for log collectors, or readable lines on a terminal (LOG_FORMAT;
 * `auto` picks readable lines when stdout is a terminal). Secrets, cookies and authorisation headers are redacted wherever they
 * appear. Access log lines (ops/observe.ts) carry no headers and log paths without their query
 * and with invite tokens replaced; the paths below catch what other log calls might pass along.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const HEADERS = ['cookie', 'authorization', '["proxy-authorization"]', '["set-cookie"]'];
const SECRETS = ['sessionSecret', 'gogsAdminToken', 'smtpUrl', 'secret', 'token', 'password', 'databaseUrl', 'cookie', 'authorization'];

export const REDACT_PATHS = [
  ...HEADERS.flatMap((h) => [`req.headers.${h}`, `res.headers.${h}`, `headers.${h}`, `*.headers.${h}`].map((p) => p.replace('.[', '['))),
  ...SECRETS.flatMap((s) => [s, `*.${s}`]),
  // body-parser errors carry the raw request body, e.g. an enrolment request with its invite token.
  'err.body',
  'cause.body',
  '*.cause.body',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * @param format `pretty`: one readable line per event (local time, level, message, then the
 *   fields), written synchronously to stdout; `json`: pino's JSON lines; `auto`: pretty on a terminal.
 * @param destination where JSON goes (default stdout); tests pass a stream to read the output.
 */
export function createLogger(level: string, format: LogFormat | DestinationStream = 'json', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'keygate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (typeof format === 'object') return pino(options, format);
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY)) {
    const colorize = destination === undefined && Boolean(process.stdout.isTTY);
    return pino(
      options,
      pretty({ destination: destination ?? 1, sync: true, colorize, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname,service' }),
    );
  }
  return destination ? pino(options, destination) : pino(options);
}

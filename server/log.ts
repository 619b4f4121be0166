/**
 * Structured logs: JSON lines for log collectors, or readable lines on a terminal (LOG_FORMAT;
 * `auto` picks readable lines when stdout is a terminal). Secrets, cookies and authorisation headers are redacted wherever they
 * appear. Access log lines (ops/observe.ts) carry no headers and log paths without their query
 * and with invite tokens replaced; the paths below catch what other log calls might pass along.
 */
import { createRequire } from 'node:module';
import { destination as sonicBoom, pino, type DestinationStream, type Logger } from 'pino';

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
export function createLogger(
  level: string,
  format: LogFormat | DestinationStream = 'json',
  destination?: DestinationStream,
  /** Other processes write to the same stdout (WORKERS > 1): each line is written on its own (see stdoutLines). */
  opts: { sharedStdout?: boolean } = {},
): Logger {
  const options = {
    level,
    base: { service: 'keygate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (typeof format === 'object') return pino(options, format);
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY)) {
    // Loaded only for readable lines: a service logging JSON does not carry it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const colorize = destination === undefined && Boolean(process.stdout.isTTY);
    return pino(
      options,
      pretty({ destination: destination ?? 1, sync: true, colorize, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname,service' }),
    );
  }
  return pino(options, destination ?? (opts.sharedStdout ? sonicBoom({ dest: 1, sync: true }) : stdoutLines()));
}

/** How long a JSON line may wait in the buffer before it is written (see stdoutLines). */
export const LOG_FLUSH_MS = 100;

/**
 * stdout for JSON lines, written a few kilobytes at a time (at most LOG_FLUSH_MS late) rather than
 * with one write per line: each write to a pipe wakes its reader (a service manager, a container
 * runtime), and at one line per Keygate request that wake-up cost about a tenth of a sign-in's CPU
 * (docs/performance.md). What is still buffered is written when the process exits, on any path
 * that lets it (process.exit, a signal Keygate handles, an uncaught error); a SIGKILL loses at
 * most the last LOG_FLUSH_MS of lines. Only for a stdout this process has to itself: with WORKERS,
 * the workers and the main process share it, and a pipe keeps a write whole only up to 4 KB
 * (PIPE_BUF), so each of their lines is one write of its own, as before, and none is torn.
 */
function stdoutLines(): DestinationStream {
  // One per process, whatever the number of loggers: each would otherwise buffer on its own (their
  // lines out of order on the one stdout) and add its own timer and exit listener.
  return (sharedStdoutLines ??= newStdoutLines());
}

let sharedStdoutLines: DestinationStream | undefined;

function newStdoutLines(): DestinationStream {
  const dest = sonicBoom({ dest: 1, sync: true, minLength: 4096 });
  // Flushed only when something was logged since the last tick: sonic-boom's own periodicFlush
  // would make an empty write every time, even in an idle process.
  let logged = false;
  setInterval(() => {
    if (!logged) return;
    logged = false;
    dest.flush();
  }, LOG_FLUSH_MS).unref();
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // stdout is gone (a closed pipe): nothing is left to write to.
    }
  });
  const lines: DestinationStream & { flush(cb?: (err?: Error) => void): void } = {
    write(line: string) {
      logged = true;
      dest.write(line);
    },
    // logger.flush(): what is buffered, now.
    flush(cb?: (err?: Error) => void) {
      dest.flush(cb);
    },
  };
  return lines;
}

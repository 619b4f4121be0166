/** Structured JSON logs. Secrets, cookies and authorisation headers are redacted wherever they appear. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'keygate' },
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers.authorization',
        'headers.cookie',
        'headers.authorization',
        '*.sessionSecret',
        '*.token',
        'token',
        'password',
        'databaseUrl',
      ],
      censor: '[redacted]',
    },
  });
}

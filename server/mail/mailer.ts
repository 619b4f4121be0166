/**
 * Sending the email of messages.ts, when SMTP_URL is set. The action a message is about has
 * committed and answered before anything here runs: `notify` only queues and returns, and never
 * throws. One message at a time leaves the queue: the new-browser check and the address lookup
 * (recipient.ts) run then, and the message is handed to the SMTP server, each step bounded in
 * time. A full queue, a server that is down, slow or refuses: the message is dropped with a warn
 * log line (no address, no secret), and the person's action is never affected. At stop, what is
 * queued gets a bounded time to leave, then is dropped (counted in a log line).
 */
import { createRequire } from 'node:module';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config.js';
import type { Queryable } from '../db/pool.js';
import { gogsAdminApi } from '../gogs/admin-api.js';
import { mailMessage, type MailEvent } from './messages.js';
import { isNewBrowser } from './new-browser.js';
import { recipientOf } from './recipient.js';

/**
 * nodemailer, loaded only when SMTP_URL is set: about 1.7 MB of heap that a Keygate without email
 * would otherwise carry (and mark in every full collection) for nothing.
 */
const loadNodemailer = (): typeof import('nodemailer') => createRequire(import.meta.url)('nodemailer') as typeof import('nodemailer');

/** What the mailer logs through (a pino logger, or the CLI's notes). */
export interface MailLog {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface Notifier {
  /** Queues the email about `event` for the person `userId`; returns at once and never throws. */
  notify(userId: string, event: MailEvent): void;
  /** Lets queued email leave for at most `withinMs`, drops the rest, and closes the transport. */
  close(withinMs: number): Promise<void>;
}

/** SMTP_URL unset: nothing is queued, looked up or sent. */
export const NO_MAIL: Notifier = Object.freeze({
  notify() {},
  async close() {},
});

/** Messages waiting at most; more are dropped (the SMTP server is down or far too slow). */
export const MAIL_QUEUE_LIMIT = 100;
/** Connecting, the server's greeting, and each silence in the SMTP conversation. */
export const SMTP_TIMEOUT_MS = 10_000;
/** One message, from its lookups to the server's last answer. */
export const MAIL_SEND_LIMIT_MS = 30_000;
/** At stop, how long queued email may take to leave (at most SHUTDOWN_TIMEOUT). */
export const MAIL_FLUSH_MS = 10_000;

interface Job {
  userId: string;
  event: MailEvent;
}

/** A failed send as a log field: nodemailer's code and the server's reply code, a short message. */
function describeFailure(err: unknown): object {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
  return {
    code: typeof e?.code === 'string' ? e.code : undefined,
    responseCode: typeof e?.responseCode === 'number' ? e.responseCode : undefined,
    message: typeof e?.message === 'string' ? e.message.slice(0, 200) : String(err).slice(0, 200),
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

class Mailer implements Notifier {
  readonly #queue: Job[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #transport: Transporter;

  constructor(
    private readonly config: Config,
    mail: { smtpUrl: string; from: string },
    private readonly db: Queryable,
    private readonly log: MailLog,
  ) {
    // A password over smtp:// goes only inside STARTTLS: without requireTLS, nodemailer would send
    // it in the clear to a server (or a man in the middle) that offers no STARTTLS. `?requireTLS=false`
    // in SMTP_URL says otherwise, knowingly.
    const url = new URL(mail.smtpUrl);
    const requireTLS = url.protocol === 'smtp:' && (url.username !== '' || url.password !== '') && !url.searchParams.has('requireTLS');
    this.#transport = loadNodemailer().createTransport(
      {
        url: mail.smtpUrl,
        ...(requireTLS ? { requireTLS: true } : {}),
        connectionTimeout: SMTP_TIMEOUT_MS,
        greetingTimeout: SMTP_TIMEOUT_MS,
        socketTimeout: SMTP_TIMEOUT_MS,
        // Messages are built here from text: nothing in them may make nodemailer read a file or a URL.
        disableFileAccess: true,
        disableUrlAccess: true,
      },
      { from: mail.from, headers: { 'Auto-Submitted': 'auto-generated' } },
    );
  }

  /** Never prints the SMTP URL (it may hold a password), whatever logs or inspects this object. */
  toJSON(): object {
    return { mail: 'smtp' };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Mailer';
  }

  notify(userId: string, event: MailEvent): void {
    const fields = { mail: event.kind, userId };
    if (this.#closed) {
      this.log.warn(fields, 'email not sent: Keygate is stopping');
      return;
    }
    if (this.#queue.length >= MAIL_QUEUE_LIMIT) {
      this.log.warn(fields, `email not sent: ${MAIL_QUEUE_LIMIT} emails are already waiting (is the SMTP server down?)`);
      return;
    }
    this.#queue.push({ userId, event });
    this.#draining ??= this.#drain();
  }

  async #drain(): Promise<void> {
    // Never in the turn of the request that queued it: its answer goes first.
    await new Promise((resolve) => setImmediate(resolve));
    for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
      try {
        await within(this.#deliver(job), MAIL_SEND_LIMIT_MS, 'sending the email');
      } catch (err) {
        this.log.warn({ mail: job.event.kind, userId: job.userId, err: describeFailure(err) }, 'email not sent: the SMTP server did not take it');
      }
    }
    this.#draining = undefined;
  }

  async #deliver({ userId, event }: Job): Promise<void> {
    const fields = { mail: event.kind, userId };
    if (event.kind === 'new_browser' && !(await isNewBrowser(this.db, userId, event.from.userAgent, event.requestId))) {
      this.log.debug(fields, 'no email: a sign-in from a browser this person has used before');
      return;
    }
    const person = await recipientOf(this.db, gogsAdminApi(this.config), userId);
    if (!person?.emails.length) {
      this.log.debug(fields, 'no email: Keygate knows no address for this person');
      return;
    }
    const message = mailMessage(event, { username: person.username, siteName: this.config.rpName, accountUrl: `${this.config.origin}/-/account` });
    await this.#transport.sendMail({ to: person.emails, ...message });
    this.log.debug(fields, 'email sent');
  }

  async close(withinMs: number): Promise<void> {
    this.#closed = true;
    const draining = this.#draining;
    if (draining) {
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([draining.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), withinMs)))]);
      clearTimeout(timer);
      const dropped = this.#queue.splice(0).length;
      if (!inTime) this.log.warn({ dropped, withinMs }, 'email not sent: Keygate stopped before the SMTP server took it');
    }
    this.#transport.close();
  }
}

/** The mailer for SMTP_URL, or NO_MAIL when it is unset. */
export function createMailer(config: Config, db: Queryable, log: MailLog): Notifier {
  return config.smtpUrl && config.mailFrom ? new Mailer(config, { smtpUrl: config.smtpUrl, from: config.mailFrom }, db, log) : NO_MAIL;
}

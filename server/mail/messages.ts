/**
 * What Keygate tells a person by email (SMTP_URL), in the pages' words (docs/glossary.md): a key
 * of theirs was added, removed (by them) or revoked (by an administrator), a recovery link was
 * issued for them, or they signed in from a new browser. Each message says what happened, when,
 * to which key, from which browser and address where there is one, and what to do if it was not
 * them. Never a secret: no link that signs in or enrols, no session id, no token.
 */
import { describeBrowser, displayIp } from '../account/view.js';
import { formatUtc } from '../../web/pages/account.js';
import { html } from '../../web/pages/html.js';

/** Where an action came from: the browser and the address, as the audit row has them. */
export interface MailOrigin {
  ip: string | null;
  userAgent: string | null;
}

export type MailEvent =
  | { kind: 'key_added'; at: Date; keyName: string; via: 'invite' | 'recovery' | 'account'; from: MailOrigin }
  | { kind: 'key_removed'; at: Date; keyName: string; from: MailOrigin }
  | { kind: 'key_revoked'; at: Date; keyName: string; by: string; reason: string | null }
  | { kind: 'recovery_link'; at: Date; by: string; expiresAt: Date }
  | { kind: 'new_browser'; at: Date; keyName: string; from: MailOrigin; requestId: string | null };

export type MailKind = MailEvent['kind'];

/** Who the message is for, and the site it is about. */
export interface MailContext {
  username: string;
  /** RP_NAME: the organisation's name, as every page's header shows it. */
  siteName: string;
  /** PUBLIC_URL's account page, where keys are removed and sessions signed out. */
  accountUrl: string;
}

export interface MailMessage {
  subject: string;
  text: string;
  html: string;
}

/** "Chrome 126 on Linux at 203.0.113.5", with a word for what is unknown. */
function fromWhere(from: MailOrigin): string {
  return `${describeBrowser(from.userAgent) ?? 'an unknown browser'} at ${displayIp(from.ip) ?? 'an unknown address'}`;
}

/** An actor as the person reads it: `user:boss` is the administrator boss; `cli` is the command line. */
export function administrator(actor: string): string {
  if (actor.startsWith('user:')) return `the administrator ${actor.slice('user:'.length)}`;
  if (actor === 'cli') return 'an administrator (from the command line)';
  return 'Keygate';
}

const NOT_YOU_TELL_ADMIN = 'tell your administrator at once: they can revoke the key and end every session it signed in.';

/** The subject and paragraphs of each message. */
function compose(event: MailEvent, account: string): { subject: string; paragraphs: string[] } {
  const at = formatUtc(event.at);
  switch (event.kind) {
    case 'key_added': {
      const how =
        event.via === 'invite'
          ? ['Your first key was enrolled', `Your first key, "${event.keyName}", was enrolled with your invite link on ${at}, from ${fromWhere(event.from)}.`]
          : event.via === 'recovery'
            ? [
                'A key was added to your account with a recovery link',
                `A key named "${event.keyName}" was added to your account with a recovery link on ${at}, from ${fromWhere(event.from)}.`,
              ]
            : ['A key was added to your account', `A key named "${event.keyName}" was added to your account on ${at}, from ${fromWhere(event.from)}.`];
      return {
        subject: how[0]!,
        paragraphs: [how[1]!, 'It can sign in as you from now on. If this was you, there is nothing to do.', `If it was not you, ${NOT_YOU_TELL_ADMIN}`],
      };
    }
    case 'key_removed':
      return {
        subject: 'A key was removed from your account',
        paragraphs: [
          `Your key "${event.keyName}" was removed from your account on ${at}, from ${fromWhere(event.from)}. It can no longer sign in, and every session it signed in has ended.`,
          'If this was you, there is nothing to do.',
          `If it was not you, someone is signed in as you: tell your administrator at once. If you can still sign in, sign out your other sessions on your account page: ${account}`,
        ],
      };
    case 'key_revoked':
      return {
        subject: 'An administrator revoked one of your keys',
        paragraphs: [
          `Your key "${event.keyName}" was revoked by ${administrator(event.by)} on ${at}. It can no longer sign in, and every session it signed in has ended.`,
          ...(event.reason ? [`The reason given: ${event.reason}`] : []),
          'If you still have another key, sign in with it. If you have none left, ask your administrator for a recovery link. If you did not expect this, ask your administrator why.',
        ],
      };
    case 'recovery_link':
      return {
        subject: 'A recovery link was issued for your account',
        paragraphs: [
          `A recovery link for your account was issued by ${administrator(event.by)} on ${at}. It works once, until ${formatUtc(event.expiresAt)}: whoever opens it can add a key to your account.`,
          'This email does not contain the link. Your administrator gives it to you themselves.',
          'If you did not ask for one, tell your administrator at once: they can revoke the link before anyone uses it.',
        ],
      };
    case 'new_browser':
      return {
        subject: `New sign-in from ${describeBrowser(event.from.userAgent) ?? 'a new browser'}`,
        paragraphs: [
          `Someone signed in to your account with your key "${event.keyName}" on ${at}, from ${fromWhere(event.from)}. You have not signed in from this browser before.`,
          'If this was you, there is nothing to do.',
          `If it was not you, ${NOT_YOU_TELL_ADMIN} If you can still sign in, sign out your other sessions and remove that key on your account page: ${account}`,
        ],
      };
  }
}

/** The message for one event: plain text and simple HTML, saying the same. */
export function mailMessage(event: MailEvent, ctx: MailContext): MailMessage {
  const { subject, paragraphs } = compose(event, ctx.accountUrl);
  const greeting = `Hello ${ctx.username},`;
  const signature = `${ctx.siteName} (this email was sent automatically; your account page: ${ctx.accountUrl})`;
  return {
    subject: `${ctx.siteName}: ${subject}`,
    text: [greeting, ...paragraphs, `-- \n${signature}`].join('\n\n') + '\n',
    html: html`<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.5">
<p>${greeting}</p>
${paragraphs.map((p) => html`<p>${p}</p>\n`)}<p style="color: #555">${ctx.siteName} (this email was sent automatically; <a href="${ctx.accountUrl}">your account page</a>)</p>
</body></html>
`.toString(),
  };
}

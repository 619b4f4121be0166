/**
 * Optional email (issue 17, item 8): with SMTP_URL set, a person is told by email when a key of
 * theirs is added, removed or revoked, a recovery link is issued for them, or they sign in from a
 * new browser; each message read from a real SMTP server (smtp-server) as a mail client parses it
 * (mailparser). Never the link, never a secret. Unset, nothing is sent; a server that refuses or
 * is down never changes or slows the person's action; at stop, queued email leaves within a bound.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../server/log.js';
import { createMailer } from '../server/mail/mailer.js';
import { formatUtc } from '../web/pages/account.js';
import { addDevice, remove } from './support/account.js';
import { BROWSER_UA, person, type Person } from './support/admin.js';
import { SoftwareAuthenticator } from './support/authenticator.js';
import { runCli } from './support/cli.js';
import { enroll, HeaderClient, signIn } from './support/flows.js';
import { startKeygate, type TestKeygate } from './support/keygate.js';
import { freePort } from './support/net.js';
import { startSilentServer, startSmtp, type ReceivedMail, type TestSmtp } from './support/smtp.js';

const FROM = 'Example Git <keygate@example.com>';
const SITE = 'Example Git';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_127_LINUX = BROWSER_UA.replace('Chrome/126.0.0.0', 'Chrome/127.0.6533.88');
const WHEN = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d UTC`;

/** The message as its reader sees it: subject, plain text and HTML (asserted to say the same paragraphs). */
function read(m: ReceivedMail): { subject: string; text: string; html: string } {
  return { subject: m.mail.subject ?? '', text: m.mail.text ?? '', html: typeof m.mail.html === 'string' ? m.mail.html : '' };
}

/** Log lines written as JSON (a pino logger at debug into memory). */
function logSink(): { lines: Array<Record<string, unknown>>; log: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('debug', sink) };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const browser = (kg: TestKeygate, userAgent: string) => new HeaderClient(kg.url, kg.origin, { 'user-agent': userAgent });

describe('email to people about their keys (SMTP_URL set)', () => {
  let smtp: TestSmtp;
  let kg: TestKeygate;
  let boss: Person;
  let cliEnv: Record<string, string>;

  before(async () => {
    smtp = await startSmtp();
    kg = await startKeygate({ env: { SMTP_URL: smtp.url, MAIL_FROM: FROM, RP_NAME: SITE } });
    cliEnv = { DATABASE_URL: kg.database.url, PUBLIC_URL: kg.origin, GOGS_URL: kg.gogs.url, SMTP_URL: smtp.url, MAIL_FROM: FROM, RP_NAME: SITE };
    // No address given with boss's invite: boss is never written to.
    boss = await person(kg, 'boss', { admin: true });
  });
  after(async () => {
    await kg?.close();
    await smtp?.close();
  });

  test('enrolling from an invite tells the person, at the address given with the invite, which key, when and from which browser', async () => {
    await person(kg, 'alice', { email: 'alice@example.com' });
    const m = await smtp.next('alice@example.com');
    assert.deepEqual(m.to, ['alice@example.com']);
    assert.equal(m.from, 'keygate@example.com');
    assert.equal(m.mail.from?.text, '"Example Git" <keygate@example.com>');
    assert.equal(m.mail.headers.get('auto-submitted'), 'auto-generated');
    const { subject, text, html } = read(m);
    assert.equal(subject, 'Example Git: Your first key was enrolled');
    assert.match(text, /^Hello alice,\n\n/);
    assert.match(
      text,
      new RegExp(`Your first key, "alice key", was enrolled with your invite link on ${WHEN}, from Chrome 126 on Linux at 127\\.0\\.0\\.1\\.`),
    );
    assert.match(text, /If it was not you, tell your administrator at once: they can revoke the key and end every session it signed in\./);
    assert.match(html, /<p>Your first key, &quot;alice key&quot;, was enrolled with your invite link on /);
    assert.ok(html.includes(`<a href="${kg.origin}/-/account">your account page</a>`), html);
  });

  test('adding a key on the account page tells the person its name; removing it tells them which key ended, and what to do if it was not them', async () => {
    const bob = await person(kg, 'bob', { email: 'bob@example.com' });
    await smtp.next('bob@example.com');
    const backup = await addDevice(bob.client, new SoftwareAuthenticator(), 'Backup YubiKey');
    const added = read(await smtp.next('bob@example.com'));
    assert.equal(added.subject, 'Example Git: A key was added to your account');
    assert.match(added.text, new RegExp(`A key named "Backup YubiKey" was added to your account on ${WHEN}, from Chrome 126 on Linux at 127\\.0\\.0\\.1\\.`));

    const res = await remove(bob.client, backup);
    assert.equal(res.status, 200, res.text);
    const removed = read(await smtp.next('bob@example.com'));
    assert.equal(removed.subject, 'Example Git: A key was removed from your account');
    assert.match(
      removed.text,
      /Your key "Backup YubiKey" was removed from your account on .* UTC, from Chrome 126 on Linux at 127\.0\.0\.1\. It can no longer sign in/,
    );
    assert.ok(removed.text.includes(`If it was not you, someone is signed in as you: tell your administrator at once.`));
    assert.ok(removed.text.includes(`${kg.origin}/-/account`));
  });

  test('an administrator revoking a key tells its owner which key, who revoked it and the reason given', async () => {
    const carol = await person(kg, 'carol', { email: 'carol@example.com' });
    await smtp.next('carol@example.com');
    const res = await boss.client.post(`/-/api/admin/credentials/${carol.credentialId}/revoke`, { reason: 'Reported lost on the train' });
    assert.equal(res.status, 200, res.text);
    const m = await smtp.next('carol@example.com');
    const { subject, text } = read(m);
    assert.equal(subject, 'Example Git: An administrator revoked one of your keys');
    assert.match(text, new RegExp(`Your key "carol key" was revoked by the administrator boss on ${WHEN}\\. It can no longer sign in`));
    assert.match(text, /The reason given: Reported lost on the train/);
    assert.match(text, /If you have none left, ask your administrator for a recovery link\./);
  });

  test('a recovery link from the admin page tells the person who issued it and until when, but never contains the link; using it tells them a key was added', async () => {
    const dave = await person(kg, 'dave', { email: 'dave@example.com' });
    await smtp.next('dave@example.com');
    const res = await boss.client.post('/-/api/admin/invites', { username: 'dave' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.recovery, true);
    const url: string = res.json.url;
    const token = url.split('/').pop()!;
    const m = await smtp.next('dave@example.com');
    const { subject, text, html } = read(m);
    assert.equal(subject, 'Example Git: A recovery link was issued for your account');
    assert.match(
      text,
      new RegExp(
        `A recovery link for your account was issued by the administrator boss on ${WHEN}\\. It works once, until ${formatUtc(new Date(res.json.expiresAt))}:`,
      ),
    );
    assert.match(text, /This email does not contain the link\./);
    for (const part of [text, html, m.mail.subject ?? '']) {
      assert.ok(!part.includes(token), 'the token is never in the email');
      assert.ok(!part.includes('/-/enroll/'), 'no enrolment link at all');
    }

    const used = await enroll(browser(kg, FIREFOX_WINDOWS), new SoftwareAuthenticator(), token, { nickname: 'New phone' });
    assert.equal(used.status, 200, used.text);
    assert.equal(dave.name, 'dave');
    const added = read(await smtp.next('dave@example.com'));
    assert.equal(added.subject, 'Example Git: A key was added to your account with a recovery link');
    assert.match(added.text, /A key named "New phone" was added to your account with a recovery link on .* UTC, from Firefox 128 on Windows at 127\.0\.0\.1\./);
  });

  test("the command line's recovery link and revoke tell the person too, sent before the command returns", async () => {
    const erin = await person(kg, 'erin', { email: 'erin@example.com' });
    await smtp.next('erin@example.com');
    const invited = await runCli(['invite', 'erin'], cliEnv);
    assert.equal(invited.code, 0, invited.stderr);
    assert.ok(
      smtp.received.some((r) => r.to.includes('erin@example.com') && /recovery link/.test(r.mail.subject ?? '')),
      'the CLI waits for its email to leave before it exits',
    );
    const link = read(await smtp.next('erin@example.com', 1000));
    assert.equal(link.subject, 'Example Git: A recovery link was issued for your account');
    assert.match(link.text, /was issued by an administrator \(from the command line\) on /);
    assert.ok(
      !link.text.includes(
        invited.stdout
          .trim()
          .split(/\s+/)
          .find((w) => w.includes('/-/enroll/')) ?? '/-/enroll/',
      ),
    );

    const revoked = await runCli(['revoke', erin.credentialId], cliEnv);
    assert.equal(revoked.code, 0, revoked.stderr);
    const m = read(await smtp.next('erin@example.com', 1000));
    assert.equal(m.subject, 'Example Git: An administrator revoked one of your keys');
    assert.match(m.text, /Your key "erin key" was revoked by an administrator \(from the command line\) on /);
    assert.doesNotMatch(m.text, /The reason given/);
  });

  test('a sign-in from a browser the person has not used before is told, with the browser, address and key; one from a browser they used (even a newer version) is not', async () => {
    const fay = await person(kg, 'fay', { email: 'fay@example.com' });
    await smtp.next('fay@example.com');
    // The browser fay enrolled in, updated since: not new.
    assert.equal((await signIn(browser(kg, CHROME_127_LINUX), fay.key)).status, 200);
    // Another browser on another system: new.
    assert.equal((await signIn(browser(kg, FIREFOX_WINDOWS), fay.key)).status, 200);
    const m = await smtp.next('fay@example.com');
    const { subject, text } = read(m);
    assert.equal(subject, 'Example Git: New sign-in from Firefox 128 on Windows');
    assert.match(
      text,
      new RegExp(
        `Someone signed in to your account with your key "fay key" on ${WHEN}, from Firefox 128 on Windows at 127\\.0\\.0\\.1\\. You have not signed in from this browser before\\.`,
      ),
    );
    assert.match(text, /sign out your other sessions and remove that key on your account page/);

    // Firefox again: known now. The next email fay gets is the one after it (email leaves in order).
    assert.equal((await signIn(browser(kg, FIREFOX_WINDOWS), fay.key)).status, 200);
    assert.equal((await runCli(['invite', 'fay'], cliEnv)).code, 0);
    assert.equal(read(await smtp.next('fay@example.com', 1000)).subject, 'Example Git: A recovery link was issued for your account');
    assert.equal(
      smtp.received.filter((r) => r.to.includes('fay@example.com')).length,
      3,
      'enrolment, the Firefox sign-in, the recovery link: nothing for the Chrome 127 sign-in or the second Firefox one',
    );
  });

  test('someone Keygate knows no address for gets no email, and their actions work as before', async () => {
    const gus = await person(kg, 'gus');
    assert.equal((await signIn(browser(kg, FIREFOX_WINDOWS), gus.key)).status, 200);
    assert.equal((await remove(gus.client, gus.credentialId, { confirmLast: true })).status, 200);
    // Sent in order: once this later email has left, whatever was queued for gus has been dealt with.
    assert.equal((await runCli(['invite', 'alice'], cliEnv)).code, 0);
    await smtp.next('alice@example.com', 1000);
    assert.deepEqual(
      smtp.received.filter((r) => /Hello (gus|boss),/.test(r.mail.text ?? '')),
      [],
    );
    const { rows } = await kg.db.query<{ email: string | null }>("SELECT email FROM users WHERE username = 'gus'");
    assert.equal(rows[0]?.email, null);
  });
});

describe('email when SMTP_URL is unset, or the SMTP server fails', () => {
  test('with SMTP_URL unset no email is sent, the address given with an invite is still kept, and every action answers as before', async () => {
    const smtp = await startSmtp();
    const kg = await startKeygate();
    try {
      assert.equal(kg.config.smtpUrl, undefined);
      const hana = await person(kg, 'hana', { email: 'hana@example.com' });
      assert.equal((await signIn(browser(kg, FIREFOX_WINDOWS), hana.key)).status, 200);
      assert.equal((await remove(hana.client, hana.credentialId, { confirmLast: true })).status, 200);
      const { rows } = await kg.db.query<{ email: string | null }>("SELECT email FROM users WHERE username = 'hana'");
      assert.equal(rows[0]?.email, 'hana@example.com');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(smtp.received.length, 0);
    } finally {
      await kg.close();
      await smtp.close();
    }
  });

  test("with GOGS_ADMIN_TOKEN the person is told at both the address given with the invite and the one they keep in Gogs (a session holder could change Gogs' alone); without one in Gogs, the invite's", async () => {
    const token = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const smtp = await startSmtp();
    const kg = await startKeygate({ env: { SMTP_URL: smtp.url, MAIL_FROM: FROM, GOGS_ADMIN_TOKEN: token } });
    try {
      kg.gogs.addUser('root', { admin: true, email: 'root@example.com' });
      kg.gogs.addToken('root', token);
      kg.gogs.addUser('kim', { email: 'kim@gogs.example.com' });
      await person(kg, 'kim', { email: 'kim-invite@example.com' });
      const both = await smtp.next('kim@gogs.example.com');
      assert.equal(read(both).subject, 'Keygate: Your first key was enrolled');
      assert.ok(both.to.includes('kim-invite@example.com'), JSON.stringify(both.to));
      kg.gogs.addUser('lou', { email: '' });
      await person(kg, 'lou', { email: 'lou@example.com' });
      assert.equal(read(await smtp.next('lou@example.com')).subject, 'Keygate: Your first key was enrolled');
    } finally {
      await kg.close();
      await smtp.close();
    }
  });

  test('an SMTP server that refuses the message, is down, or offers no STARTTLS for a password, neither changes nor slows the action; a warn line says the email was not sent, without the SMTP password', async () => {
    const refusing = await startSmtp({ refuse: true });
    const downPort = await freePort();
    const withPassword = refusing.url.replace('smtp://', 'smtp://keygate:hunter2-secret@');
    for (const smtpUrl of [refusing.url, `smtp://keygate:hunter2-secret@127.0.0.1:${downPort}`, withPassword]) {
      const { lines, log } = logSink();
      const kg = await startKeygate({ env: { SMTP_URL: smtpUrl, MAIL_FROM: FROM, LOG_LEVEL: 'debug' }, log });
      try {
        const started = Date.now();
        const ivy = await person(kg, 'ivy', { email: 'ivy@example.com' });
        assert.equal((await signIn(browser(kg, FIREFOX_WINDOWS), ivy.key)).status, 200);
        assert.ok(Date.now() - started < 5000, 'the actions took no longer than without email');
        await until('two warn lines about email not sent', () => lines.filter((l) => l.level === 40 && String(l.msg).startsWith('email not sent')).length >= 2);
        const warned = lines.filter((l) => l.level === 40 && String(l.msg).startsWith('email not sent'));
        assert.deepEqual(
          warned.map((l) => l.mail),
          ['key_added', 'new_browser'],
        );
        const err = warned[0].err as { code?: string; responseCode?: number };
        if (smtpUrl.includes(String(downPort))) assert.equal(err.code, 'ESOCKET', JSON.stringify(err));
        // A password over smtp:// goes only inside STARTTLS, which this server does not offer: nothing is sent.
        else if (smtpUrl === withPassword) assert.equal(err.code, 'ETLS', JSON.stringify(err));
        else assert.equal(err.responseCode, 550, JSON.stringify(err));
        const all = JSON.stringify(lines);
        assert.ok(!all.includes('hunter2-secret'), 'the SMTP password is never logged');
        assert.ok(!all.includes('ivy@example.com'), 'nor the address');
      } finally {
        await kg.close();
      }
    }
    assert.equal(refusing.received.length, 0);
    await refusing.close();
  });

  test('at stop, queued email gets a bounded time to leave, then is dropped with a warn line; nothing is queued after', async () => {
    const silent = await startSilentServer();
    const kg = await startKeygate();
    const { lines, log } = logSink();
    try {
      await person(kg, 'jo', { email: 'jo@example.com' });
      const { rows } = await kg.db.query<{ id: string }>("SELECT id::text FROM users WHERE username = 'jo'");
      const mailer = createMailer({ ...kg.config, smtpUrl: silent.url, mailFrom: FROM }, kg.db, log);
      const event = { kind: 'key_revoked', at: new Date(), keyName: 'jo key', by: 'cli', reason: null } as const;
      mailer.notify(rows[0].id, event);
      mailer.notify(rows[0].id, event);
      // The first is now waiting for a greeting that never comes.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await mailer.close(300);
      assert.ok(Date.now() - started < 1500, `close took ${Date.now() - started} ms`);
      const stopped = lines.find((l) => l.msg === 'email not sent: Keygate stopped before the SMTP server took it');
      assert.equal(stopped?.dropped, 1, JSON.stringify(lines));
      mailer.notify(rows[0].id, event);
      assert.ok(lines.some((l) => l.msg === 'email not sent: Keygate is stopping'));
    } finally {
      await kg.close();
      await silent.close();
    }
  });
});

/**
 * Modules a Keygate only needs for some settings are loaded only then: nodemailer with SMTP_URL,
 * pino-pretty for readable log lines. Each is about a megabyte or more of heap that every full
 * collection on the proxy path would otherwise mark (docs/performance.md). Checked in a process of
 * its own that imports the mailer and the logger from source: a module hook sees every import of
 * the two packages (nodemailer also ships an ES module build) and the require cache every
 * require() of them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HOOK = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  if (/^(nodemailer|pino-pretty)(\\/|$)/.test(specifier)) port.postMessage(specifier);
  return next(specifier, context);
}`;

/** What a fresh process loaded of nodemailer and pino-pretty after `body` ran (with createMailer and createLogger in scope). */
async function loadedAfter(body: string): Promise<string[]> {
  const script = `
    import { createRequire, register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    import { Writable } from 'node:stream';
    const seen = new Set();
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (s) => seen.add(s.split('/')[0]));
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), { data: { port: port2 }, transferList: [port2] });
    const { createMailer } = await import('./server/mail/mailer.ts');
    const { createLogger } = await import('./server/log.ts');
    const sink = () => new Writable({ write: (_c, _e, done) => done() });
    const log = { warn() {}, debug() {} };
    ${body}
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const file of Object.keys(createRequire(import.meta.url).cache)) {
      const m = /\\/node_modules\\/(nodemailer|pino-pretty)\\//.exec(file);
      if (m) seen.add(m[1]);
    }
    port1.close();
    process.stdout.write(JSON.stringify([...seen].sort()));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
  return JSON.parse(stdout) as string[];
}

test('a Keygate without SMTP_URL that logs JSON loads neither nodemailer nor pino-pretty', async () => {
  const loaded = await loadedAfter(`
    if (createMailer({ smtpUrl: undefined, mailFrom: undefined }, {}, log).notify === undefined) throw new Error('no mailer');
    createLogger('info', 'json', sink()).info('a JSON line');
  `);
  assert.deepEqual(loaded, []);
});

test('with SMTP_URL and readable log lines, both are loaded (the check above can see them)', async () => {
  const loaded = await loadedAfter(`
    await createMailer({ smtpUrl: 'smtp://127.0.0.1:9', mailFrom: 'keygate@example.test' }, {}, log).close(0);
    createLogger('info', 'pretty', sink()).info('a readable line');
  `);
  assert.deepEqual(loaded, ['nodemailer', 'pino-pretty']);
});

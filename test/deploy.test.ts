/**
 * The deployment files, checked without a Docker engine: docker-compose.yml parsed as YAML, Gogs'
 * app.ini as INI, the Dockerfile as text, and the runtime image's dependencies against the
 * server's imports. The two init scripts are run for real: deploy/postgres/init.sh against a
 * PostgreSQL cluster of this test's own (then Keygate's migrations as the role it made), and
 * deploy/gogs/init.sh against a stand-in Gogs (its API over HTTP, `gogs admin create-user` as a
 * script). The images themselves are never built or started here.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { builtinModules } from 'node:module';
import { BlockList, isIPv4, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closest, distance } from 'fastest-levenshtein';
import pg from 'pg';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig, parseDuration } from '../server/config.js';
import { runMigrations } from '../server/db/migrate.js';
import { createPool } from '../server/db/pool.js';
import { GOGS_RESERVED_USERNAMES } from '../server/users/users.js';
import { createPgCluster, type PgCluster } from './support/pg-cluster.js';
import { freePort } from './support/net.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

// merge: docker compose resolves YAML merge keys (`<<: *gogs-environment`).
const compose = parse(read('docker-compose.yml'), { merge: true });
const { postgres, gogs, keygate } = compose.services;
const gogsInit = compose.services['gogs-init'];
const front = compose.services.https;

/** Sections of an INI file, keys as written; `;` and `#` start comment lines. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = { '': {} };
  let current = sections[''];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) current = sections[section[1]] ??= {};
    else {
      const eq = line.indexOf('=');
      current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
  }
  return sections;
}

const ini = parseIni(read('deploy/gogs/app.ini'));

/** A compose value as docker compose interpolates it with nothing set: `${VAR:-default}`, `${VAR-default}`, `${VAR}`, `$$`. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (whole, _name: string | undefined, fallback: string | undefined) =>
    whole === '$$' ? '$' : (fallback ?? ''),
  );
}

/** The compose variables a value reads (`${VAR…}`). */
function composeVars(value: string): string[] {
  return [...value.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
}

/** The one compose variable a value reads, and its default. */
function onlyVar(value: string): { name: string; fallback: string } {
  const vars = composeVars(value);
  assert.equal(vars.length, 1, `${value} should read exactly one variable`);
  return { name: vars[0], fallback: interpolate(value) };
}

/** The `${VAR}` references of an app.ini value (expanded by Gogs from its environment). */
const iniVars = (value: string) => [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);

/** A short-syntax volume `source:target[:mode]`. */
function volume(v: string): { source: string; target: string; readOnly: boolean } {
  const [source, target, mode] = v.split(':');
  return { source, target, readOnly: mode === 'ro' };
}
const volumes = (service: any) => ((service.volumes ?? []) as string[]).map(volume);

/** keygate's fixed address on its private compose network. */
function keygateAddress(): { network: string; ip: string } {
  const [network, settings] = Object.entries(keygate.networks as Record<string, any>).find(([, s]) => s?.ipv4_address)!;
  return { network, ip: settings.ipv4_address };
}

/** The usernames Gogs 0.14.3 refuses (internal/database/users.go: reservedUsernames; the pattern *.keys is checked apart). */
const GOGS_RESERVED = GOGS_RESERVED_USERNAMES;

describe('docker-compose.yml', () => {
  test('runs postgres, gogs, the one-shot gogs-init and keygate; the https front only in its profile', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['gogs', 'gogs-init', 'https', 'keygate', 'postgres']);
    const always = Object.entries(compose.services as Record<string, any>).filter(([, s]) => !s.profiles);
    assert.deepEqual(always.map(([name]) => name).sort(), ['gogs', 'gogs-init', 'keygate', 'postgres']);
    assert.deepEqual(front.profiles, ['https']);
    assert.ok(['no', undefined].includes(gogsInit.restart), 'gogs-init must run once, not be restarted');
  });

  test('postgres keeps its data in a named volume, and is healthy only once it answers over TCP', () => {
    const named = volumes(postgres).filter((v) => v.source in (compose.volumes ?? {}));
    assert.ok(
      named.some((v) => v.target === '/var/lib/postgresql/data'),
      'no named volume for the data',
    );
    // During the first start the image runs init scripts against a server on the Unix socket only.
    const check = postgres.healthcheck.test as string[];
    assert.ok(check.includes('pg_isready'), JSON.stringify(check));
    assert.equal(check[check.indexOf('-h') + 1], '127.0.0.1', `not over TCP: ${JSON.stringify(check)}`);
  });

  test('postgres runs deploy/postgres/init.sh at its first start; the old init.sql is gone', () => {
    const init = volumes(postgres).find((v) => v.source === './deploy/postgres/init.sh');
    assert.ok(init, 'deploy/postgres/init.sh is not mounted');
    assert.match(init.target, /^\/docker-entrypoint-initdb\.d\/[^/]+\.sh$/);
    assert.ok(init.readOnly);
    assert.ok(!existsSync(path.join(ROOT, 'deploy/postgres/init.sql')), 'deploy/postgres/init.sql is left over');
    assert.ok(!volumes(postgres).some((v) => v.source.endsWith('.sql')));
  });

  test("three database passwords, three different variables with different defaults; the superuser is nobody else's", () => {
    const env = postgres.environment;
    assert.equal(env.POSTGRES_USER, 'postgres');
    const superuser = onlyVar(env.POSTGRES_PASSWORD);
    const keygateDb = onlyVar(env.KEYGATE_DB_PASSWORD);
    const gogsDb = onlyVar(env.GOGS_DB_PASSWORD);
    assert.equal(new Set([superuser.name, keygateDb.name, gogsDb.name]).size, 3);
    assert.equal(new Set([superuser.fallback, keygateDb.fallback, gogsDb.fallback]).size, 3);
    // Keygate connects as role keygate to database keygate, with the password init.sh gave that role.
    const url = new URL(interpolate(keygate.environment.DATABASE_URL));
    assert.equal(url.username, 'keygate');
    assert.equal(url.pathname, '/keygate');
    assert.equal(url.hostname, 'postgres');
    assert.deepEqual(composeVars(keygate.environment.DATABASE_URL), [keygateDb.name]);
    // Gogs (and gogs-init, which runs `gogs admin` with the same app.ini) connect as role gogs.
    assert.equal(ini.database.USER, 'gogs');
    assert.equal(ini.database.NAME, 'gogs');
    assert.deepEqual(iniVars(ini.database.PASSWORD), ['GOGS_DB_PASSWORD']);
    for (const service of [gogs, gogsInit]) assert.deepEqual(composeVars(service.environment.GOGS_DB_PASSWORD), [gogsDb.name]);
    // Nobody but postgres itself is given the superuser's password.
    for (const [name, service] of Object.entries(compose.services as Record<string, any>)) {
      if (name === 'postgres') continue;
      assert.ok(!JSON.stringify(service).includes(`\${${superuser.name}`), `${name} is given ${superuser.name}`);
    }
  });

  test("gogs: a pinned 0.14.x image, its app.ini and custom footer template from the repository, port 3000 not published, a healthcheck on Gogs' /healthcheck", () => {
    assert.match(gogs.image, /^gogs\/gogs:0\.14\.\d+$/);
    assert.ok(
      volumes(gogs).some((v) => v.source === './deploy/gogs/app.ini' && v.target === '/data/gogs/conf/app.ini'),
      'app.ini not mounted',
    );
    // The image's custom folder is /data/gogs (GOGS_CUSTOM): the menu link to Keygate (test/e2e/real-gogs.test.ts runs it in the real Gogs).
    assert.ok(
      volumes(gogs).some((v) => v.source === './deploy/gogs/custom/templates/inject/footer.tmpl' && v.target === '/data/gogs/templates/inject/footer.tmpl'),
      'the inject/footer.tmpl for the link to Keygate is not mounted',
    );
    for (const p of gogs.ports ?? []) {
      const target = typeof p === 'object' ? String(p.target) : String(p).split(':').pop()!.split('/')[0];
      assert.notEqual(target, '3000', `Gogs' web port is published: ${JSON.stringify(p)}`);
    }
    assert.equal(gogs.expose, undefined);
    assert.ok(JSON.stringify(gogs.healthcheck.test).includes('3000/healthcheck'));
    assert.equal(gogs.depends_on.postgres.condition, 'service_healthy');
  });

  test('gogs-init: the same image, app.ini and data as gogs, its script mounted where its entrypoint runs it, after a healthy Gogs', () => {
    assert.equal(gogsInit.image, gogs.image);
    assert.equal(gogsInit.depends_on.gogs.condition, 'service_healthy');
    const mounts = volumes(gogsInit);
    for (const v of volumes(gogs))
      assert.ok(
        mounts.some((m) => m.source === v.source && m.target === v.target),
        `gogs-init lacks ${v.source}:${v.target}`,
      );
    const script = mounts.find((v) => v.source === './deploy/gogs/init.sh');
    assert.ok(script, 'deploy/gogs/init.sh is not mounted');
    assert.deepEqual(gogsInit.entrypoint, ['/bin/sh', script.target]);
    assert.equal(gogsInit.command, undefined);
    // It reaches the gogs service at its fixed address.
    const gogsIp = gogs.networks[keygateAddress().network].ipv4_address;
    assert.equal(gogsInit.environment.GOGS_INTERNAL_URL, `http://${gogsIp}:3000`);
  });

  test('app.ini reads only variables that gogs and gogs-init are both given', () => {
    const wanted = new Set(Object.values(ini).flatMap((section) => Object.values(section).flatMap(iniVars)));
    assert.ok(wanted.size >= 5, [...wanted].join(', '));
    for (const name of wanted) {
      for (const [service, s] of [
        ['gogs', gogs],
        ['gogs-init', gogsInit],
      ] as const)
        assert.ok(s.environment[name], `app.ini reads \${${name}}, which ${service} is not given`);
    }
  });

  test('keygate reads GOGS_ADMIN_TOKEN from the file gogs-init writes, on a volume they share (read-only for keygate), once gogs-init has succeeded', () => {
    assert.equal(keygate.depends_on['gogs-init'].condition, 'service_completed_successfully');
    const written: string = gogsInit.environment.KEYGATE_GOGS_ENV;
    const writer = volumes(gogsInit).find((v) => written.startsWith(`${v.target}/`));
    assert.ok(writer, `${written} is not on a volume of gogs-init`);
    assert.ok(writer.source in compose.volumes, `${writer.source} is not a named volume`);
    assert.ok(!writer.readOnly);
    const reader = volumes(keygate).find((v) => v.source === writer.source);
    assert.ok(reader, `keygate does not mount ${writer.source}`);
    assert.ok(reader.readOnly, 'keygate mounts the token volume read-write');
    assert.equal(keygate.environment.CONFIG_FILE, path.posix.join(reader.target, path.posix.relative(writer.target, written)));
    // No other service sees the token.
    for (const [name, service] of Object.entries(compose.services as Record<string, any>)) {
      if (name !== 'keygate' && name !== 'gogs-init') assert.ok(!volumes(service).some((v) => v.source === writer.source), `${name} mounts ${writer.source}`);
    }
  });

  test("the first admin: one name for Gogs' site administrator and Keygate's first-run link, and not one Gogs reserves", () => {
    assert.equal(gogsInit.environment.FIRST_ADMIN_USERNAME, keygate.environment.FIRST_ADMIN_USERNAME);
    const { name, fallback } = onlyVar(keygate.environment.FIRST_ADMIN_USERNAME);
    assert.equal(name, 'FIRST_ADMIN_USERNAME');
    assert.ok(!GOGS_RESERVED.includes(fallback.toLowerCase()) && !fallback.endsWith('.keys'), `Gogs refuses the name "${fallback}"`);
    assert.match(fallback, /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,34}$/);
    // The script names every reserved name itself, so that it stops with a clear message.
    const script = read('deploy/gogs/init.sh');
    const reserved = /case \$\(printf '%s' "\$name" \| tr '\[:upper:\]' '\[:lower:\]'\) in\n(.+)\)\n/.exec(script);
    assert.ok(reserved, 'the reserved-name check is missing from deploy/gogs/init.sh');
    const listed = reserved[1].split('|').map((s) => s.trim());
    for (const word of GOGS_RESERVED.filter((w) => !w.startsWith('.'))) assert.ok(listed.includes(word), `init.sh does not refuse "${word}"`);
    assert.ok(listed.includes('*.keys'));
  });

  test("keygate: the image's command, JSON logs, after a healthy postgres and gogs, healthcheck on /-/healthz", () => {
    const build = typeof keygate.build === 'string' ? { context: keygate.build } : keygate.build;
    assert.ok(statSync(path.join(ROOT, build.context, build.dockerfile ?? 'Dockerfile')).isFile());
    assert.equal(keygate.command, undefined, 'the Dockerfile CMD (node dist/main.js) is overridden');
    assert.equal(keygate.entrypoint, undefined);
    assert.equal(keygate.environment.LOG_FORMAT, 'json');
    assert.ok(JSON.stringify(keygate.healthcheck.test).includes('/-/healthz'));
    assert.equal(keygate.depends_on.postgres.condition, 'service_healthy');
    assert.equal(keygate.depends_on.gogs.condition, 'service_healthy');
  });

  test("keygate's settings are Keygate variables; the compose file's own variables are no near miss of one (Keygate reads the same .env)", () => {
    for (const name of Object.keys(keygate.environment)) assert.ok(CONFIG_VARIABLES.includes(name), `keygate is given ${name}, not a Keygate variable`);
    const all = new Set(composeVars(read('docker-compose.yml')));
    assert.ok(all.size >= 10, [...all].join(', '));
    for (const name of all) {
      if (CONFIG_VARIABLES.includes(name)) continue;
      const near = closest(name, [...CONFIG_VARIABLES]);
      assert.ok(distance(name, near) > 2, `${name} is so close to ${near} that Keygate refuses a .env holding it`);
    }
  });

  test('TRUST_PROXY: false by default, Keygate then published on loopback only; the https front in front of it uses deploy/nginx/keygate.conf', () => {
    const trust = onlyVar(keygate.environment.TRUST_PROXY);
    assert.equal(trust.name, 'TRUST_PROXY');
    assert.equal(trust.fallback, 'false');
    const published = (keygate.ports as string[]).map((p) => interpolate(String(p)));
    assert.deepEqual(published, ['127.0.0.1:8080:8080']);
    // The front: nginx with the repository's site file, rewritten only where a container differs.
    const conf = read('deploy/nginx/keygate.conf');
    const site = volumes(front).find((v) => v.source === './deploy/nginx/keygate.conf');
    assert.ok(site, 'deploy/nginx/keygate.conf is not mounted');
    const script = (front.command as string[]).join(' ');
    assert.ok(script.includes(site.target), script);
    for (const [, from] of script.matchAll(/-e '?"?s\/(.+?)\//g)) {
      const literal = from.replace(/\\\./g, '.');
      assert.ok(conf.includes(literal), `the front rewrites "${literal}", which deploy/nginx/keygate.conf does not contain`);
    }
    assert.match(script, /server keygate:8080;/);
    assert.ok((front.ports as string[]).some((p) => String(p).endsWith(':443')));
    // It reaches Keygate, and neither Gogs nor PostgreSQL.
    const frontNets = Array.isArray(front.networks) ? front.networks : Object.keys(front.networks);
    assert.ok(!frontNets.includes(keygateAddress().network), 'the front is on the network Gogs trusts');
    assert.ok(
      frontNets.some((n: string) => n in keygate.networks),
      'the front shares no network with keygate',
    );
  });

  test('keygate and gogs have fixed addresses inside a private subnet, outside the range given to other containers', () => {
    const { network, ip } = keygateAddress();
    assert.ok(isIPv4(ip));
    const { subnet, ip_range: range } = compose.networks[network].ipam.config[0];
    const [base, bits] = subnet.split('/');
    const inSubnet = new BlockList();
    inSubnet.addSubnet(base, Number(bits));
    const rfc1918 = new BlockList();
    for (const [b, n] of [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ] as const)
      rfc1918.addSubnet(b, n);
    assert.ok(rfc1918.check(base), `${subnet} is not private`);
    const dynamic = new BlockList();
    assert.ok(range, 'no ip_range: a container started first could take a fixed address');
    dynamic.addSubnet(range.split('/')[0], Number(range.split('/')[1]));
    const gogsIp = gogs.networks[network].ipv4_address;
    for (const fixed of [ip, gogsIp]) {
      assert.ok(inSubnet.check(fixed), `${fixed} is not in ${subnet}`);
      assert.ok(!dynamic.check(fixed), `${fixed} is in the dynamic range ${range}`);
    }
    assert.equal(keygate.environment.GOGS_URL, `http://${gogsIp}:3000`);
  });

  test('docker stop waits longer than SHUTDOWN_TIMEOUT before SIGKILL', () => {
    const grace = parseDuration(keygate.stop_grace_period)!;
    assert.ok(grace > parseDuration(keygate.environment.SHUTDOWN_TIMEOUT ?? '30s')!);
  });

  test('the header shows commands the runtime image has: node dist/cli.js, the first-run link in the logs, no tsx', () => {
    const header = read('docker-compose.yml').split(/^name:/m)[0];
    assert.match(header, /docker compose logs keygate/);
    assert.match(header, /docker compose exec keygate node dist\/cli\.js /);
    assert.doesNotMatch(header, /tsx|server\/cli\.ts/);
  });
});

describe('deploy/gogs/app.ini', () => {
  test('install lock, the postgres service, EXTERNAL_URL, registration off', () => {
    assert.equal(ini.security.INSTALL_LOCK, 'true');
    assert.equal(ini.database.TYPE, 'postgres');
    assert.match(ini.database.HOST, /^postgres(:\d+)?$/);
    assert.ok(ini.server.EXTERNAL_URL, 'EXTERNAL_URL is not set');
    // ${PUBLIC_URL} is expanded by Gogs from its environment: the same URL Keygate is given.
    if (ini.server.EXTERNAL_URL.includes('${PUBLIC_URL}')) assert.equal(gogs.environment.PUBLIC_URL, keygate.environment.PUBLIC_URL);
    assert.equal(ini.auth.DISABLE_REGISTRATION, 'true');
    assert.equal(ini[''].RUN_USER, 'git');
  });

  test("reverse-proxy authentication, trusted from keygate's address only (/32, not the subnet)", () => {
    assert.equal(ini.auth.ENABLE_REVERSE_PROXY_AUTHENTICATION, 'true');
    assert.equal(ini.auth.REVERSE_PROXY_AUTHENTICATION_HEADER ?? 'X-WEBAUTH-USER', keygate.environment.GOGS_AUTH_HEADER ?? 'X-WEBAUTH-USER');
    assert.equal(ini.auth.TRUSTED_PROXY_IPS, `${keygateAddress().ip}/32`);
  });

  test("SSH: the image's OpenSSH on 22; clone URLs show the published port and the public host", () => {
    assert.equal(ini.server.START_SSH_SERVER, 'false');
    const mapping = (gogs.ports as string[]).map(String).find((p) => p.endsWith(':22'));
    assert.ok(mapping, 'the SSH port is not published');
    const published = onlyVar(mapping.slice(0, -':22'.length));
    // SSH_PORT is what clone URLs show: the host port, through the same variable and default.
    assert.deepEqual(iniVars(ini.server.SSH_PORT), [published.name]);
    assert.equal(gogs.environment[published.name], `\${${published.name}:-${published.fallback}}`);
    assert.match(published.fallback, /^\d+$/);
    assert.equal(ini.server.SSH_LISTEN_PORT ?? '22', '22');
    // SSH_DOMAIN: the public host, set for both containers.
    assert.ok(ini.server.SSH_DOMAIN, 'SSH_DOMAIN is not set');
    for (const name of iniVars(ini.server.SSH_DOMAIN)) {
      assert.ok(interpolate(gogs.environment[name]), `${name} is empty`);
      assert.equal(gogs.environment[name], gogsInit.environment[name]);
    }
    assert.notEqual(ini.server.SSH_DOMAIN, 'localhost');
    // By default, the host of PUBLIC_URL's default.
    assert.deepEqual(iniVars(ini.server.SSH_DOMAIN), ['PUBLIC_HOST']);
    assert.equal(interpolate(gogs.environment.PUBLIC_HOST), new URL(interpolate(keygate.environment.PUBLIC_URL)).hostname);
  });
});

/** Runs a shell script with exactly `env` (and PATH); never throws on a non-zero exit. */
function runScript(script: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('sh', [path.join(ROOT, script)], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('the init scripts', () => {
  test('are POSIX sh that `sh -n` accepts (and shellcheck, where installed)', () => {
    for (const script of ['deploy/postgres/init.sh', 'deploy/gogs/init.sh']) {
      execFileSync('sh', ['-n', path.join(ROOT, script)]);
      assert.match(read(script), /^#!\/bin\/sh\n/);
      const shellcheck = ['/usr/bin/shellcheck', '/usr/local/bin/shellcheck'].find((f) => existsSync(f));
      if (shellcheck) execFileSync(shellcheck, ['-s', 'sh', path.join(ROOT, script)]);
    }
  });
});

describe('deploy/postgres/init.sh, run against PostgreSQL', () => {
  let cluster: PgCluster;
  // Quotes, a backslash, a semicolon and a psql-looking colon: the passwords must reach PostgreSQL as they are.
  const passwords = {
    keygate: `k'ey"gate\\ ;pw:'x' ${randomBytes(4).toString('hex')}`,
    gogs: `g$(id)'; DROP ROLE keygate; --${randomBytes(4).toString('hex')}`,
  };
  const env = () => ({
    PGHOST: '127.0.0.1',
    PGPORT: String(cluster.port),
    POSTGRES_USER: 'postgres',
    POSTGRES_DB: 'postgres',
    KEYGATE_DB_PASSWORD: passwords.keygate,
    GOGS_DB_PASSWORD: passwords.gogs,
  });
  const superuser = () => new pg.Client({ connectionString: cluster.url('postgres') });
  const roleUrl = (role: 'keygate' | 'gogs', database: string, password: string = passwords[role]) =>
    `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/${database}`;
  async function connectError(url: string): Promise<string | undefined> {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    } finally {
      await c.end().catch(() => {});
    }
  }

  before(async () => {
    cluster = await createPgCluster({ database: 'scratch' });
  });
  after(async () => {
    await cluster?.destroy();
  });

  test('refuses to run without both passwords, or with the same one twice, and creates nothing', async () => {
    for (const change of [{ KEYGATE_DB_PASSWORD: '' }, { GOGS_DB_PASSWORD: '' }, { GOGS_DB_PASSWORD: passwords.keygate }]) {
      const { code, out } = await runScript('deploy/postgres/init.sh', { ...env(), ...change });
      assert.notEqual(code, 0, out);
      assert.match(out, /KEYGATE_DB_PASSWORD|GOGS_DB_PASSWORD/);
    }
    const c = superuser();
    await c.connect();
    const { rows } = await c.query(`SELECT rolname FROM pg_roles WHERE rolname IN ('keygate', 'gogs')`);
    await c.end();
    assert.deepEqual(rows, []);
  });

  test('makes roles keygate and gogs, each owning its own database and nothing more', async () => {
    const { code, out } = await runScript('deploy/postgres/init.sh', env());
    assert.equal(code, 0, out);
    const c = superuser();
    await c.connect();
    try {
      const roles = await c.query(
        `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin
           FROM pg_roles WHERE rolname IN ('keygate', 'gogs') ORDER BY rolname`,
      );
      assert.deepEqual(
        roles.rows.map((r) => [r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolcanlogin]),
        [
          ['gogs', false, false, false, false, false, true],
          ['keygate', false, false, false, false, false, true],
        ],
      );
      const owners = await c.query(`SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('keygate', 'gogs') ORDER BY datname`);
      assert.deepEqual(
        owners.rows.map((r) => [r.datname, r.owner]),
        [
          ['gogs', 'gogs'],
          ['keygate', 'keygate'],
        ],
      );
      const can = async (role: string, db: string) =>
        (await c.query(`SELECT has_database_privilege($1, $2, 'CONNECT') AS ok`, [role, db])).rows[0].ok as boolean;
      assert.equal(await can('keygate', 'keygate'), true);
      assert.equal(await can('gogs', 'gogs'), true);
      assert.equal(await can('keygate', 'gogs'), false);
      assert.equal(await can('gogs', 'keygate'), false);
      assert.equal(await can('public', 'postgres'), false);
      // No role is a member of another (e.g. of pg_read_all_data).
      const members = await c.query(
        `SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname IN ('keygate', 'gogs')`,
      );
      assert.equal(members.rows[0].n, 0);
      // From here on, passwords are checked (the cluster was made with trust authentication).
      const dataDir = (await c.query('SHOW data_directory')).rows[0].data_directory as string;
      const hba = path.join(dataDir, 'pg_hba.conf').replace(/'/g, "''");
      await c.query(`COPY (VALUES ('host all postgres 127.0.0.1/32 trust'), ('host all all 127.0.0.1/32 scram-sha-256')) TO '${hba}'`);
      await c.query('SELECT pg_reload_conf()');
    } finally {
      await c.end();
    }
  });

  test('each role signs in with its password, only to its own database, and cannot create databases', async () => {
    assert.equal(await connectError(roleUrl('keygate', 'keygate', 'wrong')), '28P01');
    assert.equal(await connectError(roleUrl('keygate', 'gogs')), '42501');
    assert.equal(await connectError(roleUrl('keygate', 'postgres')), '42501');
    assert.equal(await connectError(roleUrl('gogs', 'keygate')), '42501');
    assert.equal(await connectError(roleUrl('gogs', 'gogs')), undefined);
    const c = new pg.Client({ connectionString: roleUrl('keygate', 'keygate') });
    await c.connect();
    try {
      await assert.rejects(c.query('CREATE DATABASE other'), { code: '42501' });
      await assert.rejects(c.query('CREATE ROLE other'), { code: '42501' });
    } finally {
      await c.end();
    }
  });

  test('the keygate role is enough for Keygate: every migration applies as that role', async () => {
    const db = createPool(roleUrl('keygate', 'keygate'), 2);
    try {
      const applied = await runMigrations(db);
      assert.ok(applied.length >= 7, applied.join(', '));
      const { rows } = await db.query<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'audit_events'`);
      assert.equal(rows[0]?.owner, 'keygate');
    } finally {
      await db.end();
    }
  });
});

/**
 * A stand-in for Gogs 0.14 as deploy/gogs/init.sh sees it: `/healthcheck`, `GET /api/v1/user` with
 * a token (403 otherwise, as Gogs answers with REQUIRE_SIGNIN_VIEW), `POST /api/v1/users/:name/tokens`
 * with HTTP Basic (the user's password, as `gogs admin create-user` stored it in `users/<name>`).
 */
class FakeGogs {
  readonly tokens = new Map<string, string>();
  readonly requests: string[] = [];
  /** Answer this status instead, once, to the next request to a path starting with the key. */
  readonly failNext = new Map<string, number>();
  private server?: http.Server;
  url = '';
  constructor(readonly dir: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const url = req.url ?? '';
      this.requests.push(`${req.method} ${url}`);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      for (const [prefix, status] of this.failNext) {
        if (url.startsWith(prefix)) {
          this.failNext.delete(prefix);
          return json(status, { message: 'stand-in failure' });
        }
      }
      const denied = () => json(403, { message: 'Only authenticated user is allowed to call APIs.' });
      if (req.method === 'GET' && url === '/healthcheck') return json(200, {});
      if (req.method === 'GET' && url === '/api/v1/user') {
        const token = /^token ([0-9a-f]{40})$/.exec(req.headers.authorization ?? '')?.[1];
        const user = token && this.tokens.get(token);
        return user ? json(200, { id: 1, username: user, login: user, full_name: '', email: `${user}@localhost` }) : denied();
      }
      const create = /^\/api\/v1\/users\/([^/]+)\/tokens$/.exec(url);
      if (req.method === 'POST' && create) {
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const [user, password] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
        const stored =
          user && existsSync(path.join(this.dir, 'users', user)) ? readFileSync(path.join(this.dir, 'users', user), 'utf8').split('\n')[0] : undefined;
        if (!stored || stored !== password) return denied();
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          assert.equal(req.headers['content-type'], 'application/json');
          assert.ok(JSON.parse(body).name);
          const token = randomBytes(20).toString('hex');
          this.tokens.set(token, user);
          json(201, { name: JSON.parse(body).name, sha1: token });
        });
        return;
      }
      json(404, {});
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('deploy/gogs/init.sh, run against a stand-in Gogs', () => {
  let dir: string;
  let gogs: FakeGogs;
  let out: string;
  const owner = `${process.getuid?.() === 0 ? 4321 : process.getuid?.()}:${process.getuid?.() === 0 ? 4321 : process.getgid?.()}`;
  const env = (extra: Record<string, string> = {}) => ({
    FIRST_ADMIN_USERNAME: 'siteadmin',
    GOGS_INTERNAL_URL: gogs.url,
    KEYGATE_GOGS_ENV: out,
    GOGS_INIT_STATE: path.join(dir, 'state'),
    GOGS_BIN: path.join(dir, 'gogs'),
    GOGS_CONFIG: '/data/gogs/conf/app.ini',
    GOGS_RUN_AS: '',
    KEYGATE_FILE_OWNER: owner,
    GOGS_WAIT_TRIES: '1',
    ...extra,
  });
  const calls = async () => (await readFile(path.join(dir, 'calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const password = (user: string) => readFileSync(path.join(dir, 'users', user), 'utf8').split('\n')[0];
  const settings = async () => loadConfig({ CONFIG_FILE: out }, {});

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-gogs-init-'));
    out = path.join(dir, 'keygate-config', 'gogs-admin.env');
    await mkdir(path.join(dir, 'users'));
    // `gogs admin create-user`, as far as the script can tell: refuses an existing name (Gogs' own message).
    await writeFile(
      path.join(dir, 'gogs'),
      `#!/bin/sh
echo "$*" >> '${dir}/calls'
[ "$1 $2" = "admin create-user" ] || exit 2
shift 2
while [ $# -gt 0 ]; do
  case $1 in
  --name) name=$2; shift 2 ;; --password) pw=$2; shift 2 ;; --email) email=$2; shift 2 ;;
  --admin) admin=yes; shift ;; --config) shift 2 ;; *) exit 3 ;;
  esac
done
if [ -e '${dir}/users/'"$name" ]; then
  echo "2026/12/03 10:00:00 [FATAL] Failed to start application: create user: user already exists: map[name:$name]"
  exit 1
fi
printf '%s\\n%s\\n%s\\n' "$pw" "$email" "$admin" > '${dir}/users/'"$name"
echo "New user \\"$name\\" has been successfully created!"
`,
    );
    await chmod(path.join(dir, 'gogs'), 0o755);
    gogs = new FakeGogs(dir);
    await gogs.start();
  });
  after(async () => {
    await gogs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('refuses a name Gogs reserves, before calling Gogs', async () => {
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env({ FIRST_ADMIN_USERNAME: 'Admin' }));
    assert.equal(code, 1);
    assert.match(said, /FIRST_ADMIN_USERNAME "Admin" is a name Gogs reserves/);
    assert.deepEqual(await calls(), []);
    assert.ok(!existsSync(out));
  });

  test('fails (so Keygate does not start) when Gogs does not answer', async () => {
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env({ GOGS_INTERNAL_URL: `http://127.0.0.1:${await freePort()}` }));
    assert.equal(code, 1);
    assert.match(said, /Gogs did not answer/);
    assert.ok(!existsSync(out));
  });

  test('first run: a site administrator with a random password nobody sees, and a token for Keygate in a 0600 file', async () => {
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env());
    assert.equal(code, 0, said);
    const [created] = await calls();
    assert.match(
      created,
      /^admin create-user --name siteadmin --password [0-9a-f]{64} --email siteadmin@localhost --admin --config \/data\/gogs\/conf\/app\.ini$/,
    );
    assert.ok(!said.includes(password('siteadmin')), 'the password was printed');
    const config = await settings();
    assert.match(config.gogsAdminToken ?? '', /^[0-9a-f]{40}$/);
    assert.equal(gogs.tokens.get(config.gogsAdminToken!), 'siteadmin');
    const info = await stat(out);
    assert.equal(info.mode & 0o777, 0o600);
    assert.equal(`${info.uid}:${info.gid}`, owner);
    // The password is forgotten once the token is written.
    assert.deepEqual(readdirSync(path.join(dir, 'state')), []);
  });

  test('a second run finds the token still accepted and changes nothing', async () => {
    const before = await readFile(out, 'utf8');
    const requests = gogs.requests.length;
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env());
    assert.equal(code, 0, said);
    assert.match(said, /nothing to do/);
    assert.equal((await calls()).length, 1, 'gogs admin create-user ran again');
    assert.equal(await readFile(out, 'utf8'), before);
    assert.deepEqual(gogs.requests.slice(requests), ['GET /healthcheck', 'GET /api/v1/user']);
  });

  test('Gogs failing while the token is checked: exit 1, the file left as it was', async () => {
    const before = await readFile(out, 'utf8');
    gogs.failNext.set('/api/v1/user', 500);
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env());
    assert.equal(code, 1);
    assert.match(said, /answered 500/);
    assert.equal(await readFile(out, 'utf8'), before);
  });

  test('a run cut off between creating the user and writing the token is finished by the next one', async () => {
    gogs.failNext.set('/api/v1/users/', 502);
    const first = await runScript('deploy/gogs/init.sh', env({ FIRST_ADMIN_USERNAME: 'owner2' }));
    assert.equal(first.code, 1, first.out);
    assert.ok(existsSync(path.join(dir, 'users', 'owner2')));
    assert.equal((await stat(path.join(dir, 'state', 'pending-password'))).mode & 0o777, 0o600);
    const second = await runScript('deploy/gogs/init.sh', env({ FIRST_ADMIN_USERNAME: 'owner2' }));
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /finishing it/);
    assert.equal(gogs.tokens.get((await settings()).gogsAdminToken!), 'owner2');
    assert.deepEqual(readdirSync(path.join(dir, 'state')), []);
    assert.ok(!`${first.out}${second.out}`.includes(password('owner2')));
  });

  test('a user Gogs had before, with a token that no longer works: a warning, and Keygate starts without a token', async () => {
    gogs.tokens.clear();
    const { code, out: said } = await runScript('deploy/gogs/init.sh', env({ FIRST_ADMIN_USERNAME: 'owner2' }));
    assert.equal(code, 0, said);
    assert.match(said, /no longer accepts the token/);
    assert.match(said, /WARNING: cannot make an access token for owner2/);
    assert.match(said, /set GOGS_ADMIN_TOKEN in the \.env file/);
    assert.equal((await settings()).gogsAdminToken, undefined);
    const before = await readFile(out, 'utf8');
    const again = await runScript('deploy/gogs/init.sh', env({ FIRST_ADMIN_USERNAME: 'owner2' }));
    assert.equal(again.code, 0, again.out);
    assert.equal(await readFile(out, 'utf8'), before);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  test('is multi-stage; the runtime stage runs as a non-root USER, with a HEALTHCHECK on /-/healthz', () => {
    assert.ok(stages.length >= 2, 'not multi-stage');
    const runtime = stages[stages.length - 1];
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `runtime USER is ${user}`);
    assert.match(runtime, /^HEALTHCHECK[\s\S]*\/-\/healthz/m);
    // The compiled server, with plain node as PID 1 (exec form: it gets docker stop's SIGTERM).
    assert.match(runtime, /^CMD \["node", "--enable-source-maps", "dist\/main.js"\]$/m);
    assert.match(runtime, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.match(runtime, /^COPY --from=build \/app\/web\/dist \.\/web\/dist$/m);
    assert.match(stages[0], /^RUN npm run build$/m);
  });

  test('the runtime stage (npm ci --omit=dev) has every package the server imports', () => {
    const pkg = JSON.parse(read('package.json'));
    const runtime = new Set(Object.keys(pkg.dependencies));
    // No TypeScript at run time: neither the compiler nor tsx is installed in the runtime image.
    for (const tool of ['tsx', 'typescript']) assert.ok(!runtime.has(tool), `${tool} is a runtime dependency`);
    const files = (dir: string): string[] =>
      readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
      );
    for (const file of [...files('server'), ...files('web/pages')]) {
      for (const m of read(file).matchAll(/^import (?!type )[^'"]*['"]([^'".][^'"]*)['"]/gm)) {
        const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
        if (name.startsWith('node:') || builtinModules.includes(name)) continue;
        assert.ok(runtime.has(name), `${file} imports ${name}, which is not in dependencies`);
      }
    }
  });
});

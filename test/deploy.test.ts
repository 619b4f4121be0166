/**
 * The deployment files, checked without a Docker engine: docker-compose.yml parsed as YAML, Gogs'
 * app.ini as INI, the Dockerfile as text, and the runtime image's dependencies against the
 * server's imports. The images themselves are never built or started here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { BlockList, isIPv4 } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseDuration } from '../server/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

const compose = parse(read('docker-compose.yml'));
const { postgres, gogs, keygate } = compose.services;

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

/** keygate's fixed address on its private compose network. */
function keygateAddress(): { network: string; ip: string } {
  const [network, settings] = Object.entries(keygate.networks as Record<string, any>).find(([, s]) => s?.ipv4_address)!;
  return { network, ip: settings.ipv4_address };
}

describe('docker-compose.yml', () => {
  test('runs exactly postgres, gogs and keygate', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['gogs', 'keygate', 'postgres']);
  });

  test('postgres keeps its data in a named volume and has a healthcheck', () => {
    const named = (postgres.volumes as string[]).map((v) => v.split(':')[0]).filter((src) => src in (compose.volumes ?? {}));
    assert.ok(named.length > 0, 'no named volume');
    assert.ok(postgres.healthcheck?.test, 'no healthcheck');
  });

  test('gogs: a pinned 0.14.x image, its app.ini from the repository, port 3000 not published', () => {
    assert.match(gogs.image, /^gogs\/gogs:0\.14\.\d+$/);
    assert.ok(
      (gogs.volumes as string[]).some((v) => v.startsWith('./deploy/gogs/app.ini:')),
      'app.ini not mounted',
    );
    for (const p of gogs.ports ?? []) {
      const target = typeof p === 'object' ? String(p.target) : String(p).split(':').pop()!.split('/')[0];
      assert.notEqual(target, '3000', `Gogs' web port is published: ${JSON.stringify(p)}`);
    }
    assert.equal(gogs.expose, undefined);
  });

  test('keygate: built from the Dockerfile, healthcheck on /-/healthz, after a healthy postgres', () => {
    const build = typeof keygate.build === 'string' ? { context: keygate.build } : keygate.build;
    assert.ok(statSync(path.join(ROOT, build.context, build.dockerfile ?? 'Dockerfile')).isFile());
    assert.ok(JSON.stringify(keygate.healthcheck.test).includes('/-/healthz'));
    assert.equal(keygate.depends_on.postgres.condition, 'service_healthy');
  });

  test('keygate has a fixed ipv4_address inside a private subnet, and reaches Gogs on it', () => {
    const { network, ip } = keygateAddress();
    assert.ok(isIPv4(ip));
    const subnet: string = compose.networks[network].ipam.config[0].subnet;
    const [base, bits] = subnet.split('/');
    const inSubnet = new BlockList();
    inSubnet.addSubnet(base, Number(bits));
    assert.ok(inSubnet.check(ip), `${ip} is not in ${subnet}`);
    const rfc1918 = new BlockList();
    for (const [b, n] of [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ] as const)
      rfc1918.addSubnet(b, n);
    assert.ok(rfc1918.check(base), `${subnet} is not private`);
    const gogsIp = gogs.networks[network].ipv4_address;
    assert.equal(keygate.environment.GOGS_URL, `http://${gogsIp}:3000`);
  });

  test('docker stop waits longer than SHUTDOWN_TIMEOUT before SIGKILL', () => {
    const grace = parseDuration(keygate.stop_grace_period)!;
    assert.ok(grace > parseDuration(keygate.environment.SHUTDOWN_TIMEOUT ?? '30s')!);
  });
});

describe('deploy/gogs/app.ini', () => {
  const ini = parseIni(read('deploy/gogs/app.ini'));

  test('install lock, the postgres service, EXTERNAL_URL, registration off', () => {
    assert.equal(ini.security.INSTALL_LOCK, 'true');
    assert.equal(ini.database.TYPE, 'postgres');
    assert.match(ini.database.HOST, /^postgres(:\d+)?$/);
    assert.ok(ini.server.EXTERNAL_URL, 'EXTERNAL_URL is not set');
    // ${PUBLIC_URL} is expanded by Gogs from its environment: the same URL Keygate is given.
    if (ini.server.EXTERNAL_URL.includes('${PUBLIC_URL}')) assert.equal(gogs.environment.PUBLIC_URL, keygate.environment.PUBLIC_URL);
    assert.equal(ini.auth.DISABLE_REGISTRATION, 'true');
  });

  test("reverse-proxy authentication, trusted from keygate's address only (/32, not the subnet)", () => {
    assert.equal(ini.auth.ENABLE_REVERSE_PROXY_AUTHENTICATION, 'true');
    assert.equal(ini.auth.REVERSE_PROXY_AUTHENTICATION_HEADER ?? 'X-WEBAUTH-USER', keygate.environment.GOGS_AUTH_HEADER ?? 'X-WEBAUTH-USER');
    assert.equal(ini.auth.TRUSTED_PROXY_IPS, `${keygateAddress().ip}/32`);
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
    assert.match(stages[0]!, /^RUN npm run build$/m);
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

/**
 * loadConfig(env): defaults, validation that names the bad variable, the RP ID rules, the cookie
 * name, and that nothing but the given environment decides the origin and the RP ID.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig, parseDuration } from '../../server/config.js';

/** Runs loadConfig and returns the ConfigError it must throw. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`loadConfig(${JSON.stringify(env)}) accepted it`);
}

describe('config defaults', () => {
  test('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.origin, 'http://localhost:8080');
    assert.equal(c.publicUrl.href, 'http://localhost:8080/');
    assert.equal(c.https, false);
    assert.equal(c.rpId, 'localhost');
    assert.equal(c.rpName, 'Keygate');
    assert.equal(c.gogsUrl.href, 'http://127.0.0.1:3000/');
    // Node presents header names in lower case; the default is Gogs' X-WEBAUTH-USER.
    assert.equal(c.gogsAuthHeader, 'x-webauth-user');
    assert.equal(c.gogsSessionCookie, 'i_like_gogs');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.dataDir, './data');
    assert.equal(c.embeddedPgPort, 5433);
    assert.equal(c.sessionSecret, undefined);
    assert.equal(c.sessionIdleMs, 30 * 60_000);
    assert.equal(c.sessionAbsoluteMs, 12 * 3600_000);
    assert.equal(c.ceremonyTimeoutMs, 5 * 60_000);
    assert.equal(c.inviteTtlMs, 24 * 3600_000);
    assert.equal(c.userVerification, 'required');
    assert.equal(c.trustProxy, false);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.sessionCookieName, 'keygate');
  });

  test('the RP ID defaults to the host of PUBLIC_URL, lower-cased, without the port', () => {
    const c = loadConfig({ PUBLIC_URL: 'https://Git.Example.COM:8443' });
    assert.equal(c.rpId, 'git.example.com');
    assert.equal(c.origin, 'https://git.example.com:8443');
  });

  test('empty strings count as unset', () => {
    const c = loadConfig({ PORT: '', PUBLIC_URL: '', RP_ID: '', SESSION_SECRET: '', SESSION_IDLE_TIMEOUT: '', DATABASE_URL: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.origin, 'http://localhost:8080');
    assert.equal(c.rpId, 'localhost');
    assert.equal(c.sessionSecret, undefined);
    assert.equal(c.sessionIdleMs, 30 * 60_000);
    assert.equal(c.databaseUrl, undefined);
  });

  test('values given are used: port, durations in any unit or plain seconds, header name, booleans', () => {
    const c = loadConfig({
      PORT: '9000',
      SESSION_IDLE_TIMEOUT: '90',
      SESSION_ABSOLUTE_TIMEOUT: '7d',
      CEREMONY_TIMEOUT: '1.5m',
      INVITE_TTL: '30d',
      GOGS_AUTH_HEADER: 'X-Remote-User',
      TRUST_PROXY: 'yes',
      USER_VERIFICATION: 'preferred',
      SESSION_SECRET: 's'.repeat(32),
    });
    assert.equal(c.port, 9000);
    assert.equal(c.sessionIdleMs, 90_000);
    assert.equal(c.sessionAbsoluteMs, 7 * 24 * 3600_000);
    assert.equal(c.ceremonyTimeoutMs, 90_000);
    assert.equal(c.inviteTtlMs, 30 * 24 * 3600_000);
    assert.equal(c.gogsAuthHeader, 'x-remote-user');
    assert.equal(c.trustProxy, true);
    assert.equal(c.userVerification, 'preferred');
    assert.equal(c.sessionSecret, 's'.repeat(32));
  });

  test('a plain decimal number of seconds is seconds too, never milliseconds', () => {
    assert.equal(loadConfig({ SESSION_IDLE_TIMEOUT: '1.5' }).sessionIdleMs, 1500);
    assert.equal(parseDuration('2.5'), 2500);
    assert.equal(parseDuration(' 30m '), 30 * 60_000);
    assert.equal(parseDuration(''), undefined);
    assert.equal(parseDuration('   '), undefined);
    assert.equal(parseDuration('0'), undefined);
    assert.equal(parseDuration('-1s'), undefined);
  });
});

describe('config validation names the bad variable', () => {
  const cases: Array<[variable: string, env: Record<string, string>]> = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['PORT', { PORT: ' ' }],
    ['PORT', { PORT: '0x50' }],
    ['PORT', { PORT: '1e3' }],
    ['EMBEDDED_PG_PORT', { EMBEDDED_PG_PORT: '0' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'not a url' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'git.example.com' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://git.example.com/gogs' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://git.example.com/?a=1' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://git.example.com/#top' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'ftp://git.example.com' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://admin:secret@git.example.com' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'https://admin@git.example.com' }],
    ['GOGS_URL', { GOGS_URL: 'nope' }],
    ['GOGS_URL', { GOGS_URL: 'file:///srv/gogs' }],
    ['GOGS_URL', { GOGS_URL: 'http://gogs:secret@127.0.0.1:3000' }],
    // The proxy forwards to GOGS_URL's host and port only: a path would silently be dropped.
    ['GOGS_URL', { GOGS_URL: 'http://127.0.0.1:3000/gogs' }],
    ['RP_ID', { PUBLIC_URL: 'https://git.example.com', RP_ID: 'other.com' }],
    ['RP_ID', { PUBLIC_URL: 'https://git.example.com', RP_ID: 'xample.com' }],
    ['RP_ID', { PUBLIC_URL: 'https://git.example.com', RP_ID: 'sub.git.example.com' }],
    ['RP_ID', { PUBLIC_URL: 'https://git.example.com', RP_ID: 'com' }],
    ['RP_ID', { PUBLIC_URL: 'https://a.example.co.uk', RP_ID: 'co.uk' }],
    ['RP_ID', { PUBLIC_URL: 'https://a.example.co.uk', RP_ID: 'uk' }],
    // A private public suffix (PSL private section): every github.io site is someone else's.
    ['RP_ID', { PUBLIC_URL: 'https://alice.github.io', RP_ID: 'github.io' }],
    // WebAuthn RP IDs are domain names: an IP-address origin cannot use security keys at all.
    ['PUBLIC_URL', { PUBLIC_URL: 'http://127.0.0.1:8080', RP_ID: '0.0.1' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'http://[::1]:8080' }],
    ['SESSION_IDLE_TIMEOUT', { SESSION_IDLE_TIMEOUT: 'nope' }],
    ['SESSION_IDLE_TIMEOUT', { SESSION_IDLE_TIMEOUT: '-5m' }],
    ['SESSION_IDLE_TIMEOUT', { SESSION_IDLE_TIMEOUT: '0' }],
    ['SESSION_IDLE_TIMEOUT', { SESSION_IDLE_TIMEOUT: '   ' }],
    ['SESSION_ABSOLUTE_TIMEOUT', { SESSION_ABSOLUTE_TIMEOUT: 'forever' }],
    ['CEREMONY_TIMEOUT', { CEREMONY_TIMEOUT: '0s' }],
    // Timers: beyond 2^31 - 1 ms Node fires at once, so "30d" would cut every slow client at its first pause.
    ...[
      'DATABASE_TIMEOUT',
      'SHUTDOWN_TIMEOUT',
      'GOGS_CONNECT_TIMEOUT',
      'GOGS_RESPONSE_TIMEOUT',
      'CLIENT_BODY_TIMEOUT',
      'CLIENT_SEND_TIMEOUT',
      'CLIENT_HEADER_TIMEOUT',
    ].map((name) => [name, { [name]: '25d' }] as [string, Record<string, string>]),
    ['INVITE_TTL', { INVITE_TTL: 'soon' }],
    // createInvite refuses anything over 30 days, so a longer default would break every invite.
    ['INVITE_TTL', { INVITE_TTL: '31d' }],
    ['SESSION_SECRET', { SESSION_SECRET: 'x'.repeat(31) }],
    ['SESSION_ABSOLUTE_TIMEOUT', { SESSION_IDLE_TIMEOUT: '2h', SESSION_ABSOLUTE_TIMEOUT: '1h' }],
    ['USER_VERIFICATION', { USER_VERIFICATION: 'always' }],
    ['USER_VERIFICATION', { USER_VERIFICATION: 'REQUIRED' }],
    ['GOGS_AUTH_HEADER', { GOGS_AUTH_HEADER: 'X WEBAUTH USER' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'maybe' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['LOG_FORMAT', { LOG_FORMAT: 'xml' }],
    // Gogs reserves it: that user could never exist in Gogs.
    ['FIRST_ADMIN_USERNAME', { FIRST_ADMIN_USERNAME: 'admin' }],
    ['FIRST_ADMIN_USERNAME', { FIRST_ADMIN_USERNAME: 'alice.keys' }],
    // Authenticator policy: a typo must never weaken it silently.
    ['ATTESTATION', { ATTESTATION: 'full' }],
    ['REQUIRE_TRUSTED_ATTESTATION', { REQUIRE_TRUSTED_ATTESTATION: 'yes' }],
    ['REQUIRE_TRUSTED_ATTESTATION', { REQUIRE_TRUSTED_ATTESTATION: 'everyone', ATTESTATION: 'none', MDS_BLOB: '/srv/blob.jwt' }],
    ['REQUIRE_TRUSTED_ATTESTATION', { REQUIRE_TRUSTED_ATTESTATION: 'admins', ATTESTATION: 'direct' }],
    ['AAGUID_ALLOW', { AAGUID_ALLOW: 'yubikey' }],
    ['AAGUID_DENY', { AAGUID_DENY: 'cb69481e-8ff7-4039-93ec-0a2729a154a8,not-a-uuid' }],
    ['AAGUID_DENY', { AAGUID_ALLOW: 'cb69481e-8ff7-4039-93ec-0a2729a154a8', AAGUID_DENY: 'CB69481E-8FF7-4039-93EC-0A2729A154A8' }],
    ['SYNCED_PASSKEYS', { SYNCED_PASSKEYS: 'no' }],
    ['AUTHENTICATOR_ATTACHMENT', { AUTHENTICATOR_ATTACHMENT: 'usb' }],
    ['RESIDENT_KEY', { RESIDENT_KEY: 'yes' }],
    ['ALGORITHMS', { ALGORITHMS: 'ES256,RS1' }],
    ['ALGORITHMS', { ALGORITHMS: ' , ' }],
    ['MAX_CREDENTIALS_PER_USER', { MAX_CREDENTIALS_PER_USER: '0' }],
    ['MAX_CREDENTIALS_PER_USER', { MAX_CREDENTIALS_PER_USER: 'many' }],
    ['MDS_BLOB', { MDS_BLOB: 'ftp://mds.example.com/blob' }],
    ['MDS_ROOT_CERT', { MDS_ROOT_CERT: '/srv/root.pem' }],
    ['MDS_ON_ERROR', { MDS_ON_ERROR: 'ignore' }],
    ['CONFIG_FILE', { CONFIG_FILE: '/nonexistent/keygate.env' }],
    // Optional email: a typo must not silently turn it off, nor let a header be injected.
    ['SMTP_URL', { SMTP_URL: 'mail.example.com', MAIL_FROM: 'keygate@example.com' }],
    ['SMTP_URL', { SMTP_URL: 'http://mail.example.com', MAIL_FROM: 'keygate@example.com' }],
    ['SMTP_URL', { SMTP_URL: 'smtp://', MAIL_FROM: 'keygate@example.com' }],
    ['MAIL_FROM', { SMTP_URL: 'smtp://mail.example.com:587' }],
    ['MAIL_FROM', { SMTP_URL: 'smtp://mail.example.com:587', MAIL_FROM: 'keygate' }],
    ['MAIL_FROM', { SMTP_URL: 'smtp://mail.example.com:587', MAIL_FROM: 'Keygate <keygate@example.com>\r\nBcc: all@example.com' }],
    ['MAIL_FROM', { MAIL_FROM: 'keygate@example.com' }],
    ['GOGS_ASSET_CACHE_MB', { GOGS_ASSET_CACHE_MB: '-1' }],
    ['GOGS_ASSET_CACHE_MB', { GOGS_ASSET_CACHE_MB: '32MB' }],
    ['GOGS_ASSET_CACHE_MB', { GOGS_ASSET_CACHE_MB: '99999' }],
  ];
  test("a timer's duration may be up to 24 days; SESSION_ABSOLUTE_TIMEOUT, compared with timestamps rather than waited for, may be longer", () => {
    assert.equal(loadConfig({ CLIENT_SEND_TIMEOUT: '24d' }).clientSendTimeoutMs, 24 * 86_400_000);
    assert.equal(loadConfig({ SESSION_ABSOLUTE_TIMEOUT: '90d' }).sessionAbsoluteMs, 90 * 86_400_000);
    assert.match(configError({ CLIENT_SEND_TIMEOUT: '30d' }).message, /CLIENT_SEND_TIMEOUT: "30d" is longer than 24 days/);
  });
  for (const [variable, env] of cases) {
    test(`${Object.entries(env)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ')} is refused, naming ${variable}`, () => {
      const err = configError(env);
      assert.ok(
        err.problems.some((p) => p.startsWith(`${variable}:`)),
        `no problem about ${variable} in ${JSON.stringify(err.problems)}`,
      );
      assert.match(err.message, new RegExp(`\\b${variable}\\b`));
    });
  }

  test('GOGS_ASSET_CACHE_MB is a number of MiB, 32 by default, 0 for no cache', () => {
    assert.equal(loadConfig({}).gogsAssetCacheBytes, 32 * 1024 * 1024);
    assert.equal(loadConfig({ GOGS_ASSET_CACHE_MB: ' 8 ' }).gogsAssetCacheBytes, 8 * 1024 * 1024);
    assert.equal(loadConfig({ GOGS_ASSET_CACHE_MB: '0' }).gogsAssetCacheBytes, 0);
  });

  test('several bad variables are all reported at once', () => {
    const err = configError({ PORT: 'abc', PUBLIC_URL: 'ftp://git.example.com', USER_VERIFICATION: 'always' });
    for (const variable of ['PORT', 'PUBLIC_URL', 'USER_VERIFICATION']) {
      assert.ok(
        err.problems.some((p) => p.startsWith(`${variable}:`)),
        `${variable} missing from ${JSON.stringify(err.problems)}`,
      );
    }
  });

  test('no variable given a bad value gets a message without its name, or one that says "undefined"', () => {
    for (const variable of CONFIG_VARIABLES) {
      for (const bad of ['\u0000', 'x', '-1', 'https://a b']) {
        let err: unknown;
        try {
          loadConfig({ [variable]: bad });
        } catch (e) {
          err = e;
        }
        if (err === undefined) continue;
        assert.ok(err instanceof ConfigError, `${variable}=${JSON.stringify(bad)}: ${err instanceof Error ? err.message : 'not an Error'}`);
        assert.ok(err.problems.length > 0);
        for (const problem of err.problems) {
          assert.match(problem, /^[A-Z0-9_]+: \S/, `${variable}=${JSON.stringify(bad)}: "${problem}"`);
          assert.doesNotMatch(problem, /undefined|\[object /, `${variable}=${JSON.stringify(bad)}: "${problem}"`);
        }
      }
    }
  });

  test('the message does not echo SMTP_URL, which may hold a password', () => {
    const err = configError({ SMTP_URL: 'ftp://keygate:do-not-print-me@mail.example.com', MAIL_FROM: 'keygate@example.com' });
    assert.doesNotMatch(err.message, /do-not-print-me/);
  });

  test('email is off unless SMTP_URL is set; set, with MAIL_FROM as an address or a name and an address', () => {
    assert.equal(loadConfig({}).smtpUrl, undefined);
    const c = loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465', MAIL_FROM: ' Keygate <keygate@example.com> ' });
    assert.deepEqual([c.smtpUrl, c.mailFrom], ['smtps://u:p@mail.example.com:465', 'Keygate <keygate@example.com>']);
    assert.equal(loadConfig({ SMTP_URL: 'smtp://127.0.0.1:2525', MAIL_FROM: 'keygate@example.com' }).mailFrom, 'keygate@example.com');
  });

  test('the message does not echo SESSION_SECRET', () => {
    const err = configError({ SESSION_SECRET: 'do-not-print-me' });
    assert.doesNotMatch(err.message, /do-not-print-me/);
  });
});

describe('config policy and CONFIG_FILE', () => {
  test('the policy defaults: no attestation, any model, synced passkeys allowed, any attachment, resident key preferred, UV required, all three algorithms, 10 keys', () => {
    const p = loadConfig({}).policy;
    assert.deepEqual(
      { ...p, aaguidAllow: [...p.aaguidAllow], aaguidDeny: [...p.aaguidDeny], algorithms: [...p.algorithms] },
      {
        attestation: 'none',
        trustedAttestation: 'no',
        aaguidAllow: [],
        aaguidDeny: [],
        syncedPasskeys: 'allow',
        attachment: 'any',
        residentKey: 'preferred',
        userVerification: 'required',
        algorithms: ['EdDSA', 'ES256', 'RS256'],
        ceremonyTimeoutMs: 5 * 60_000,
        maxCredentialsPerUser: 10,
      },
    );
  });

  test('AAGUID lists are trimmed and lower-cased; ALGORITHMS keeps its order without duplicates', () => {
    const p = loadConfig({
      AAGUID_DENY: ' CB69481E-8FF7-4039-93EC-0A2729A154A8 ,, 08987058-cadc-4b81-b6e1-30de50dcbe96',
      ALGORITHMS: 'ES256, EdDSA,ES256',
    }).policy;
    assert.deepEqual([...p.aaguidDeny], ['cb69481e-8ff7-4039-93ec-0a2729a154a8', '08987058-cadc-4b81-b6e1-30de50dcbe96']);
    assert.deepEqual([...p.algorithms], ['ES256', 'EdDSA']);
  });

  test('CONFIG_FILE supplies variables (dotenv syntax), the environment wins, and an unknown variable in it is an error', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-config-'));
    try {
      const file = path.join(dir, 'keygate.env');
      await writeFile(file, '# policy\nAUTHENTICATOR_ATTACHMENT=cross-platform\nSYNCED_PASSKEYS="refuse"\nRP_NAME=From file\n');
      const c = loadConfig({ CONFIG_FILE: file, RP_NAME: 'From env' });
      assert.equal(c.policy.attachment, 'cross-platform');
      assert.equal(c.policy.syncedPasskeys, 'refuse');
      assert.equal(c.rpName, 'From env');
      assert.equal(c.configFile, file);
      await writeFile(file, 'SYNCED_PASSKEY=refuse\n');
      assert.match(configError({ CONFIG_FILE: file }).message, /CONFIG_FILE: ".*keygate\.env" sets SYNCED_PASSKEY, which is not a Keygate variable/);
      await writeFile(file, 'SYNCED_PASSKEYS=sometimes\n');
      assert.match(configError({ CONFIG_FILE: file }).message, /SYNCED_PASSKEYS/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('config: the .env file of the working directory, PORT without PUBLIC_URL', () => {
  const withFolder = async (body: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-dotenv-'));
    try {
      await body(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  test('the .env file supplies variables, the environment wins, and the file read is reported', () =>
    withFolder(async (dir) => {
      const dotenvFile = path.join(dir, '.env');
      await writeFile(dotenvFile, 'PUBLIC_URL=https://git.example.com\nRP_NAME=From .env\nSYNCED_PASSKEYS=refuse\n');
      const c = loadConfig({ RP_NAME: 'From env' }, { dotenvFile });
      assert.equal(c.origin, 'https://git.example.com');
      assert.equal(c.policy.syncedPasskeys, 'refuse');
      assert.equal(c.rpName, 'From env');
      assert.equal(c.configFile, dotenvFile);
      assert.deepEqual([...c.notices], []);
      // No .env file: nothing read, nothing reported.
      assert.equal(loadConfig({}, { dotenvFile: path.join(dir, 'missing', '.env') }).configFile, undefined);
    }));

  test("a .env file may hold other programs' variables (noticed), but a near miss of a Keygate variable is an error naming it", () =>
    withFolder(async (dir) => {
      const dotenvFile = path.join(dir, '.env');
      await writeFile(dotenvFile, 'POSTGRES_PASSWORD=compose-reads-this\nGOGS_SECRET_KEY=and-this\n');
      const c = loadConfig({}, { dotenvFile });
      assert.deepEqual([...c.notices], [`${dotenvFile} also sets GOGS_SECRET_KEY, POSTGRES_PASSWORD, which Keygate does not read`]);
      await writeFile(dotenvFile, 'REQUIRE_TRUSTED_ATTESTATON=everyone\n');
      let err: unknown;
      try {
        loadConfig({}, { dotenvFile });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        `.env: "${dotenvFile}" sets REQUIRE_TRUSTED_ATTESTATON, which is not a Keygate variable; did you mean REQUIRE_TRUSTED_ATTESTATION?`,
      ]);
    }));

  test('CONFIG_FILE, when set, is read instead of the .env file', () =>
    withFolder(async (dir) => {
      const dotenvFile = path.join(dir, '.env');
      const configFile = path.join(dir, 'keygate.env');
      await writeFile(dotenvFile, 'RP_NAME=From .env\nATTESTATION=direct\n');
      await writeFile(configFile, 'RP_NAME=From CONFIG_FILE\n');
      const c = loadConfig({ CONFIG_FILE: configFile }, { dotenvFile });
      assert.equal(c.rpName, 'From CONFIG_FILE');
      assert.equal(c.policy.attestation, 'none', 'the .env file was read too');
      assert.equal(c.configFile, configFile);
    }));

  test('PORT without PUBLIC_URL: the public URL follows PORT, with a notice saying to set PUBLIC_URL behind anything else', () => {
    const c = loadConfig({ PORT: '9000' });
    assert.equal(c.origin, 'http://localhost:9000');
    assert.equal(c.notices.length, 1);
    assert.match(c.notices[0], /^PORT is 9000 and PUBLIC_URL is not set: links and WebAuthn use http:\/\/localhost:9000; .* set PUBLIC_URL/);
    assert.deepEqual([...loadConfig({ PORT: '9000', PUBLIC_URL: 'https://git.example.com' }).notices], []);
    assert.equal(loadConfig({}).origin, 'http://localhost:8080');
    assert.deepEqual([...loadConfig({}).notices], []);
  });
});

describe('config RP ID and cookie', () => {
  test('RP_ID may be a registrable parent domain of the host', () => {
    const c = loadConfig({ PUBLIC_URL: 'https://git.example.com', RP_ID: 'example.com' });
    assert.equal(c.rpId, 'example.com');
    assert.equal(c.origin, 'https://git.example.com');
  });

  test('RP_ID may lie between the registrable domain and the host, and is compared case-insensitively', () => {
    assert.equal(loadConfig({ PUBLIC_URL: 'https://a.b.example.com', RP_ID: 'b.example.com' }).rpId, 'b.example.com');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://git.example.com', RP_ID: 'EXAMPLE.com' }).rpId, 'example.com');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://a.example.co.uk', RP_ID: 'example.co.uk' }).rpId, 'example.co.uk');
    assert.equal(loadConfig({ PUBLIC_URL: 'https://git.example.com', RP_ID: 'git.example.com' }).rpId, 'git.example.com');
  });

  test('an https PUBLIC_URL gives the __Host- cookie name; http gives the plain one', () => {
    const secure = loadConfig({ PUBLIC_URL: 'https://git.example.com' });
    assert.equal(secure.https, true);
    assert.equal(secure.sessionCookieName, '__Host-keygate');
    const plain = loadConfig({ PUBLIC_URL: 'http://localhost:3001' });
    assert.equal(plain.https, false);
    assert.equal(plain.sessionCookieName, 'keygate');
  });
});

describe('config object', () => {
  test('is frozen: no setting can be changed after start-up', () => {
    const c = loadConfig({ PUBLIC_URL: 'https://git.example.com' });
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { origin: string }).origin = 'https://evil.example';
    }, TypeError);
    assert.throws(() => {
      (c as { rpId: string }).rpId = 'evil.example';
    }, TypeError);
    assert.throws(() => {
      (c as unknown as Record<string, unknown>).extra = 1;
    }, TypeError);
    assert.equal(c.origin, 'https://git.example.com');
    assert.equal(c.rpId, 'git.example.com');
  });

  test('origin and RP ID come only from the env given, never from process.env', () => {
    const saved = { PUBLIC_URL: process.env.PUBLIC_URL, RP_ID: process.env.RP_ID, PORT: process.env.PORT };
    process.env.PUBLIC_URL = 'https://evil.example';
    process.env.RP_ID = 'evil.example';
    process.env.PORT = '1';
    try {
      const c = loadConfig({ PUBLIC_URL: 'https://git.example.com' });
      assert.equal(c.origin, 'https://git.example.com');
      assert.equal(c.rpId, 'git.example.com');
      assert.equal(c.port, 8080);
      const d = loadConfig({});
      assert.equal(d.origin, 'http://localhost:8080');
      assert.equal(d.rpId, 'localhost');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test('the same env always gives the same origin and RP ID, whatever else is set', () => {
    const base = { PUBLIC_URL: 'https://git.example.com', RP_ID: 'example.com' };
    const a = loadConfig(base);
    const b = loadConfig({ ...base, HOST: '127.0.0.1', PORT: '9999', TRUST_PROXY: 'true', HOSTNAME: 'other.example', GOGS_URL: 'http://10.0.0.2:3000' });
    assert.equal(b.origin, a.origin);
    assert.equal(b.rpId, a.rpId);
  });

  test('the input env is not modified', () => {
    const env = { PUBLIC_URL: 'https://git.example.com', PORT: '' };
    const copy = { ...env };
    loadConfig(env);
    assert.deepEqual(env, copy);
  });
});

describe('LOGO_FILE', () => {
  test('a PNG, JPEG, WebP or SVG file is read at start-up and told by its content; anything else names LOGO_FILE and says why', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-logo-'));
    try {
      const files: Record<string, Buffer | string> = {
        'logo.png': Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(16)]),
        'logo.jpg': Buffer.concat([Buffer.from('ffd8ffe0', 'hex'), Buffer.alloc(16)]),
        'logo.webp': Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]),
        'logo.svg': '<!-- made by hand -->\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        'page.html': '<html><body><svg></svg></body></html>',
        'big.png': Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(300 * 1024)]),
      };
      for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
      const expected: Record<string, string> = { 'logo.png': 'image/png', 'logo.jpg': 'image/jpeg', 'logo.webp': 'image/webp', 'logo.svg': 'image/svg+xml' };
      for (const [name, type] of Object.entries(expected)) {
        const c = loadConfig({ LOGO_FILE: path.join(dir, name) });
        assert.equal(c.logo?.type, type, name);
        assert.deepEqual(c.logo?.bytes, Buffer.from(files[name]));
      }
      assert.equal(loadConfig({}).logo, undefined);
      assert.deepEqual(configError({ LOGO_FILE: path.join(dir, 'page.html') }).problems, [
        `LOGO_FILE: "${path.join(dir, 'page.html')}" is not a PNG, JPEG, WebP or SVG image`,
      ]);
      assert.deepEqual(configError({ LOGO_FILE: path.join(dir, 'big.png') }).problems, [
        `LOGO_FILE: "${path.join(dir, 'big.png')}" is 301 KiB; a logo may be at most 256 KiB`,
      ]);
      assert.deepEqual(configError({ LOGO_FILE: path.join(dir, 'none.png') }).problems, [`LOGO_FILE: cannot read "${path.join(dir, 'none.png')}" (ENOENT)`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Attestation trust and the FIDO Metadata Service (MDS3): a test vendor PKI issues real packed
 * attestation chains (test/support/pki.ts), a test MDS root signs real BLOBs (test/support/mds.ts),
 * and Keygate loads them from a file or a URL, verifies them, trusts chains that reach the roots
 * they list, and refuses models they report compromised, at enrolment and at sign-in.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../server/config.js';
import { createLogger } from '../server/log.js';
import { loadMetadata, MetadataError } from '../server/policy/metadata.js';
import { AuthenticatorPolicy } from '../server/policy/policy.js';
import { SoftwareAuthenticator, type AuthenticatorOptions } from './support/authenticator.js';
import { TestClient } from './support/client.js';
import { runCli, show } from './support/cli.js';
import { assertRefused, invite, signIn, snapshot } from './support/flows.js';
import { useSharedKeygates, type TestKeygate } from './support/keygate.js';
import { MainProcess } from './support/main-process.js';
import { alterMdsBlobPayload, createMdsBlob, createMdsBlobFromOtherRoot, createMdsSigner, GARBAGE_MDS_BLOBS, isoDate, type MdsSigner } from './support/mds.js';
import { createAttestationCa, createFakeRoot, type AttestationCa } from './support/pki.js';

const CERTIFIED = randomUUID();
const COMPROMISED = randomUUID();
const UV_BYPASS = randomUUID();
const REVOKED = randomUUID();
const UNLISTED = randomUUID();
const LATER_COMPROMISED = randomUUID();

let dir: string;
let vendor: AttestationCa;
let otherVendor: AttestationCa;
let signer: MdsSigner;
/** BLOB files: the current one, and the next one (LATER_COMPROMISED reported compromised). */
const files = { blob: '', nextBlob: '', root: '' };
const keygate = useSharedKeygates();

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keygate-mds-'));
  vendor = await createAttestationCa({ organization: 'Keygate Test Vendor' });
  otherVendor = await createAttestationCa({ organization: 'Other Vendor' });
  signer = await createMdsSigner();
  const entry = (aaguid: string, status?: string) => ({
    aaguid,
    attestationRoots: [vendor.root],
    status: status as never,
    description: `Test Key ${aaguid.slice(0, 4)}`,
  });
  const entries = [
    entry(CERTIFIED),
    entry(COMPROMISED, 'ATTESTATION_KEY_COMPROMISE'),
    entry(UV_BYPASS, 'USER_VERIFICATION_BYPASS'),
    entry(REVOKED, 'REVOKED'),
    entry(LATER_COMPROMISED),
  ];
  files.blob = path.join(dir, 'blob.jwt');
  files.nextBlob = path.join(dir, 'next.jwt');
  files.root = path.join(dir, 'mds-root.pem');
  await writeFile(files.blob, await createMdsBlob({ signer, entries, no: 1 }));
  await writeFile(
    files.nextBlob,
    await createMdsBlob({ signer, no: 2, entries: [...entries.slice(0, 4), entry(LATER_COMPROMISED, 'USER_KEY_PHYSICAL_COMPROMISE')] }),
  );
  await writeFile(files.root, signer.rootPem);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MDS = () => ({ MDS_BLOB: files.blob, MDS_ROOT_CERT: files.root });
const TRUST = (who = 'everyone') => ({ ...MDS(), ATTESTATION: 'direct', REQUIRE_TRUSTED_ATTESTATION: who });

let n = 0;
/** A key of this model whose attestation chain comes from `ca` (the vendor the metadata lists, unless said). */
async function attestedKey(aaguid: string, ca: { attestation: AttestationCa['attestation'] } = vendor, opts: AuthenticatorOptions = {}) {
  return new SoftwareAuthenticator({ alg: 'ES256', aaguid, attestation: await ca.attestation(aaguid), ...opts });
}

async function enrolWith(kg: TestKeygate, key: SoftwareAuthenticator, opts: { admin?: boolean } = {}) {
  const token = await invite(kg, `att${++n}`, { admin: opts.admin });
  const browser = new TestClient(kg.url);
  const options = await browser.post('/-/api/enroll/options', { token });
  assert.equal(options.status, 200, options.text);
  const response = await key.register(options.json, kg.origin);
  const before = await snapshot(kg);
  const res = await browser.post('/-/api/enroll/verify', { token, response });
  return { res, before, browser, options: options.json };
}

async function enrols(kg: TestKeygate, key: SoftwareAuthenticator, opts: { admin?: boolean } = {}) {
  const { res, browser } = await enrolWith(kg, key, opts);
  assert.equal(res.status, 200, res.text);
  return browser;
}

async function refused(kg: TestKeygate, key: SoftwareAuthenticator, reason: string, message: RegExp, opts: { admin?: boolean } = {}) {
  const { res, before } = await enrolWith(kg, key, opts);
  await assertRefused(kg, res, { status: 403, code: reason, message, audit: { event: 'invite_redeemed', reason } }, before);
}

const storedRow = async (kg: TestKeygate, key: SoftwareAuthenticator) =>
  (
    await kg.db.query('SELECT attestation_format, attestation_trusted FROM credentials WHERE credential_id = $1', [
      Buffer.from(key.credentials[0].id, 'base64url'),
    ])
  ).rows[0];

describe('trusted attestation (REQUIRE_TRUSTED_ATTESTATION with MDS_BLOB)', () => {
  test('a packed attestation whose x5c chain reaches the root the metadata lists for its AAGUID enrols, stored as trusted', async () => {
    const kg = await keygate(TRUST());
    const key = await attestedKey(CERTIFIED);
    const { options } = await enrolWith(kg, key).then(async (r) => {
      assert.equal(r.res.status, 200, r.res.text);
      return r;
    });
    assert.equal(options.attestation, 'direct');
    assert.deepEqual(await storedRow(kg, key), { attestation_format: 'packed', attestation_trusted: true });
  });

  test('self attestation (packed, no certificate chain) is refused: untrusted', async () => {
    const kg = await keygate(TRUST());
    await refused(kg, new SoftwareAuthenticator({ aaguid: CERTIFIED }), 'policy_untrusted_attestation', /only authenticators whose maker vouches for them/);
  });

  test('a self-signed certificate posing as the root in x5c is refused (the @simplewebauthn/server certificate-path advisory)', async () => {
    const kg = await keygate(TRUST());
    const fake = await createFakeRoot(vendor);
    await refused(kg, await attestedKey(CERTIFIED, fake), 'policy_untrusted_attestation', /did not prove its make and model/);
  });

  test("a chain from another vendor's root than the metadata lists for the AAGUID is refused", async () => {
    const kg = await keygate(TRUST());
    await refused(kg, await attestedKey(CERTIFIED, otherVendor), 'policy_untrusted_attestation', /maker vouches/);
  });

  test('a model the metadata does not list is refused, even with a chain from a listed vendor', async () => {
    const kg = await keygate(TRUST());
    await refused(kg, await attestedKey(UNLISTED), 'policy_untrusted_attestation', /maker vouches/);
  });

  test('required for admins only: an unattested key enrols for a person and is refused for an administrator, whose attested key enrols', async () => {
    const kg = await keygate(TRUST('admins'));
    await enrols(kg, new SoftwareAuthenticator());
    await refused(kg, new SoftwareAuthenticator(), 'policy_untrusted_attestation', /accepts for administrators only authenticators whose maker vouches/, {
      admin: true,
    });
    await enrols(kg, await attestedKey(CERTIFIED), { admin: true });
  });

  test('not required (the default): an attested key is still recorded as trusted, an unattested one enrols as untrusted', async () => {
    const kg = await keygate({ ...MDS(), ATTESTATION: 'direct' });
    const attested = await attestedKey(CERTIFIED);
    await enrols(kg, attested);
    assert.equal((await storedRow(kg, attested)).attestation_trusted, true);
    const plain = new SoftwareAuthenticator();
    await enrols(kg, plain);
    assert.equal((await storedRow(kg, plain)).attestation_trusted, false);
  });

  test('required later: a key enrolled without a trusted chain is refused at sign-in; a trusted one signs in', async () => {
    const open = await keygate({ ...MDS(), ATTESTATION: 'direct' });
    const plain = new SoftwareAuthenticator();
    const attested = await attestedKey(CERTIFIED);
    await enrols(open, plain);
    await enrols(open, attested);
    const strict = await keygate(TRUST());
    const before = await snapshot(strict);
    const res = await signIn(new TestClient(strict.url), plain);
    await assertRefused(
      strict,
      res,
      {
        status: 403,
        code: 'policy_untrusted_attestation',
        message: /no longer accepted here.*Ask your administrator for a recovery link to enrol an allowed key\./,
        audit: { event: 'sign_in', reason: 'policy_untrusted_attestation' },
      },
      before,
    );
    assert.equal((await signIn(new TestClient(strict.url), attested)).status, 200);
  });
});

describe('metadata status reports', () => {
  for (const [aaguid, status] of [
    [COMPROMISED, 'attestation key compromise'],
    [UV_BYPASS, 'user verification bypass'],
    [REVOKED, 'revoked'],
  ] as const) {
    test(`a model reported "${status}" is refused at enrolment, even where attestation need not be trusted`, async () => {
      const kg = await keygate({ ...MDS(), ATTESTATION: 'direct' });
      await refused(
        kg,
        await attestedKey(aaguid),
        'policy_authenticator_compromised',
        new RegExp(`reports this authenticator model \\(Test Key ${aaguid.slice(0, 4)}\\) as ${status}`),
      );
      // The model is judged by its AAGUID, however it attests.
      await refused(kg, new SoftwareAuthenticator({ aaguid }), 'policy_authenticator_compromised', /as /);
    });
  }

  test('a model reported compromised after enrolment is refused at sign-in with the next BLOB; other models sign in', async () => {
    const v1 = await keygate({ ...MDS(), ATTESTATION: 'direct' });
    const victim = await attestedKey(LATER_COMPROMISED);
    const fine = await attestedKey(CERTIFIED);
    await enrols(v1, victim);
    await enrols(v1, fine);
    assert.equal((await signIn(new TestClient(v1.url), victim)).status, 200);
    const v2 = await keygate({ MDS_BLOB: files.nextBlob, MDS_ROOT_CERT: files.root, ATTESTATION: 'direct' });
    const before = await snapshot(v2);
    const res = await signIn(new TestClient(v2.url), victim);
    await assertRefused(
      v2,
      res,
      {
        status: 403,
        code: 'policy_authenticator_compromised',
        message: /user key physical compromise.*recovery link to enrol an allowed key\./,
        audit: { event: 'sign_in', reason: 'policy_authenticator_compromised' },
      },
      before,
    );
    assert.equal((await signIn(new TestClient(v2.url), fine)).status, 200);
  });
  test('a newer BLOB is picked up without a restart (SIGHUP or daily reload); a broken or older one keeps the metadata in use', async () => {
    const file = path.join(dir, 'live.jwt');
    const victimId = randomUUID();
    const entry = (status?: string) => ({ aaguid: victimId, attestationRoots: [vendor.root], status: status as never });
    await writeFile(file, await createMdsBlob({ signer, no: 10, entries: [entry()] }));
    const kg = await keygate({ MDS_BLOB: file, MDS_ROOT_CERT: files.root, ATTESTATION: 'direct' });
    const victim = await attestedKey(victimId);
    await enrols(kg, victim);
    // Broken, then older: ignored, the key still signs in.
    await writeFile(file, 'garbage');
    await kg.gateway.reloadMetadata();
    await writeFile(file, await createMdsBlob({ signer, no: 9, entries: [entry('REVOKED')] }));
    await kg.gateway.reloadMetadata();
    assert.equal((await signIn(new TestClient(kg.url), victim)).status, 200);
    // Newer, reporting the model revoked: refused from then on.
    await writeFile(file, await createMdsBlob({ signer, no: 11, entries: [entry('REVOKED')] }));
    await kg.gateway.reloadMetadata();
    const res = await signIn(new TestClient(kg.url), victim);
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.error.code, 'policy_authenticator_compromised');
  });
});

describe('loading the BLOB (MDS_BLOB, MDS_ROOT_CERT, MDS_ON_ERROR)', () => {
  const lines: string[] = [];
  const capture = () => {
    lines.length = 0;
    return createLogger('warn', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
  };
  const configWith = (env: Record<string, string>) => loadConfig({ PUBLIC_URL: 'http://localhost:8080', ...env });

  test('from an http URL: downloaded, verified, and used', async () => {
    const blob = await createMdsBlob({ signer, entries: [{ aaguid: CERTIFIED, attestationRoots: [vendor.root] }], no: 7 });
    const server = http.createServer((_req, res) => res.end(blob));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob.jwt`;
      const metadata = await loadMetadata(configWith({ MDS_BLOB: url, MDS_ROOT_CERT: files.root }), capture());
      assert.equal(metadata.summary.enabled, true);
      assert.equal(metadata.summary.serial, 7);
      assert.equal(await metadata.chainIsTrusted(CERTIFIED, (await vendor.attestation(CERTIFIED)).chain), true);
    } finally {
      server.close();
    }
  });

  const broken: Array<[string, () => Promise<string>, RegExp]> = [
    [
      'a BLOB whose payload was altered after signing',
      async () =>
        alterMdsBlobPayload(await createMdsBlob({ signer, entries: [], no: 3 }), (p) => {
          p.no = 4;
        }),
      /did not verify/,
    ],
    [
      'a BLOB signed by a chain that does not reach MDS_ROOT_CERT',
      async () => (await createMdsBlobFromOtherRoot({ entries: [], like: signer })).blob,
      /did not verify/,
    ],
    ['an expired BLOB (nextUpdate in the past)', async () => createMdsBlob({ signer, entries: [], nextUpdate: isoDate(-1) }), /expired: its nextUpdate was/],
    ...GARBAGE_MDS_BLOBS.slice(0, 3).map(([name, blob]): [string, () => Promise<string>, RegExp] => [`garbage (${name})`, async () => blob, /did not verify/]),
  ];
  for (const [name, make, reason] of broken) {
    test(`${name}: a clear start-up error under MDS_ON_ERROR=fail, and a warning with the metadata disabled under warn`, async () => {
      const file = path.join(dir, `broken-${++n}.jwt`);
      await writeFile(file, await make());
      const env = { MDS_BLOB: file, MDS_ROOT_CERT: files.root };
      await assert.rejects(loadMetadata(configWith(env), capture()), (err: Error) => {
        assert.ok(err instanceof MetadataError);
        assert.match(err.message, /^MDS_BLOB: /);
        assert.match(err.message, reason);
        assert.match(err.message, /MDS_ON_ERROR=warn/);
        return true;
      });
      const metadata = await loadMetadata(configWith({ ...env, MDS_ON_ERROR: 'warn' }), capture());
      assert.equal(metadata.summary.enabled, false);
      assert.match(metadata.summary.disabledReason ?? '', reason);
      const warning = lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
      assert.ok(warning, 'a warning is logged');
      assert.match(warning.msg, /FIDO metadata is DISABLED/);
    });
  }

  test('a missing file or an unreadable root certificate is named in the error', async () => {
    await assert.rejects(loadMetadata(configWith({ MDS_BLOB: path.join(dir, 'nope.jwt') }), capture()), /MDS_BLOB: could not read .*nope\.jwt \(ENOENT\)/);
    await assert.rejects(loadMetadata(configWith({ MDS_BLOB: files.blob, MDS_ROOT_CERT: files.blob }), capture()), /MDS_ROOT_CERT .* is not a PEM certificate/);
  });

  test('Keygate does not start with a broken BLOB under MDS_ON_ERROR=fail: non-zero exit and the reason on stderr', async () => {
    const file = path.join(dir, 'expired.jwt');
    await writeFile(file, await createMdsBlob({ signer, entries: [], nextUpdate: isoDate(-3) }));
    const { database, gogs } = await keygate({});
    const child = new MainProcess({
      DATABASE_URL: database.url,
      PUBLIC_URL: 'http://localhost:8080',
      GOGS_URL: gogs.url,
      PORT: '0',
      MDS_BLOB: file,
      MDS_ROOT_CERT: files.root,
    });
    const exit = await child.waitForExit(60_000);
    assert.ok(exit, 'exits on its own');
    assert.notEqual(exit.code, 0);
    assert.match(child.stderr, /keygate: failed to start: MDS_BLOB: the BLOB from .*expired\.jwt \(serial \d+\) expired/);
  });

  test('with the metadata disabled (warn) and trust required, nobody can enrol: it fails closed', async () => {
    const file = path.join(dir, 'garbage.jwt');
    await writeFile(file, 'not a jwt');
    const kg = await keygate({ ...TRUST(), MDS_BLOB: file, MDS_ON_ERROR: 'warn' });
    await refused(kg, await attestedKey(CERTIFIED), 'policy_untrusted_attestation', /maker vouches/);
  });
});

describe('the effective policy, shown to admins', () => {
  test('model names: the shipped AAGUID list first, then the FIDO metadata description, then "Unknown authenticator (<aaguid>)"', async () => {
    const unknown = randomUUID();
    const policy = new AuthenticatorPolicy(loadConfig({}).policy, await loadMetadata(loadConfig({ ...MDS() }), createLogger('silent')));
    assert.equal(policy.modelName('cb69481e-8ff7-4039-93ec-0a2729a154a8'), 'YubiKey 5 Series');
    assert.equal(policy.modelName(CERTIFIED), `Test Key ${CERTIFIED.slice(0, 4)}`);
    assert.equal(policy.modelName(unknown), `Unknown authenticator (${unknown})`);
    // And the admin page shows the same name for a key of a model only the metadata knows.
    const kg = await keygate({ ...MDS(), ATTESTATION: 'direct' });
    const admin = await enrols(kg, await attestedKey(CERTIFIED), { admin: true });
    const page = await admin.get(`/-/admin/users/att${n}`);
    assert.match(page.text, new RegExp(`Test Key ${CERTIFIED.slice(0, 4)} · Security key`));
  });

  test('the admin policy page lists every setting read-only and the keys the policy refuses; the user page flags them', async () => {
    const open = await keygate({ ...MDS(), ATTESTATION: 'direct' });
    const plain = new SoftwareAuthenticator();
    const name = `flagged${++n}`;
    const token = await invite(open, name);
    const browser = new TestClient(open.url);
    const options = await browser.post('/-/api/enroll/options', { token });
    assert.equal((await browser.post('/-/api/enroll/verify', { token, response: await plain.register(options.json, open.origin) })).status, 200);

    const strict = await keygate({ ...TRUST('everyone'), SYNCED_PASSKEYS: 'refuse-for-admins', MAX_CREDENTIALS_PER_USER: '3' });
    const adminKey = await attestedKey(CERTIFIED);
    const admin = await enrols(strict, adminKey, { admin: true });
    const page = await admin.get('/-/admin/policy');
    assert.equal(page.status, 200, page.text);
    for (const variable of [
      'ATTESTATION',
      'REQUIRE_TRUSTED_ATTESTATION',
      'AAGUID_ALLOW',
      'AAGUID_DENY',
      'SYNCED_PASSKEYS',
      'AUTHENTICATOR_ATTACHMENT',
      'RESIDENT_KEY',
      'USER_VERIFICATION',
      'ALGORITHMS',
      'CEREMONY_TIMEOUT',
      'MAX_CREDENTIALS_PER_USER',
      'MDS_BLOB',
    ]) {
      assert.match(page.text, new RegExp(`data-variable="${variable}"`), variable);
    }
    assert.match(page.text, /required for everyone/);
    assert.match(page.text, /refused for administrators/);
    assert.match(page.text, /at most 3/);
    assert.match(page.text, /serial 1, next update/);
    assert.doesNotMatch(page.text, /<form|<input/, 'read-only');
    assert.match(page.text, new RegExp(`data-credential-id="${plain.credentials[0].id}" data-reasons="policy_untrusted_attestation"`));
    assert.doesNotMatch(page.text, new RegExp(adminKey.credentials[0].id), 'a key that meets the policy is not listed');
    const userPage = await admin.get(`/-/admin/users/${name}`);
    assert.match(
      userPage.text,
      /Refused by the current policy at its next sign-in\.<\/strong> This organisation accepts only authenticators whose maker vouches/,
    );
    // Viewing needs the admin role: a person is refused.
    const person = new TestClient(strict.url);
    assert.notEqual((await person.get('/-/admin/policy')).status, 200);
  });

  test('`npm run cli -- policy` prints the effective policy and the keys it refuses; with a tightened configuration, who must re-enrol first', async () => {
    const kg = await keygate({});
    const key = new SoftwareAuthenticator({ aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8' });
    await enrols(kg, key);
    const env = { DATABASE_URL: kg.database.url, PUBLIC_URL: 'http://localhost:8080' };
    const now = await runCli(['policy'], env);
    assert.equal(now.code, 0, show(now));
    assert.match(now.stdout, /^Attestation conveyance\tnone\t\(ATTESTATION\)$/m);
    assert.match(now.stdout, /^Keys per person\tat most 10\t\(MAX_CREDENTIALS_PER_USER\)$/m);
    assert.doesNotMatch(now.stdout, new RegExp(key.credentials[0].id));
    const tightened = await runCli(['policy'], { ...env, AAGUID_DENY: 'cb69481e-8ff7-4039-93ec-0a2729a154a8' });
    assert.equal(tightened.code, 0, show(tightened));
    assert.match(tightened.stdout, /^Denied models\tYubiKey 5 Series.*cb69481e/m);
    assert.match(tightened.stdout, new RegExp(`^att\\d+\\t${key.credentials[0].id}\\t.*\\tYubiKey 5 Series.*\\tpolicy_aaguid_denied$`, 'm'));
    const bad = await runCli(['policy'], { ...env, MDS_BLOB: path.join(dir, 'missing.jwt') });
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /keygate: MDS_BLOB: could not read/);
  });
});

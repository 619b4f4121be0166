/**
 * Test X.509 hierarchies for authenticator attestation (and, via `createCertificateAuthority`, for
 * the MDS BLOB signer in ./mds.ts), made with @peculiar/x509 on node:crypto's WebCrypto, ES256 keys.
 *
 * Attestation hierarchy: root CA (self-signed, CA:true) → intermediate CA (CA:true, pathLen 0)
 * → attestation leaf certificates that meet WebAuthn §8.2.1 "Packed Attestation Statement
 * Certificate Requirements": version 3; subject C (ISO 3166 alpha-2), O, OU = "Authenticator
 * Attestation", CN; basic constraints CA:false; and, when the AAGUID is known, the extension
 * id-fido-gen-ce-aaguid (1.3.6.1.4.1.45724.1.1.4), non-critical, whose value is an OCTET STRING
 * holding the 16 AAGUID bytes. An authenticator sends x5c = [leaf, intermediate].
 *
 * No certificate carries a CRL distribution point (or AIA) extension, so @simplewebauthn's
 * isCertRevoked() has no URL to fetch: verification never touches the network.
 */
// @peculiar/x509 resolves its algorithm providers with tsyringe, which needs the Reflect metadata
// polyfill loaded first (@simplewebauthn/server loads it too, but this module must not depend on
// being imported after it).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import type { JsonName } from '@peculiar/x509';

/** The WebCrypto implementation everything here uses (passed explicitly: no global provider is set). */
const crypto = webcrypto as unknown as Crypto;

const ES256_KEY: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ES256_SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** OID of the FIDO AAGUID certificate extension (WebAuthn §8.2.1, FIDO Registry). */
export const ID_FIDO_GEN_CE_AAGUID = '1.3.6.1.4.1.45724.1.1.4';

const DAY = 24 * 60 * 60 * 1000;

/**
 * - 'current': not before now − 1 day, not after now + 1 year (the default);
 * - 'expired': not before now − 2 years, not after now − 1 day;
 * - 'not-yet-valid': not before now + 1 day, not after now + 1 year.
 */
export type Validity = 'current' | 'expired' | 'not-yet-valid';

function validityWindow(validity: Validity = 'current'): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  switch (validity) {
    case 'current':
      return { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) };
    case 'expired':
      return { notBefore: new Date(now - 730 * DAY), notAfter: new Date(now - DAY) };
    case 'not-yet-valid':
      return { notBefore: new Date(now + DAY), notAfter: new Date(now + 365 * DAY) };
  }
}

/** A distinguished name as attribute → value, e.g. { C: 'US', O: 'Keygate Test', CN: 'Root' }, in that order. */
export type DistinguishedName = Partial<Record<'C' | 'O' | 'OU' | 'CN', string>>;

function jsonName(dn: DistinguishedName): JsonName {
  // Emitted in the conventional C, O, OU, CN order whatever the key order of `dn`.
  return (['C', 'O', 'OU', 'CN'] as const).filter((k) => dn[k] !== undefined).map((k) => ({ [k]: [dn[k] as string] }));
}

/** A certificate with its key pair, in every form tests need. */
export interface TestCertificate {
  /** DER bytes: what goes into an x5c array (attestation statement or, base64, a JWS header). */
  der: Uint8Array;
  /** PEM text ("-----BEGIN CERTIFICATE-----…"): what SettingsService.setRootCertificates() takes. */
  pem: string;
  /** Standard base64 (not base64url) of the DER: MDS attestationRootCertificates and JWS x5c. */
  base64: string;
  /** The parsed certificate. */
  certificate: X509Certificate;
  /** ES256 key pair; privateKey signs (certificates, attestation statements, JWTs). */
  keys: CryptoKeyPair;
}

function wrap(certificate: X509Certificate, keys: CryptoKeyPair): TestCertificate {
  const der = new Uint8Array(certificate.rawData);
  return { der, pem: certificate.toString('pem'), base64: Buffer.from(der).toString('base64'), certificate, keys };
}

/** A fresh, extractable ES256 (P-256) key pair. */
export async function generateEs256KeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ES256_KEY, true, ['sign', 'verify']);
}

interface IssueOptions {
  subject: DistinguishedName;
  /** CA:true (keyCertSign, cRLSign) or CA:false (digitalSignature). */
  ca: boolean;
  /** Path length constraint of a CA. */
  pathLength?: number;
  validity?: Validity;
  /** Further extensions (e.g. id-fido-gen-ce-aaguid). */
  extensions?: Extension[];
  /** Use this key pair instead of a fresh one. */
  keys?: CryptoKeyPair;
}

function caOrLeafExtensions(opts: IssueOptions): Extension[] {
  return [
    new BasicConstraintsExtension(opts.ca, opts.ca ? opts.pathLength : undefined, true),
    new KeyUsagesExtension(opts.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature, true),
  ];
}

/** A self-signed certificate (a root, or something posing as one). */
export async function createSelfSigned(opts: IssueOptions): Promise<TestCertificate> {
  const keys = opts.keys ?? (await generateEs256KeyPair());
  const certificate = await X509CertificateGenerator.createSelfSigned(
    {
      name: jsonName(opts.subject),
      keys,
      signingAlgorithm: ES256_SIGN,
      ...validityWindow(opts.validity),
      extensions: [...caOrLeafExtensions(opts), await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto), ...(opts.extensions ?? [])],
    },
    crypto,
  );
  return wrap(certificate, keys);
}

/** A certificate signed by `issuer`'s key, naming `issuer`'s subject as its issuer. */
export async function issueCertificate(issuer: TestCertificate, opts: IssueOptions): Promise<TestCertificate> {
  const keys = opts.keys ?? (await generateEs256KeyPair());
  const certificate = await X509CertificateGenerator.create(
    {
      subject: jsonName(opts.subject),
      issuer: issuer.certificate.subjectName,
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: ES256_SIGN,
      ...validityWindow(opts.validity),
      extensions: [
        ...caOrLeafExtensions(opts),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey, false, crypto),
        ...(opts.extensions ?? []),
      ],
    },
    crypto,
  );
  return wrap(certificate, keys);
}

/** A root CA and one intermediate CA under it. */
export interface CertificateAuthority {
  root: TestCertificate;
  intermediate: TestCertificate;
}

export interface CertificateAuthorityOptions {
  /** Organisation (O) of both CAs; default 'Keygate Test'. */
  organization?: string;
  /** Country (C); default 'US'. */
  country?: string;
  /** CN of the root; default `${organization} Root CA`. */
  rootName?: string;
  /** Validity of the root; default 'current'. */
  rootValidity?: Validity;
  /** Validity of the intermediate; default 'current'. */
  intermediateValidity?: Validity;
}

/** A generic two-level CA (root → intermediate), e.g. for the MDS BLOB signer. */
export async function createCertificateAuthority(opts: CertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
  const O = opts.organization ?? 'Keygate Test';
  const C = opts.country ?? 'US';
  const root = await createSelfSigned({
    subject: { C, O, CN: opts.rootName ?? `${O} Root CA` },
    ca: true,
    validity: opts.rootValidity,
  });
  const intermediate = await issueCertificate(root, {
    subject: { C, O, CN: `${O} Intermediate CA` },
    ca: true,
    pathLength: 0,
    validity: opts.intermediateValidity,
  });
  return { root, intermediate };
}

// ---------------------------------------------------------------------------------------------
// Attestation

/** Parse a UUID string into its 16 bytes. */
export function aaguidBytes(aaguid: string): Uint8Array {
  const hex = aaguid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`invalid AAGUID: ${aaguid}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The id-fido-gen-ce-aaguid extension: non-critical, extnValue = DER OCTET STRING of the 16 bytes. */
export function aaguidExtension(aaguid: string): Extension {
  const bytes = aaguidBytes(aaguid);
  return new Extension(ID_FIDO_GEN_CE_AAGUID, false, new Uint8Array([0x04, bytes.length, ...bytes]));
}

export interface AttestationLeafOptions {
  /** AAGUID written into id-fido-gen-ce-aaguid; must equal the authenticator's AAGUID. */
  aaguid: string;
  /** Leave the AAGUID extension out (§8.2.1 only requires it when the AAGUID is known). */
  omitAaguidExtension?: boolean;
  /** CN; default 'Keygate Test Authenticator'. */
  commonName?: string;
  /** OU; default 'Authenticator Attestation' (set something else to test §8.2.1 enforcement). */
  organizationalUnit?: string;
  /** Default 'current'. */
  validity?: Validity;
}

/** An attestation certificate, ready for SoftwareAuthenticator's `attestation` option. */
export interface AttestationLeaf extends TestCertificate {
  /** x5c as an authenticator sends it: DER, leaf first, then the issuing CA(s) (never the root). */
  chain: Uint8Array[];
  /** The attestation private key (for SoftwareAuthenticator `attestation.privateKey`). */
  privateKey: CryptoKey;
}

export interface AttestationCa extends CertificateAuthority {
  /** Issue an attestation leaf under the intermediate; its chain is [leaf, intermediate]. */
  issueLeaf(opts: AttestationLeafOptions): Promise<AttestationLeaf>;
  /** Options for SoftwareAuthenticator: `new SoftwareAuthenticator({ aaguid, attestation: await ca.attestation(aaguid) })`. */
  attestation(aaguid: string, opts?: Omit<AttestationLeafOptions, 'aaguid'>): Promise<{ chain: Uint8Array[]; privateKey: CryptoKey; alg: 'ES256' }>;
}

export type AttestationCaOptions = CertificateAuthorityOptions;

async function issueAttestationLeaf(
  issuer: TestCertificate,
  chainAfterLeaf: Uint8Array[],
  organization: string,
  country: string,
  opts: AttestationLeafOptions,
): Promise<AttestationLeaf> {
  const leaf = await issueCertificate(issuer, {
    subject: {
      C: country,
      O: organization,
      OU: opts.organizationalUnit ?? 'Authenticator Attestation',
      CN: opts.commonName ?? `${organization} Authenticator`,
    },
    ca: false,
    validity: opts.validity,
    extensions: opts.omitAaguidExtension ? [] : [aaguidExtension(opts.aaguid)],
  });
  return { ...leaf, chain: [leaf.der, ...chainAfterLeaf], privateKey: leaf.keys.privateKey };
}

function attestationHelpers(issue: (opts: AttestationLeafOptions) => Promise<AttestationLeaf>): Pick<AttestationCa, 'issueLeaf' | 'attestation'> {
  return {
    issueLeaf: issue,
    async attestation(aaguid, opts = {}) {
      const leaf = await issue({ ...opts, aaguid });
      return { chain: leaf.chain, privateKey: leaf.privateKey, alg: 'ES256' as const };
    },
  };
}

/**
 * An authenticator vendor's attestation PKI: root → intermediate → leaves.
 * Put `root.base64` in the metadata statement's attestationRootCertificates, or `root.pem` in
 * SettingsService.setRootCertificates({ identifier: 'packed', ... }).
 */
export async function createAttestationCa(opts: AttestationCaOptions = {}): Promise<AttestationCa> {
  const organization = opts.organization ?? 'Keygate Test Vendor';
  const country = opts.country ?? 'US';
  const ca = await createCertificateAuthority({ ...opts, organization, country });
  return {
    ...ca,
    ...attestationHelpers((leafOpts) => issueAttestationLeaf(ca.intermediate, [ca.intermediate.der], organization, country, leafOpts)),
  };
}

/** The attacker's imitation of a root: same subject, its own key, self-signed. */
export interface FakeRoot {
  root: TestCertificate;
  /** Issue a leaf signed by the fake root; its chain is [leaf, fake root] (the attack's x5c). */
  issueLeaf(opts: AttestationLeafOptions): Promise<AttestationLeaf>;
  attestation: AttestationCa['attestation'];
}

/**
 * A self-signed certificate with exactly the subject (and issuer) name of `real.root` but its own
 * key, that issues its own attestation leaves. The leaves name the real root's subject as issuer,
 * so only a signature check, not a name match, tells them apart from genuine ones.
 */
export async function createFakeRoot(real: { root: TestCertificate }, opts: { validity?: Validity } = {}): Promise<FakeRoot> {
  const keys = await generateEs256KeyPair();
  const certificate = await X509CertificateGenerator.createSelfSigned(
    {
      name: real.root.certificate.subjectName.toJSON(),
      keys,
      signingAlgorithm: ES256_SIGN,
      ...validityWindow(opts.validity),
      extensions: [
        new BasicConstraintsExtension(true, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const root = wrap(certificate, keys);
  const subject = real.root.certificate.subjectName;
  const organization = subject.getField('O')[0] ?? 'Keygate Test Vendor';
  const country = subject.getField('C')[0] ?? 'US';
  return {
    root,
    ...attestationHelpers((leafOpts) => issueAttestationLeaf(root, [root.der], organization, country, leafOpts)),
  };
}

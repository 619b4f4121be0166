/**
 * Test FIDO Metadata Service (MDS3) BLOBs, signed by a test MDS PKI (separate from any attestation
 * CA), in the shape @simplewebauthn/server's verifyMDSBlob() accepts.
 *
 * A BLOB is a compact JWS (FIDO MDS3 §3.1.7): base64url(header).base64url(payload).base64url(sig)
 * - header {alg: 'ES256', typ: 'JWT', x5c: [signing cert, intermediate]}; x5c entries are
 *   standard base64 DER (RFC 7515 §4.1.6), never the root;
 * - payload {legalHeader, no, nextUpdate: 'YYYY-MM-DD', entries: [MetadataBLOBPayloadEntry…]};
 * - sig: ES256 as JWS wants it, raw r ‖ s (64 bytes), not DER.
 *
 * How verifyMDSBlob (v14) checks it: the x5c chain against SettingsService's 'mds' roots (default:
 * the real GlobalSign roots; set ours with `useMdsRoot`), then the signature with x5c[0]'s key.
 * It does NOT check nextUpdate: it returns it as `parsedNextUpdate` (a local-time Date at midnight)
 * and the caller must refuse a stale BLOB itself.
 */
import { webcrypto } from 'node:crypto';
import { MetadataService, SettingsService } from '@simplewebauthn/server';
import type { AlgSign, AuthenticatorStatus, MetadataBLOBPayloadEntry, MetadataStatement, MDSJWTPayload, StatusReport } from '@simplewebauthn/server';
import { createCertificateAuthority, issueCertificate } from './pki.js';
import type { CertificateAuthority, TestCertificate, Validity } from './pki.js';

const crypto = webcrypto as unknown as Crypto;

// ---------------------------------------------------------------------------------------------
// Signer

/** The MDS PKI: root → intermediate → BLOB signing certificate. */
export interface MdsSigner extends CertificateAuthority {
  /** The BLOB signing certificate (CA:false); its private key signs the JWS. */
  signing: TestCertificate;
  /** The JWS header's x5c: [signing, intermediate], standard base64 DER. */
  x5c: string[];
  /** PEM of the root, for SettingsService.setRootCertificates({ identifier: 'mds', certificates: [rootPem] }). */
  rootPem: string;
}

export interface MdsSignerOptions {
  /** Organisation of the MDS PKI; default 'Keygate Test MDS'. */
  organization?: string;
  /** Validity of the signing certificate; default 'current'. */
  signingValidity?: Validity;
  rootValidity?: Validity;
  intermediateValidity?: Validity;
}

export async function createMdsSigner(opts: MdsSignerOptions = {}): Promise<MdsSigner> {
  const organization = opts.organization ?? 'Keygate Test MDS';
  const ca = await createCertificateAuthority({
    organization,
    rootValidity: opts.rootValidity,
    intermediateValidity: opts.intermediateValidity,
  });
  const signing = await issueCertificate(ca.intermediate, {
    subject: { C: 'US', O: organization, CN: `${organization} BLOB Signer` },
    ca: false,
    validity: opts.signingValidity,
  });
  return { ...ca, signing, x5c: [signing.base64, ca.intermediate.base64], rootPem: ca.root.pem };
}

/**
 * Make `pem` (or the signer's root) the only MDS trust anchor; returns a function restoring the
 * previous anchors (the library defaults are the FIDO Alliance's GlobalSign roots).
 * SettingsService is process-wide: always call the returned function (e.g. in t.after / finally).
 */
export function useMdsRoot(root: string | MdsSigner): () => void {
  const previous = SettingsService.getRootCertificates({ identifier: 'mds' });
  SettingsService.setRootCertificates({ identifier: 'mds', certificates: [typeof root === 'string' ? root : root.rootPem] });
  return () => SettingsService.setRootCertificates({ identifier: 'mds', certificates: previous });
}

/**
 * Put the MetadataService singleton back in its pristine state (as before any initialize()):
 * DISABLED, so getStatement() returns undefined for every AAGUID, no cached statements, 'strict'.
 * Calling initialize() again would not do: it leaves the service READY, where 'strict' mode makes
 * every AAGUID without a statement an error. The fields are private in the typings, public at run time.
 */
export function resetMetadataService(): void {
  const service = MetadataService as unknown as {
    mdsCache: object;
    statementCache: object;
    state: number;
    verificationMode: string;
  };
  service.mdsCache = {};
  service.statementCache = {};
  service.verificationMode = 'strict';
  service.state = 0; // SERVICE_STATE.DISABLED
}

// ---------------------------------------------------------------------------------------------
// Entries

/** Credential algorithms, as SoftwareAuthenticator names them. */
export type EntryAlg = 'ES256' | 'EdDSA' | 'RS256';

const ALG_SIGN: Record<EntryAlg, AlgSign> = {
  ES256: 'secp256r1_ecdsa_sha256_raw',
  EdDSA: 'ed25519_eddsa_sha512_raw',
  RS256: 'rsassa_pkcsv15_sha256_raw',
};
const ALG_KEY: Record<EntryAlg, MetadataStatement['publicKeyAlgAndEncodings'][number]> = {
  ES256: 'cose',
  EdDSA: 'cose',
  RS256: 'cose',
};
const COSE_ALG: Record<EntryAlg, number> = { ES256: -7, EdDSA: -8, RS256: -257 };

/** Either a status name (one report, dated today) or the full list of status reports. */
export type EntryStatus = AuthenticatorStatus | StatusReport[];

export interface MdsEntryOptions {
  aaguid: string;
  /**
   * The statement's attestationRootCertificates: certificates (whose DER is used) or base64 DER
   * strings. Usually `[attestationCa.root]`.
   */
  attestationRoots: Array<TestCertificate | string>;
  description?: string;
  /** Credential algorithms the model supports; default ['ES256']. */
  algs?: EntryAlg[];
  /**
   * The model's attestation key algorithm(s), listed in authenticatorGetInfo.algorithms alongside
   * `algs`. @simplewebauthn checks the attStmt alg against authenticatorGetInfo.algorithms.
   * Default ['ES256'].
   */
  attestationAlgs?: EntryAlg[];
  /** Default ['basic_full']. Without 'basic_full' @simplewebauthn refuses an x5c attestation. */
  attestationTypes?: MetadataStatement['attestationTypes'];
  /** Default 'FIDO_CERTIFIED_L1'. */
  status?: EntryStatus;
  /** 'external' (a security key, default) or 'internal' (a platform authenticator). */
  attachment?: 'external' | 'internal';
  authenticatorVersion?: number;
  /** YYYY-MM-DD; default today. */
  timeOfLastStatusChange?: string;
  /** Last-minute changes to the statement. */
  statement?: Partial<MetadataStatement>;
}

/** Today (UTC) as YYYY-MM-DD, or `days` away from today. */
export function isoDate(days = 0, from: Date = new Date()): string {
  return new Date(from.getTime() + days * 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

function statusReports(status: EntryStatus | undefined): StatusReport[] {
  if (Array.isArray(status)) return status;
  return [{ status: status ?? 'FIDO_CERTIFIED_L1', effectiveDate: isoDate() }];
}

const LEGAL_HEADER = 'Test data for Keygate. Not issued by the FIDO Alliance.';

/** An MDS3 metadata statement (FIDO Metadata Statement v3.0 §4) for a FIDO2 authenticator. */
export function metadataStatement(opts: MdsEntryOptions): MetadataStatement {
  const algs = opts.algs ?? ['ES256'];
  const attestationAlgs = opts.attestationAlgs ?? ['ES256'];
  const external = (opts.attachment ?? 'external') === 'external';
  const getInfoAlgs = [...new Set([...algs, ...attestationAlgs])];
  return {
    legalHeader: LEGAL_HEADER,
    aaguid: opts.aaguid,
    description: opts.description ?? `Keygate test authenticator ${opts.aaguid}`,
    authenticatorVersion: opts.authenticatorVersion ?? 1,
    protocolFamily: 'fido2',
    schema: 3,
    upv: [{ major: 1, minor: 0 }],
    authenticationAlgorithms: algs.map((a) => ALG_SIGN[a]),
    publicKeyAlgAndEncodings: [...new Set(algs.map((a) => ALG_KEY[a]))],
    attestationTypes: opts.attestationTypes ?? ['basic_full'],
    userVerificationDetails: [
      [{ userVerificationMethod: 'presence_internal' }],
      [{ userVerificationMethod: external ? 'passcode_external' : 'fingerprint_internal' }],
    ],
    keyProtection: external ? ['hardware', 'secure_element'] : ['hardware', 'tee'],
    matcherProtection: ['on_chip'],
    cryptoStrength: 128,
    attachmentHint: external ? ['external', 'wired'] : ['internal'],
    tcDisplay: [],
    attestationRootCertificates: opts.attestationRoots.map((r) => (typeof r === 'string' ? r : r.base64)),
    authenticatorGetInfo: {
      versions: external ? ['U2F_V2', 'FIDO_2_0'] : ['FIDO_2_0'],
      extensions: ['credProtect', 'hmac-secret'],
      aaguid: opts.aaguid.replace(/-/g, ''),
      options: { rk: true, up: true, uv: true, plat: !external, clientPin: external },
      maxMsgSize: 1200,
      pinProtocols: [1],
      algorithms: getInfoAlgs.map((a) => ({ type: 'public-key' as const, alg: COSE_ALG[a] })),
    },
    ...opts.statement,
  };
}

/** A BLOB payload entry: {aaguid, metadataStatement, statusReports, timeOfLastStatusChange}. */
export function mdsEntry(opts: MdsEntryOptions): MetadataBLOBPayloadEntry {
  const reports = statusReports(opts.status);
  return {
    aaguid: opts.aaguid,
    metadataStatement: metadataStatement(opts),
    statusReports: reports,
    timeOfLastStatusChange: opts.timeOfLastStatusChange ?? reports[reports.length - 1]?.effectiveDate ?? isoDate(),
  };
}

// ---------------------------------------------------------------------------------------------
// BLOBs

export interface MdsBlobOptions {
  signer: MdsSigner;
  /** Entries: ready-made ones or options for mdsEntry(). */
  entries: Array<MetadataBLOBPayloadEntry | MdsEntryOptions>;
  /** Serial number; default 1. */
  no?: number;
  /** 'YYYY-MM-DD' or a Date (its UTC day); default 30 days from now. A past date makes a stale BLOB. */
  nextUpdate?: string | Date;
  legalHeader?: string;
  /** The JWS header alg; default 'ES256' (the key is P-256, so anything else just fails to verify). */
  alg?: string;
  /** Override the header's x5c (e.g. to leave out the intermediate or to append a root). */
  x5c?: string[];
}

const b64url = (data: Uint8Array | string): string => Buffer.from(data).toString('base64url');

function isEntry(e: MetadataBLOBPayloadEntry | MdsEntryOptions): e is MetadataBLOBPayloadEntry {
  return 'statusReports' in e;
}

/** The payload createMdsBlob signs. */
export function mdsPayload(opts: Omit<MdsBlobOptions, 'signer' | 'alg' | 'x5c'>): MDSJWTPayload {
  const nextUpdate = opts.nextUpdate instanceof Date ? opts.nextUpdate.toISOString().slice(0, 10) : (opts.nextUpdate ?? isoDate(30));
  return {
    legalHeader: opts.legalHeader ?? LEGAL_HEADER,
    no: opts.no ?? 1,
    nextUpdate,
    entries: opts.entries.map((e) => (isEntry(e) ? e : mdsEntry(e))),
  };
}

/** Sign any JSON payload as a compact JWS with the signer's key and x5c. */
export async function signJws(signer: MdsSigner, payload: unknown, header: { alg?: string; x5c?: string[] } = {}): Promise<string> {
  const head = b64url(JSON.stringify({ alg: header.alg ?? 'ES256', typ: 'JWT', x5c: header.x5c ?? signer.x5c }));
  const body = b64url(JSON.stringify(payload));
  const signingInput = `${head}.${body}`;
  // WebCrypto ECDSA signatures are already raw r ‖ s, the JWS (RFC 7518 §3.4) encoding.
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signer.signing.keys.privateKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(new Uint8Array(sig))}`;
}

/** A signed MDS3 BLOB. */
export async function createMdsBlob(opts: MdsBlobOptions): Promise<string> {
  return signJws(opts.signer, mdsPayload(opts), { alg: opts.alg, x5c: opts.x5c });
}

// ---------------------------------------------------------------------------------------------
// Bad BLOBs

/**
 * The same BLOB with its payload altered after signing (the signature no longer matches): by
 * default every entry's status becomes FIDO_CERTIFIED_L3, as an attacker hiding a REVOKED report would.
 */
export function alterMdsBlobPayload(blob: string, change?: (payload: MDSJWTPayload) => void): string {
  const [head, body, sig] = blob.split('.');
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as MDSJWTPayload;
  (
    change ??
    ((p) => {
      for (const e of p.entries) e.statusReports = [{ status: 'FIDO_CERTIFIED_L3', effectiveDate: isoDate() }];
    })
  )(payload);
  const altered = b64url(JSON.stringify(payload));
  if (altered === body) throw new Error('alterMdsBlobPayload: the change left the payload as it was');
  return `${head}.${altered}.${sig}`;
}

/**
 * A correctly signed BLOB from a PKI that does not chain to the configured root: a fresh MDS
 * signer with the same names as `like` (so only signatures tell them apart).
 */
export async function createMdsBlobFromOtherRoot(opts: Omit<MdsBlobOptions, 'signer'> & { like?: MdsSigner }): Promise<{ blob: string; signer: MdsSigner }> {
  const organization = opts.like?.root.certificate.subjectName.getField('O')[0];
  const signer = await createMdsSigner({ organization });
  return { blob: await createMdsBlob({ ...opts, signer }), signer };
}

/** Strings that are not BLOBs, each for a different reason. */
export const GARBAGE_MDS_BLOBS: ReadonlyArray<[name: string, blob: string]> = [
  ['empty', ''],
  ['not a JWT', 'this is not a JWT'],
  ['two parts', `${b64url('{"alg":"ES256"}')}.${b64url('{}')}`],
  ['header not JSON', `${b64url('not json')}.${b64url('{}')}.AAAA`],
  ['no x5c', `${b64url('{"alg":"ES256","typ":"JWT"}')}.${b64url('{"no":1,"nextUpdate":"2999-01-01","entries":[]}')}.AAAA`],
  ['x5c not a certificate', `${b64url('{"alg":"ES256","typ":"JWT","x5c":["AAAA"]}')}.${b64url('{"no":1,"nextUpdate":"2999-01-01","entries":[]}')}.AAAA`],
];

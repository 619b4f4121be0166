/**
 * The FIDO Metadata Service (MDS3) BLOB, optional: what the FIDO Alliance says about each
 * authenticator model. Loaded once at start-up from a file (air-gapped sites) or an http(s) URL;
 * its JWT signature and certificate chain are verified by @simplewebauthn/server's verifyMDSBlob
 * against FIDO's root (or MDS_ROOT_CERT). Keygate uses it for two things:
 *   - attestation trust: an attestation's x5c must chain to a root the metadata lists for that
 *     AAGUID (validateCertificatePath, the library's own chain check);
 *   - status reports: models reported revoked or compromised are refused.
 * A BLOB that cannot be read, does not verify, or is past its nextUpdate is a start-up error, or
 * with MDS_ON_ERROR=warn a logged warning with the metadata disabled. Never silent.
 *
 * This instance keeps its own verified entries: @simplewebauthn's MetadataService singleton is not
 * initialised, so the library checks the attestation's signature and certificate requirements,
 * and the trust decision is made here, per instance.
 */
import { readFile } from 'node:fs/promises';
import { SettingsService } from '@simplewebauthn/server';
import type { MetadataBLOBPayloadEntry } from '@simplewebauthn/server';
import { convertCertBufferToPEM, validateCertificatePath, verifyMDSBlob } from '@simplewebauthn/server/helpers';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

/**
 * Status reports after which a model is refused (FIDO Metadata Service §3.1.4 AuthenticatorStatus):
 * the FIDO Alliance revoked it, or its attestation key, user verification or user keys are known
 * to be compromised. One such report is enough: a later report does not make keys made earlier safe.
 */
export const REFUSED_STATUSES: ReadonlySet<string> = new Set([
  'REVOKED',
  'ATTESTATION_KEY_COMPROMISE',
  'USER_VERIFICATION_BYPASS',
  'USER_KEY_REMOTE_COMPROMISE',
  'USER_KEY_PHYSICAL_COMPROMISE',
]);

/** The real BLOB is a few MB; anything far larger is not one. */
const MAX_BLOB_BYTES = 64 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export class MetadataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataError';
  }
}

export interface MetadataSummary {
  /** Whether a verified BLOB is in use. */
  enabled: boolean;
  /** Where it came from (file path or URL), if configured. */
  source: string | undefined;
  /** Why it is not in use, when configured but refused under MDS_ON_ERROR=warn. */
  disabledReason: string | undefined;
  serial: number | undefined;
  nextUpdate: string | undefined;
  entries: number;
}

export class AuthenticatorMetadata {
  private constructor(
    private readonly entries: ReadonlyMap<string, MetadataBLOBPayloadEntry>,
    readonly summary: MetadataSummary,
  ) {}

  /** No metadata: nothing is trusted by chain, nothing is refused by status. */
  static none(source?: string, disabledReason?: string): AuthenticatorMetadata {
    return new AuthenticatorMetadata(new Map(), { enabled: false, source, disabledReason, serial: undefined, nextUpdate: undefined, entries: 0 });
  }

  /**
   * Verifies a BLOB (signature and chain to the MDS root) and keeps its FIDO2 entries (those with an
   * AAGUID). `now` decides whether it has expired.
   */
  static async fromBlob(blob: string, source: string, now = new Date()): Promise<AuthenticatorMetadata> {
    let verified;
    try {
      verified = await verifyMDSBlob(blob.trim());
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new MetadataError(`the BLOB from ${source} did not verify: ${detail}`, { cause: err });
    }
    const { payload, parsedNextUpdate } = verified;
    if (!(parsedNextUpdate instanceof Date) || Number.isNaN(parsedNextUpdate.getTime())) {
      throw new MetadataError(`the BLOB from ${source} has no valid nextUpdate`);
    }
    // nextUpdate is a date: the BLOB is current through the end of the day before it.
    if (parsedNextUpdate.getTime() <= now.getTime()) {
      throw new MetadataError(`the BLOB from ${source} (serial ${payload.no}) expired: its nextUpdate was ${payload.nextUpdate}; download a current one`);
    }
    const entries = new Map<string, MetadataBLOBPayloadEntry>();
    for (const entry of payload.entries) if (entry.aaguid) entries.set(entry.aaguid.toLowerCase(), entry);
    return new AuthenticatorMetadata(entries, {
      enabled: true,
      source,
      disabledReason: undefined,
      serial: payload.no,
      nextUpdate: payload.nextUpdate,
      entries: entries.size,
    });
  }

  /** The model's description in the metadata, if it has one. */
  description(aaguid: string): string | undefined {
    return this.entries.get(aaguid.toLowerCase())?.metadataStatement?.description;
  }

  /** The first status report that makes the model refused (e.g. "ATTESTATION_KEY_COMPROMISE"), or null. */
  refusedStatus(aaguid: string): string | null {
    const entry = this.entries.get(aaguid.toLowerCase());
    return entry?.statusReports.find((r) => REFUSED_STATUSES.has(r.status))?.status ?? null;
  }

  /**
   * Whether an attestation certificate chain (x5c, leaf first, DER) chains to a root that the
   * metadata lists for this AAGUID. The library has already verified the attestation signature with
   * the leaf and that the leaf names this AAGUID. A lone leaf that is itself a listed root is the
   * metadata's "self-referencing" case and is trusted as the library would.
   */
  async chainIsTrusted(aaguid: string, x5c: readonly Uint8Array[] | undefined): Promise<boolean> {
    if (!x5c?.length) return false;
    const roots = this.entries.get(aaguid.toLowerCase())?.metadataStatement?.attestationRootCertificates ?? [];
    if (!roots.length) return false;
    const rootPems = roots.map((b64) => convertCertBufferToPEM(b64));
    const chain = x5c.map((der) => convertCertBufferToPEM(new Uint8Array(der)));
    if (chain.length === 1 && rootPems.includes(chain[0]!)) return true;
    try {
      return await validateCertificatePath(chain, rootPems);
    } catch {
      return false;
    }
  }
}

/** Reads MDS_BLOB: a file, or an http(s) URL fetched with a time limit and a size limit. */
async function readBlob(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
    } catch (err) {
      throw new MetadataError(`could not download ${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!response.ok) throw new MetadataError(`could not download ${source}: HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_BLOB_BYTES) throw new MetadataError(`${source} is larger than ${MAX_BLOB_BYTES} bytes`);
    const text = await response.text();
    if (text.length > MAX_BLOB_BYTES) throw new MetadataError(`${source} is larger than ${MAX_BLOB_BYTES} bytes`);
    return text;
  }
  try {
    const text = await readFile(source, 'utf8');
    if (text.length > MAX_BLOB_BYTES) throw new MetadataError(`${source} is larger than ${MAX_BLOB_BYTES} bytes`);
    return text;
  } catch (err) {
    if (err instanceof MetadataError) throw err;
    throw new MetadataError(`could not read ${source} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

/** MDS_ROOT_CERT replaces FIDO's MDS root (the library's default) for this process. */
async function useRootCertificate(path: string): Promise<void> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new MetadataError(`could not read MDS_ROOT_CERT ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(pem)) {
    throw new MetadataError(`MDS_ROOT_CERT ${path} is not a PEM certificate`);
  }
  SettingsService.setRootCertificates({ identifier: 'mds', certificates: [pem] });
}

/**
 * Reads MDS_BLOB again (SIGHUP, and once a day: server/serve.ts) and returns the metadata to use: the
 * new BLOB when it verifies and its serial is newer, otherwise the current one. A failure is logged
 * and never drops metadata already in use: a key refused for a compromised model stays refused.
 */
export async function reloadMetadata(config: Config, log: Logger, current: AuthenticatorMetadata): Promise<AuthenticatorMetadata> {
  const source = config.mds.blob;
  if (!source) return current;
  try {
    const next = await AuthenticatorMetadata.fromBlob(await readBlob(source), source);
    if (current.summary.enabled && (next.summary.serial ?? 0) <= (current.summary.serial ?? 0)) {
      log.info({ source, serial: current.summary.serial }, 'FIDO metadata: no newer BLOB');
      return current;
    }
    log.info({ source, serial: next.summary.serial, nextUpdate: next.summary.nextUpdate, entries: next.summary.entries }, 'FIDO metadata reloaded');
    return next;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log.error({ source, reason, serial: current.summary.serial }, `MDS_BLOB: reload failed (${reason}); keeping the metadata in use`);
    return current;
  }
}

/**
 * The metadata configured by MDS_BLOB (none when unset). A failure throws a MetadataError under
 * MDS_ON_ERROR=fail (the caller stops start-up) and is logged as a warning under `warn`.
 */
export async function loadMetadata(config: Config, log: Logger): Promise<AuthenticatorMetadata> {
  const { blob: source, rootCert, onError } = config.mds;
  if (!source) return AuthenticatorMetadata.none();
  try {
    if (rootCert) await useRootCertificate(rootCert);
    const metadata = await AuthenticatorMetadata.fromBlob(await readBlob(source), source);
    log.info({ source, serial: metadata.summary.serial, nextUpdate: metadata.summary.nextUpdate, entries: metadata.summary.entries }, 'FIDO metadata loaded');
    return metadata;
  } catch (err) {
    const reason = err instanceof MetadataError ? err.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
    if (onError === 'fail') throw new MetadataError(`MDS_BLOB: ${reason} (set MDS_ON_ERROR=warn to start without metadata)`, { cause: err });
    log.warn(
      { source, reason },
      `MDS_BLOB: ${reason}; FIDO metadata is DISABLED (MDS_ON_ERROR=warn): no attestation chain is trusted and no status report is checked`,
    );
    return AuthenticatorMetadata.none(source, reason);
  }
}

/**
 * A software FIDO2/WebAuthn authenticator (plus the browser's client part) for tests.
 *
 * It produces real registration and assertion responses, signed with node:crypto keys, that the
 * real `verifyRegistrationResponse` / `verifyAuthenticationResponse` of @simplewebauthn/server
 * accept. Nothing is mocked: the only shortcuts are that "user presence" and "user verification"
 * always succeed, and that the `Tamper` argument lets negative tests forge chosen fields.
 *
 * References: WebAuthn Level 3 §5.1.3 (create), §5.1.4 (get), §6.1 (authenticator data),
 * §6.5 (attestation), §8.2 (packed), §8.7 (none), §10.1.3 (credProps); COSE key parameters from
 * RFC 9052/9053.
 */
import { KeyObject, createHash, generateKeyPairSync, randomBytes, randomInt, sign } from 'node:crypto';
import { encodeCBOR } from '@levischuck/tiny-cbor';
import type { CBORType } from '@levischuck/tiny-cbor';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** Signature algorithms this authenticator can create credentials for. */
export type Alg = 'ES256' | 'EdDSA' | 'RS256';

/** COSE algorithm identifiers (IANA "COSE Algorithms" registry). */
const COSE_ALG: Record<Alg, number> = { ES256: -7, EdDSA: -8, RS256: -257 };

/** Authenticator data flag bits, WebAuthn §6.1 "flags". */
const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

/** Construction-time behaviour of the authenticator. */
export interface AuthenticatorOptions {
  /** Only algorithm this authenticator supports; default: the first of pubKeyCredParams we support. */
  alg?: Alg;
  /** AAGUID as a UUID string; default all zeros. */
  aaguid?: string;
  /** Sets the UV flag; default true. */
  userVerification?: boolean;
  /** Create discoverable (resident) credentials that remember the user handle; default true. */
  residentKey?: boolean;
  /** BE flag; default false. */
  backupEligible?: boolean;
  /** BS flag; default false. */
  backedUp?: boolean;
  /** Reported as authenticatorAttachment; default 'cross-platform'. */
  attachment?: 'platform' | 'cross-platform';
  /** Reported transports; default ['usb'], or ['internal'] for a platform authenticator. */
  transports?: string[];
  /** Added to the sign count on each assertion; default 1; 0 keeps the counter at zero. */
  counterStep?: number;
  /**
   * An attestation key and its certificate chain (Basic/AttCA attestation, §6.5.3). When set and
   * the RP asks for attestation 'direct', 'enterprise' or 'indirect', registration returns a
   * `packed` full attestation, attStmt {alg, sig, x5c}; without it such requests get packed self
   * attestation ('direct'/'enterprise') or none ('indirect'), as before.
   * See test/support/pki.ts (`createAttestationCa().attestation(aaguid)`) to make one; the leaf's
   * id-fido-gen-ce-aaguid must match `aaguid`.
   */
  attestation?: AttestationKey;
}

/** Attestation private key and its x5c chain. */
export interface AttestationKey {
  /** DER certificates, leaf (the attestation certificate) first, as x5c. */
  chain: Uint8Array[];
  /** The attestation private key: a node KeyObject or a WebCrypto CryptoKey (P-256). */
  privateKey: KeyObject | CryptoKey;
  /** Attestation signature algorithm; only ES256 for now. */
  alg: 'ES256';
}

/** Per-call tampering, for negative tests. Each field, when set, overrides the honest value. */
export interface Tamper {
  /** clientDataJSON.type */
  type?: string;
  /** clientDataJSON.origin */
  origin?: string;
  /** clientDataJSON.challenge (base64url) */
  challenge?: string;
  /** clientDataJSON.crossOrigin */
  crossOrigin?: boolean;
  /** clientDataJSON.topOrigin (absent unless given) */
  topOrigin?: string;
  /** rpIdHash is SHA-256 of this instead of the requested RP ID. */
  rpId?: string;
  up?: boolean;
  uv?: boolean;
  be?: boolean;
  bs?: boolean;
  /** Counter value written into authenticator data (the stored counter is not changed). */
  signCount?: number;
  /** Registration: make a credential id of exactly this many bytes (e.g. 1024). */
  credentialIdLength?: number;
  /** Assertion: base64url user handle to return; null omits it. */
  userHandle?: string | null;
  /** Registration: use this algorithm even if the RP did not offer it. */
  alg?: Alg;
  /** Assertion: flip a byte of the signature. */
  badSignature?: boolean;
  /** Assertion: claim this credential id (base64url) in id/rawId; signing still uses our key. */
  credentialId?: string;
  /** Registration: flip a byte of the attestation statement's sig (packed self or full attestation). */
  badAttestationSignature?: boolean;
  /** Registration, full attestation: send this x5c instead of the configured chain (e.g. a fake root's). */
  x5c?: Uint8Array[];
}

/** Public view of a stored credential. */
export interface StoredCredentialInfo {
  id: string;
  rpId: string;
  userHandle: string;
  signCount: number;
  alg: Alg;
  resident: boolean;
}

/** What the authenticator keeps per credential: the "public key credential source" of §6. */
interface CredentialSource extends StoredCredentialInfo {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

// ---------------------------------------------------------------------------------------------
// Byte helpers

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

/** Parse a UUID string into its 16 bytes (the AAGUID field of attested credential data). */
function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`invalid AAGUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

// ---------------------------------------------------------------------------------------------
// Keys, COSE and signatures

/** Generate a fresh key pair for `alg`. */
function generateKey(alg: Alg): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/**
 * Encode a public key as a COSE_Key (RFC 9052 §7, parameters from RFC 9053 / RFC 8230).
 * WebAuthn §6.5.1 (attested credential data): "The COSE_Key-encoded credential public key MUST
 * contain the "alg" parameter and MUST NOT contain any other OPTIONAL parameters." Labels are in
 * CTAP2 canonical order (1, 3, -1, -2, -3).
 */
function coseKey(alg: Alg, publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const bytes = (field: string | undefined): Uint8Array => new Uint8Array(Buffer.from(field ?? '', 'base64url'));
  // Labels: 1 kty, 3 alg; for EC2/OKP -1 crv, -2 x, -3 y; for RSA -1 n, -2 e.
  const entries: Array<[number, CBORType]> =
    alg === 'ES256'
      ? [
          [1, 2],
          [3, COSE_ALG.ES256],
          [-1, 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ] // EC2, P-256
      : alg === 'EdDSA'
        ? [
            [1, 1],
            [3, COSE_ALG.EdDSA],
            [-1, 6],
            [-2, bytes(jwk.x)],
          ] // OKP, Ed25519
        : [
            [1, 3],
            [3, COSE_ALG.RS256],
            [-1, bytes(jwk.n)],
            [-2, bytes(jwk.e)],
          ]; // RSA
  return encodeCBOR(new Map<number, CBORType>(entries));
}

/**
 * Sign with the credential private key. node:crypto gives ES256 as DER, which is what WebAuthn
 * wants: "For COSEAlgorithmIdentifier -7 (ES256) ... the sig value MUST be encoded as an ASN.1 DER
 * Ecdsa-Sig-Value" (§6.5, signature formats);
 * RS256 is RSASSA-PKCS1-v1_5 with SHA-256; EdDSA takes no separate hash.
 */
function signWith(alg: Alg, privateKey: KeyObject, data: Uint8Array): Buffer {
  return alg === 'EdDSA' ? sign(null, data, privateKey) : sign('sha256', data, privateKey);
}

// ---------------------------------------------------------------------------------------------
// Client data and authenticator data

/** Build clientDataJSON (§5.8.1), with the members in the order browsers serialize them. */
function clientDataJSON(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string, tamper: Tamper): Buffer {
  const data = {
    type: tamper.type ?? type,
    challenge: tamper.challenge ?? challenge,
    origin: tamper.origin ?? origin,
    crossOrigin: tamper.crossOrigin ?? false,
    ...(tamper.topOrigin !== undefined ? { topOrigin: tamper.topOrigin } : {}),
  };
  return Buffer.from(JSON.stringify(data), 'utf8');
}

/** The honest flag values, before tampering. */
interface HonestFlags {
  uv: boolean;
  be: boolean;
  bs: boolean;
  at: boolean;
}

function flagsByte(honest: HonestFlags, tamper: Tamper): number {
  let flags = 0;
  if (tamper.up ?? true) flags |= FLAG.UP;
  if (tamper.uv ?? honest.uv) flags |= FLAG.UV;
  if (tamper.be ?? honest.be) flags |= FLAG.BE;
  if (tamper.bs ?? honest.bs) flags |= FLAG.BS;
  if (honest.at) flags |= FLAG.AT;
  return flags;
}

/**
 * authenticatorData (§6.1): rpIdHash(32) ‖ flags(1) ‖ signCount(4, big-endian)
 * ‖ [attestedCredentialData (§6.5.2): aaguid(16) ‖ credentialIdLength(2) ‖ credentialId ‖ COSE key].
 */
function authenticatorData(
  rpId: string,
  flags: number,
  signCount: number,
  attested?: { aaguid: Buffer; credentialId: Buffer; cosePublicKey: Uint8Array },
): Buffer {
  const head = Buffer.alloc(37);
  sha256(rpId).copy(head, 0);
  head.writeUInt8(flags, 32);
  head.writeUInt32BE(signCount, 33);
  if (!attested) return head;
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(attested.credentialId.length);
  return Buffer.concat([head, attested.aaguid, idLength, attested.credentialId, attested.cosePublicKey]);
}

// ---------------------------------------------------------------------------------------------
// Algorithm negotiation

const ALG_BY_COSE = new Map<number, Alg>(Object.entries(COSE_ALG).map(([name, id]) => [id, name as Alg]));

/**
 * Choose the credential algorithm. §5.1.3: if pubKeyCredParams is empty, the client uses
 * "public-key" with -7 (ES256) and "public-key" with -257 (RS256). The authenticator then
 * takes the first entry, in the RP's order of preference, that it supports.
 */
function chooseAlg(params: PublicKeyCredentialCreationOptionsJSON['pubKeyCredParams'], only: Alg | undefined): Alg {
  const offered = params.length === 0 ? [COSE_ALG.ES256, COSE_ALG.RS256] : params.filter((p) => p.type === 'public-key').map((p) => p.alg);
  for (const id of offered) {
    const alg = ALG_BY_COSE.get(id);
    if (alg && (only === undefined || alg === only)) return alg;
  }
  throw new Error(`NotSupportedError: none of pubKeyCredParams [${offered.join(', ')}] is supported` + (only ? ` (this authenticator only does ${only})` : ''));
}

// ---------------------------------------------------------------------------------------------

/**
 * A software authenticator holding its credentials in memory. Each instance is one device:
 * register with it, then authenticate with the same instance.
 */
export class SoftwareAuthenticator {
  private readonly opts: Required<Omit<AuthenticatorOptions, 'alg' | 'attestation'>> & { alg?: Alg };
  private readonly attestationKey?: { chain: Uint8Array[]; privateKey: KeyObject; alg: 'ES256' };
  private readonly store: CredentialSource[] = [];

  constructor(options: AuthenticatorOptions = {}) {
    const attachment = options.attachment ?? 'cross-platform';
    this.opts = {
      alg: options.alg,
      aaguid: options.aaguid ?? '00000000-0000-0000-0000-000000000000',
      userVerification: options.userVerification ?? true,
      residentKey: options.residentKey ?? true,
      backupEligible: options.backupEligible ?? false,
      backedUp: options.backedUp ?? false,
      attachment,
      transports: options.transports ?? (attachment === 'platform' ? ['internal'] : ['usb']),
      counterStep: options.counterStep ?? 1,
    };
    uuidToBytes(this.opts.aaguid); // fail fast on a malformed AAGUID
    if (options.attestation) {
      const { chain, privateKey, alg } = options.attestation;
      if (alg !== 'ES256') throw new Error(`unsupported attestation alg ${String(alg)}`);
      if (chain.length === 0) throw new Error('attestation chain is empty');
      const key = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey);
      if (key.type !== 'private' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('attestation privateKey must be a P-256 private key for ES256');
      }
      this.attestationKey = { chain: chain.map((c) => new Uint8Array(c)), privateKey: key, alg };
    }
  }

  /** The credentials this authenticator holds (a snapshot; private keys are not exposed). */
  get credentials(): ReadonlyArray<StoredCredentialInfo> {
    return this.store.map(({ id, rpId, userHandle, signCount, alg, resident }) => ({
      id,
      rpId,
      userHandle,
      signCount,
      alg,
      resident,
    }));
  }

  /** Set the stored counter of a credential (to simulate a cloned key whose counter went backwards). */
  setSignCount(credentialId: string, n: number): void {
    this.find(credentialId).signCount = n;
  }

  /** Forget a credential, as when the user deletes a passkey from the device. */
  deleteCredential(credentialId: string): void {
    this.store.splice(this.store.indexOf(this.find(credentialId)), 1);
  }

  /**
   * navigator.credentials.create() plus authenticatorMakeCredential (§5.1.3, §6.3.2).
   * Attestation is 'none' (fmt "none", empty attStmt) unless options.attestation is 'direct' or
   * 'enterprise', in which case it is 'packed' self attestation (attStmt {alg, sig}); with the
   * constructor's `attestation` key, 'direct', 'enterprise' and 'indirect' get 'packed' full
   * attestation (attStmt {alg, sig, x5c}).
   *
   * Resident keys: authenticatorSelection.residentKey 'required' (or the legacy requireResidentKey)
   * on an authenticator built with residentKey: false throws "NotAllowedError", as a browser ends the
   * ceremony when no authenticator can make a discoverable credential. 'preferred' and 'discouraged'
   * both get the authenticator's own behaviour (discoverable unless residentKey: false): like a passkey
   * provider, which makes discoverable credentials even when discouraged.
   *
   * Extensions: credProps (§10.1.3) is answered with {rk} when options.extensions.credProps is true;
   * no other extension is processed.
   */
  async register(options: PublicKeyCredentialCreationOptionsJSON, origin: string, tamper: Tamper = {}): Promise<RegistrationResponseJSON> {
    // The RP ID defaults to the origin's effective domain (§5.1.3).
    const rpId = options.rp.id ?? new URL(origin).hostname;
    this.checkExcluded(options, rpId);
    const selection = options.authenticatorSelection;
    if ((selection?.residentKey === 'required' || (selection?.residentKey === undefined && selection?.requireResidentKey === true)) && !this.opts.residentKey) {
      throw new Error('NotAllowedError: the RP requires a discoverable credential and this authenticator cannot make one');
    }
    const alg = tamper.alg ?? chooseAlg(options.pubKeyCredParams, this.opts.alg);

    const { privateKey, publicKey } = generateKey(alg);
    // §4 "Credential ID": "At least 16 bytes that include at least 100 bits of entropy". Ids over
    // 1023 bytes are only made on request, so tests can check that the RP refuses them (§7.1).
    const credentialId = randomBytes(tamper.credentialIdLength ?? randomInt(16, 33));
    const source: CredentialSource = {
      id: b64url(credentialId),
      rpId,
      userHandle: options.user.id,
      signCount: 0,
      alg,
      resident: this.opts.residentKey,
      privateKey,
      publicKey,
    };
    // A real authenticator stores the credential before the RP ever sees it, even a forged one.
    this.store.push(source);

    const clientData = clientDataJSON('webauthn.create', options.challenge, origin, tamper);
    const authData = authenticatorData(tamper.rpId ?? rpId, flagsByte({ ...this.honestFlags(), at: true }, tamper), tamper.signCount ?? source.signCount, {
      aaguid: uuidToBytes(this.opts.aaguid),
      credentialId,
      cosePublicKey: coseKey(alg, publicKey),
    });
    const attestationObject = this.attestationObject(options, source, authData, clientData, tamper);
    // §10.1.3: credProps.rk is true if the credential is discoverable (a client-side credential).
    const extensions = (options.extensions ?? {}) as { credProps?: boolean };
    const clientExtensionResults = extensions.credProps === true ? { credProps: { rk: source.resident } } : {};

    return {
      id: source.id,
      rawId: source.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authData),
        transports: [...this.opts.transports],
        publicKeyAlgorithm: COSE_ALG[alg],
        publicKey: b64url(publicKey.export({ format: 'der', type: 'spki' })),
      },
      clientExtensionResults,
      authenticatorAttachment: this.opts.attachment,
    };
  }

  /**
   * navigator.credentials.get() plus authenticatorGetAssertion (§5.1.4, §6.3.3).
   * With allowCredentials, uses the first stored credential (for this RP) whose id is listed;
   * with an empty or absent list, uses the first discoverable credential for the RP. If
   * tamper.credentialId is set and nothing matches, any credential of ours for the RP signs.
   * Throws Error('no credential') when there is nothing to use.
   */
  async authenticate(options: PublicKeyCredentialRequestOptionsJSON, origin: string, tamper: Tamper = {}): Promise<AuthenticationResponseJSON> {
    const rpId = options.rpId ?? new URL(origin).hostname;
    const source = this.select(options, rpId, tamper);

    // §6.3.3: "Increment the credential associated signature counter ... by some positive value.
    // If the authenticator does not implement a signature counter, let the signature counter value
    // remain constant at zero."
    source.signCount += this.opts.counterStep;

    const clientData = clientDataJSON('webauthn.get', options.challenge, origin, tamper);
    const authData = authenticatorData(tamper.rpId ?? rpId, flagsByte({ ...this.honestFlags(), at: false }, tamper), tamper.signCount ?? source.signCount);
    // §6.3.3: the signature covers authenticatorData ‖ SHA-256(clientDataJSON).
    const signature = signWith(source.alg, source.privateKey, Buffer.concat([authData, sha256(clientData)]));
    if (tamper.badSignature) signature[signature.length - 1] ^= 0x01; // stays well-formed DER

    // §6.3.3: the user handle is returned for discoverable credentials; it may be null otherwise.
    const userHandle = tamper.userHandle !== undefined ? tamper.userHandle : source.resident ? source.userHandle : null;
    const id = tamper.credentialId ?? source.id;

    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: this.opts.attachment,
    };
  }

  // -------------------------------------------------------------------------------------------

  private find(credentialId: string): CredentialSource {
    const source = this.store.find((c) => c.id === credentialId);
    if (!source) throw new Error(`unknown credential ${credentialId}`);
    return source;
  }

  private honestFlags(): Omit<HonestFlags, 'at'> {
    return { uv: this.opts.userVerification, be: this.opts.backupEligible, bs: this.opts.backedUp };
  }

  /**
   * authenticatorMakeCredential (§6.3.2): "For each descriptor of excludeCredentialDescriptorList: If looking up
   * descriptor.id in this authenticator returns non-null, and the returned item's RP ID and type
   * match rpEntity.id and excludeCredentialDescriptorList.type respectively, then ... return an
   * error code equivalent to "InvalidStateError"".
   */
  private checkExcluded(options: PublicKeyCredentialCreationOptionsJSON, rpId: string): void {
    for (const descriptor of options.excludeCredentials ?? []) {
      if (this.store.some((c) => c.id === descriptor.id && c.rpId === rpId)) {
        throw new Error('InvalidStateError: credential already registered');
      }
    }
  }

  /** Pick the credential source for an assertion (authenticatorGetAssertion, §6.3.3). */
  private select(options: PublicKeyCredentialRequestOptionsJSON, rpId: string, tamper: Tamper): CredentialSource {
    const forRp = this.store.filter((c) => c.rpId === rpId);
    const allowed = options.allowCredentials ?? [];
    const source = allowed.length > 0 ? forRp.find((c) => allowed.some((d) => d.id === c.id)) : forRp.find((c) => c.resident);
    const chosen = source ?? (tamper.credentialId !== undefined ? forRp[0] : undefined);
    if (!chosen) throw new Error('no credential');
    return chosen;
  }

  /**
   * Build the CBOR attestation object {fmt, attStmt, authData} (§6.5.4).
   * Packed self attestation, §8.2: "the authenticator produces sig by concatenating
   * authenticatorData and clientDataHash, and signing the result using the credential private
   * key. It sets alg to the algorithm of the credential private key and omits the other fields."
   * Packed full (Basic or AttCA) attestation, §8.2: "the authenticator produces the sig by
   * concatenating authenticatorData and clientDataHash, and signing the result using an attestation
   * private key ... It sets x5c to attestnCert followed by the related certificate chain (if any).
   * It sets alg to the algorithm of the attestation private key."
   */
  private attestationObject(
    options: PublicKeyCredentialCreationOptionsJSON,
    source: CredentialSource,
    authData: Buffer,
    clientData: Buffer,
    tamper: Tamper,
  ): Uint8Array {
    const full =
      this.attestationKey !== undefined && (options.attestation === 'direct' || options.attestation === 'enterprise' || options.attestation === 'indirect');
    const wantsAttestation = full || options.attestation === 'direct' || options.attestation === 'enterprise';
    const attStmt = new Map<string, CBORType>();
    if (wantsAttestation) {
      const signed = Buffer.concat([authData, sha256(clientData)]);
      const sig = full
        ? signWith(this.attestationKey.alg, this.attestationKey.privateKey, signed) // ES256: DER
        : signWith(source.alg, source.privateKey, signed);
      if (tamper.badAttestationSignature) sig[sig.length - 1] ^= 0x01;
      attStmt.set('alg', COSE_ALG[full ? this.attestationKey.alg : source.alg]).set('sig', new Uint8Array(sig));
      if (full)
        attStmt.set(
          'x5c',
          (tamper.x5c ?? this.attestationKey.chain).map((c) => new Uint8Array(c)),
        );
    }
    return encodeCBOR(
      new Map<string, CBORType>([
        ['fmt', wantsAttestation ? 'packed' : 'none'],
        ['attStmt', attStmt],
        ['authData', new Uint8Array(authData)],
      ]),
    );
  }
}

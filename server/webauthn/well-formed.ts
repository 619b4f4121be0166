/**
 * Strict checks on a registration response's bytes, before anything is stored.
 *
 * The CBOR decoder under @simplewebauthn/server (tiny-cbor) does not check that a byte string
 * is as long as its header says: a truncated attestation object decodes into a shorter
 * authenticator data, and then into a public key with a shorter coordinate, and a 'none'
 * attestation signs nothing that would notice. Found by test/fuzz.test.ts: a truncated
 * attestationObject was registered, with a key nobody could ever sign for. So Keygate checks:
 *
 * - the attestation object is one well-formed CBOR item (RFC 8949 Appendix C) that fills it exactly,
 *   with definite lengths only (CTAP2 canonical CBOR has no indefinite lengths);
 * - the authenticator data is laid out as WebAuthn §6.1 says: 37 bytes, the attested credential
 *   data (AAGUID, id length, id, one CBOR public key) and the extensions (one CBOR map) that its
 *   flags announce, and nothing else;
 * - the credential public key is a key node:crypto accepts for its COSE key type (a point on the
 *   curve, a 32-byte Ed25519 key, an RSA modulus).
 */
import { createPublicKey } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const MAX_DEPTH = 16;

/** End offset of the well-formed CBOR item starting at `offset`, or -1. */
export function cborItemEnd(bytes: Uint8Array, offset: number, depth = 0): number {
  if (depth > MAX_DEPTH || offset >= bytes.length) return -1;
  const initial = bytes[offset]!;
  const major = initial >> 5;
  const info = initial & 0x1f;
  let pos = offset + 1;
  let argument: number;
  if (info < 24) argument = info;
  else if (info <= 27) {
    const size = 1 << (info - 24);
    if (pos + size > bytes.length) return -1;
    argument = 0;
    for (let i = 0; i < size; i++) argument = argument * 256 + bytes[pos + i]!;
    pos += size;
    if (major === 7 && info === 24 && argument < 32) return -1;
  } else return -1; // 28-30 reserved; 31 indefinite length (not in CTAP2 canonical CBOR)
  switch (major) {
    case 0:
    case 1:
    case 7:
      return pos;
    case 2:
    case 3:
      return pos + argument <= bytes.length ? pos + argument : -1;
    case 4:
    case 5: {
      const items = major === 5 ? argument * 2 : argument;
      // Each item takes at least one byte: a count larger than what is left cannot fit.
      if (items > bytes.length - pos) return -1;
      for (let i = 0; i < items; i++) {
        pos = cborItemEnd(bytes, pos, depth + 1);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default: // 6: a tag, then one item
      return cborItemEnd(bytes, pos, depth + 1);
  }
}

const FLAG_AT = 0x40;
const FLAG_ED = 0x80;

/** True when the attestation object and its authenticator data are exactly as long as they say. */
export function isWellFormedAttestation(attestationObject: Uint8Array): boolean {
  if (cborItemEnd(attestationObject, 0) !== attestationObject.length) return false;
  let authData: unknown;
  try {
    authData = isoCBOR.decodeFirst<Map<string, unknown>>(new Uint8Array(attestationObject)).get('authData');
  } catch {
    return false;
  }
  if (!(authData instanceof Uint8Array) || authData.length < 37) return false;
  const flags = authData[32]!;
  let pos = 37;
  if (flags & FLAG_AT) {
    if (authData.length < pos + 18) return false;
    const idLength = (authData[pos + 16]! << 8) | authData[pos + 17]!;
    pos += 18 + idLength;
    pos = cborItemEnd(authData, pos);
    if (pos < 0) return false;
  }
  if (flags & FLAG_ED) {
    pos = cborItemEnd(authData, pos);
    if (pos < 0) return false;
  }
  return pos === authData.length;
}

/** True when a COSE public key (as stored) is a usable key of its type. */
export function isUsablePublicKey(cose: Uint8Array): boolean {
  try {
    const key = isoCBOR.decodeFirst<Map<number, unknown>>(new Uint8Array(cose));
    const b64 = (label: number) => {
      const v = key.get(label);
      if (!(v instanceof Uint8Array)) throw new Error('missing key parameter');
      return Buffer.from(v).toString('base64url');
    };
    switch (key.get(1)) {
      case 1: // OKP: only Ed25519 (crv 6) is offered
        if (key.get(-1) !== 6 || b64(-2).length !== 43) return false;
        createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(-2) }, format: 'jwk' });
        return true;
      case 2: // EC2: P-256 (crv 1) for ES256
        if (key.get(-1) !== 1) return false;
        createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(-2), y: b64(-3) }, format: 'jwk' });
        return true;
      case 3: // RSA: n (-1), e (-2); at least 2048 bits
        if (Buffer.from(b64(-1), 'base64url').length < 256) return false;
        createPublicKey({ key: { kty: 'RSA', n: b64(-1), e: b64(-2) }, format: 'jwk' });
        return true;
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/**
 * WebAuthn §5.10.1 (CollectedClientData): `crossOrigin` is true when the ceremony ran in an iframe
 * of another origin than the top-level page, and `topOrigin` then names that page. Keygate's pages
 * cannot be framed (CSP frame-ancestors 'none'), so a genuine response never says so; one that does
 * came from an embedding Keygate does not allow. @simplewebauthn/server accepts `crossOrigin: true`
 * when `topOrigin` is absent, so Keygate refuses it itself, before anything else is looked at.
 */
import { CeremonyFailure } from './failures.js';

/** Throws CeremonyFailure('bad_origin') for a response made in a cross-origin frame. */
export function refuseCrossOriginFrame(clientDataJSON: string): void {
  let data: { crossOrigin?: unknown; topOrigin?: unknown };
  try {
    data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as typeof data;
  } catch (err) {
    throw new CeremonyFailure('malformed_response', err);
  }
  if (data === null || typeof data !== 'object') throw new CeremonyFailure('malformed_response');
  if (data.crossOrigin === true || data.topOrigin !== undefined) {
    throw new CeremonyFailure('bad_origin', undefined, 400, (t) => t.attempts.framed);
  }
}

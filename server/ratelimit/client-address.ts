/**
 * The address a per-IP rate limit counts against.
 *
 * Without TRUST_PROXY it is the TCP peer. With it, a TLS terminator is in front and appends the
 * peer it saw to X-Forwarded-For: the last entry is that proxy's, the ones before it are whatever
 * the client wrote. So the last entry is used, never the first (which a client can set to
 * anything, and would get a fresh budget with each request).
 *
 * An IPv6 client usually holds a whole /64, so IPv6 addresses count by their /64; IPv4-mapped IPv6
 * addresses count as the IPv4 address.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { peerAddress } from '../http/context.js';

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  return rateLimitSubject(peerAddress(req, trustProxy) ?? '');
}

/** `1.2.3.4` for IPv4 (also when IPv4-mapped), `2001:db8:1:2::/64` for IPv6; anything else as given. */
export function rateLimitSubject(address: string): string {
  const bare = address
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1]!;
  if (isIP(bare) !== 6) return bare || 'unknown';
  const groups = expandIpv6(bare);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address;
  // A trailing dotted quad (::1.2.3.4, 64:ff9b::1.2.3.4) stands for the last two groups.
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const fill: string[] = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16));
}

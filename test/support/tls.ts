/**
 * A throw-away certificate authority and a server certificate for `localhost`, written as PEM
 * files for a TLS front (nginx, Caddy) and for the clients that must verify it (git through
 * GIT_SSL_CAINFO, node through `ca`, Chromium through --ignore-certificate-errors-spki-list).
 *
 * Made with ./pki.ts (@peculiar/x509, ES256). The server certificate: CA:false, digitalSignature,
 * extendedKeyUsage serverAuth, subjectAltName DNS:localhost and IP:127.0.0.1 (browsers and curl
 * read only the SAN, never the CN).
 */
// @peculiar/x509 needs the Reflect metadata polyfill loaded before it (see ./pki.ts).
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExtendedKeyUsage, ExtendedKeyUsageExtension, SubjectAlternativeNameExtension } from '@peculiar/x509';
import { createSelfSigned, issueCertificate } from './pki.js';

export interface TlsFiles {
  /** The CA certificate (PEM): what a client trusts. */
  caFile: string;
  /** The server certificate (PEM): the leaf, issued directly by the CA. */
  certFile: string;
  /** The server's private key (PKCS#8 PEM). */
  keyFile: string;
  /** The CA certificate as PEM text (node's `ca` option). */
  caPem: string;
  /**
   * base64 of the SHA-256 of the server certificate's SubjectPublicKeyInfo: the form Chromium's
   * --ignore-certificate-errors-spki-list takes.
   */
  serverSpkiSha256: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Creates a CA and a `localhost` server certificate under it and writes them into `dir` (ca.pem, server.pem, server.key). */
export async function createTlsFiles(dir: string): Promise<TlsFiles> {
  const ca = await createSelfSigned({ subject: { C: 'US', O: 'Keygate Test', CN: 'Keygate Test TLS Root CA' }, ca: true, pathLength: 0 });
  const server = await issueCertificate(ca, {
    subject: { O: 'Keygate Test', CN: 'localhost' },
    ca: false,
    extensions: [
      new SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = await (webcrypto as unknown as Crypto).subtle.exportKey('pkcs8', server.keys.privateKey);
  const files = { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
  await writeFile(files.caFile, ca.pem);
  await writeFile(files.certFile, server.pem);
  await writeFile(files.keyFile, pem('PRIVATE KEY', pkcs8), { mode: 0o600 });
  return {
    ...files,
    caPem: ca.pem,
    serverSpkiSha256: createHash('sha256').update(Buffer.from(server.certificate.publicKey.rawData)).digest('base64'),
  };
}

/**
 * Username-first sign-in for a name with no usable key gets decoy options, so the answer does not
 * tell whether the account exists (ASVS 6.3.8). A decoy must look like a real account's: the
 * security review told them apart by their shape alone (always one 32-byte id, transports usb).
 * So each decoy copies the shape of a real account (how many keys, each id's length, each key's
 * transports), chosen for the name by rendezvous hashing among up to SAMPLE accounts, with ids derived
 * from the name under the session secret: the same name always gets the same answer.
 */
import { createHmac } from 'node:crypto';
import type { Db } from '../db/pool.js';

interface Shape {
  /** The account it was copied from: what a name is matched with. */
  account: string;
  lengths: number[];
  transports: string[][];
}

const SAMPLE = 256;
const REFRESH_MS = 10 * 60_000;
/** Before any account has a key there is nothing to resemble: a security key's usual shape. */
const FALLBACK: Shape = { account: '', lengths: [32], transports: [['usb']] };

export interface DecoyCredential {
  id: string;
  transports: string[];
}

export class DecoyCredentials {
  private shapes: Shape[] = [];
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly secret: string,
  ) {}

  /** The decoy allowCredentials for `username` (case-insensitive, as usernames are). */
  async forUsername(username: string): Promise<DecoyCredential[]> {
    if (Date.now() - this.loadedAt > REFRESH_MS) await (this.loading ??= this.load().finally(() => (this.loading = null)));
    const name = username.toLowerCase();
    // Rendezvous hashing: the account with the highest keyed score for this name. A name keeps its
    // shape while that account does, whoever else enrols or leaves (a modulo would reshuffle
    // every decoy whenever the sample grows, unlike a real account's answer).
    let shape = FALLBACK;
    let best = -1;
    for (const candidate of this.shapes) {
      const score = createHmac('sha256', this.secret).update(`decoy-shape:${name}:${candidate.account}`).digest().readUInt32BE(0);
      if (score > best) {
        best = score;
        shape = candidate;
      }
    }
    return shape.lengths.map((length, i) => ({ id: this.idFor(name, i, length), transports: shape.transports[i] ?? [] }));
  }

  private idFor(name: string, index: number, length: number): string {
    let bytes = Buffer.alloc(0);
    for (let block = 0; bytes.length < length; block++) {
      bytes = Buffer.concat([bytes, createHmac('sha256', this.secret).update(`decoy-credential:${name}:${index}:${block}`).digest()]);
    }
    return bytes.subarray(0, length).toString('base64url');
  }

  /**
   * The accounts to resemble: a stable sample (ordered by a hash of the account id under the
   * secret, so it does not change from one refresh to the next unless those accounts do).
   */
  private async load(): Promise<void> {
    const { rows } = await this.db.query<{ account: string; lengths: number[]; transports: string[] }>(
      `SELECT c.user_id::text AS account, array_agg(octet_length(c.credential_id) ORDER BY c.id) AS lengths,
              array_agg(array_to_string(c.transports, ',') ORDER BY c.id) AS transports
         FROM credentials c JOIN users u ON u.id = c.user_id
        WHERE c.revoked_at IS NULL AND u.disabled_at IS NULL
        GROUP BY c.user_id
        ORDER BY md5(c.user_id::text || $1)
        LIMIT ${SAMPLE}`,
      [createHmac('sha256', this.secret).update('decoy-sample').digest('hex')],
    );
    this.shapes = rows.map((r) => ({ account: r.account, lengths: r.lengths.map(Number), transports: r.transports.map((t) => (t ? t.split(',') : [])) }));
    this.loadedAt = Date.now();
  }
}

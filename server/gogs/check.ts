/**
 * `npm run cli -- check-gogs`: whether Gogs is set up the way Keygate needs it, seen from where
 * Keygate runs, and for each finding the app.ini line (or Keygate setting) to change.
 *
 * Everything here only reads: no Gogs account is created (which is why auto-registration cannot
 * be told from outside: trying it would create one), nothing is written to Keygate's database.
 */
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import { listUsers } from '../users/users.js';
import { GOGS_API_TIMEOUT_MS, gogsAdminApi } from './admin-api.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckFinding {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to change, for a failure or a warning: an app.ini line or a Keygate setting. */
  fix?: string;
}

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
  /** The address this request left from (what Gogs' TRUSTED_PROXY_IPS must name). */
  localAddress: string | undefined;
}

/** One GET to Gogs from `localAddress` (default: the system's choice), its body cut at 256 KiB. */
function get(base: URL, path: string, headers: Record<string, string>, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = base.protocol === 'https:' ? https : http;
    // Gogs' pages in English, whatever its [i18n] LANGS lists first: this reads "Signed in as".
    const req = client.get(
      new URL(path, base),
      { headers: { 'accept-language': 'en-US', ...headers }, localAddress, agent: false, timeout: GOGS_API_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 256 * 1024) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            body: Buffer.concat(chunks).toString('utf8'),
            localAddress: res.socket?.localAddress,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${GOGS_API_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

/** The name Gogs' page says is signed in, or null. */
function signedInAs(page: Answer): string | null {
  return page.status === 200 ? (/Signed in as <strong>([^<]+)<\/strong>/.exec(page.body)?.[1] ?? null) : null;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '[::1]' || /^127\./.test(host);

/** Another loopback address than `used`, to see whether Gogs trusts the header from it too. */
const otherLoopback = (used: string | undefined): string => (used === '127.0.0.1' || used === '::ffff:127.0.0.1' ? '127.0.0.2' : '127.0.0.1');

export async function checkGogs(config: Config, db: Db): Promise<CheckFinding[]> {
  const findings: CheckFinding[] = [];
  const base = config.gogsUrl;
  const header = config.gogsAuthHeader;
  // As app.ini spells it by convention (header names are read case-insensitively on both sides).
  const headerName = header.toUpperCase();
  const source = config.gogsSourceAddress;
  const trusted = `[auth] TRUSTED_PROXY_IPS = ${source ?? "<Keygate's address>"}/32`;

  // 1. Reachable.
  try {
    const health = await get(base, '/healthcheck', {}, source);
    if (health.status !== 200) throw new Error(`HTTP ${health.status}`);
    findings.push({ check: 'reachable', status: 'ok', detail: `Gogs answers at ${base.origin}` });
  } catch (err) {
    findings.push({
      check: 'reachable',
      status: 'fail',
      detail: `Gogs does not answer at ${base.origin}/healthcheck (${(err as Error).message})`,
      fix: 'GOGS_URL = where Gogs listens ([server] HTTP_ADDR and HTTP_PORT in its app.ini)',
    });
    return findings;
  }

  try {
    // 2. The admin token, and whose it is.
    const api = gogsAdminApi(config);
    let tokenOwner: string | null = null;
    if (!config.gogsAdminToken) {
      findings.push({
        check: 'admin token',
        status: 'warn',
        detail:
          'GOGS_ADMIN_TOKEN is not set: invites do not create Gogs accounts, sync-admins is off, and this check cannot list people without a Gogs account',
        fix: 'GOGS_ADMIN_TOKEN = an access token of a Gogs site administrator (in Gogs: Your Settings, Applications)',
      });
    } else {
      const me = await get(base, '/api/v1/user', { authorization: `token ${config.gogsAdminToken}`, accept: 'application/json' }, source);
      if (me.status === 200) {
        const user = JSON.parse(me.body) as { username?: string; avatar_url?: string };
        tokenOwner = user.username ?? null;
        findings.push({ check: 'admin token', status: 'ok', detail: `GOGS_ADMIN_TOKEN is ${tokenOwner}'s` });
        // Gogs builds its absolute URLs (avatars, clone URLs, redirects) from EXTERNAL_URL; an avatar
        // it serves itself (/avatars/…, as with OFFLINE_MODE) shows it, a Gravatar one does not.
        const avatar = user.avatar_url ? new URL(user.avatar_url) : null;
        const external = avatar && avatar.pathname.startsWith('/avatars/') ? avatar.origin : null;
        if (!external) findings.push({ check: 'external URL', status: 'skip', detail: "Gogs' answer does not show its EXTERNAL_URL (avatars from Gravatar)" });
        if (external && external !== config.origin) {
          findings.push({
            check: 'external URL',
            status: 'fail',
            detail: `Gogs builds its links on ${external}, not on Keygate's PUBLIC_URL ${config.origin}: people would leave Keygate`,
            fix: `[server] EXTERNAL_URL = ${config.publicUrl.href}`,
          });
        } else if (external) {
          findings.push({ check: 'external URL', status: 'ok', detail: `Gogs builds its links on ${external}` });
        }
      } else {
        findings.push({
          check: 'admin token',
          status: 'fail',
          detail: `Gogs refuses GOGS_ADMIN_TOKEN (HTTP ${me.status})`,
          fix: 'GOGS_ADMIN_TOKEN = an access token of a Gogs site administrator (in Gogs: Your Settings, Applications)',
        });
      }
    }

    // 3. The identity header, from Keygate's address, for someone Gogs has: the token's owner
    //    (without a token, trying Keygate's people could make Gogs create one by auto-registration).
    const users = await listUsers(db);
    const candidates = tokenOwner ? [tokenOwner] : [];
    let known: string | null = null;
    let from: string | undefined;
    for (const name of candidates) {
      const page = await get(base, '/', { [header]: name }, source);
      from ??= page.localAddress;
      if (signedInAs(page)?.toLowerCase() === name.toLowerCase()) {
        known = name;
        break;
      }
    }
    if (!candidates.length) {
      findings.push({
        check: 'identity header',
        status: 'skip',
        detail: 'needs a GOGS_ADMIN_TOKEN that Gogs accepts: its owner is someone Gogs has (trying anyone else could make Gogs create an account)',
      });
    } else if (known) {
      findings.push({ check: 'identity header', status: 'ok', detail: `Gogs takes ${headerName} from ${from ?? 'this address'} (tried as ${known})` });
    } else {
      findings.push({
        check: 'identity header',
        status: 'fail',
        detail: `Gogs did not take ${headerName} from ${from ?? 'this address'} for ${candidates.join(', ')}: reverse-proxy authentication is off, reads another header, does not trust this address, or none of them has a Gogs account`,
        fix: `[auth] ENABLE_REVERSE_PROXY_AUTHENTICATION = true, REVERSE_PROXY_AUTHENTICATION_HEADER = ${headerName}, TRUSTED_PROXY_IPS = ${from ?? source ?? "<Keygate's address>"}/32`,
      });
    }

    // 4. Trusted from Keygate's address alone (as far as can be seen from here).
    if (known) {
      if (!source) {
        findings.push({
          check: 'trusted addresses',
          status: 'warn',
          detail: `GOGS_SOURCE_ADDRESS is not set: Keygate connects from ${from ?? 'an address the system picks'}, which other programs on this host may share`,
          fix: `GOGS_SOURCE_ADDRESS = an address of Keygate's own, and ${trusted.replace("<Keygate's address>", 'that address')}`,
        });
      } else if (isLoopback(base.hostname)) {
        const other = otherLoopback(source);
        const page = await get(base, '/', { [header]: known }, other).catch((err: Error) => err);
        if (page instanceof Error) {
          findings.push({
            check: 'trusted addresses',
            status: 'skip',
            detail: `could not ask Gogs from ${other} (${page.message}), so whether it trusts more than ${source} is not known`,
          });
        } else if (signedInAs(page)) {
          findings.push({
            check: 'trusted addresses',
            status: 'fail',
            detail: `Gogs also takes ${headerName} from ${other}, not only from GOGS_SOURCE_ADDRESS ${source}: anything on this host could claim to be anyone`,
            fix: trusted,
          });
        } else {
          findings.push({ check: 'trusted addresses', status: 'ok', detail: `Gogs ignores ${headerName} from ${other}` });
        }
      } else {
        findings.push({ check: 'trusted addresses', status: 'skip', detail: 'Gogs is on another host: only its own app.ini shows whom it trusts' });
      }
    }

    // 5. The token's owner is a site administrator (Gogs' /admin page, as them).
    if (api && tokenOwner && known) {
      const admin = await api.isSiteAdmin(tokenOwner);
      if (admin === true) findings.push({ check: 'token is an admin', status: 'ok', detail: `${tokenOwner} is a Gogs site administrator` });
      else
        findings.push({
          check: 'token is an admin',
          status: 'fail',
          detail: `${tokenOwner} is not a Gogs site administrator: Keygate cannot create Gogs accounts with this token`,
          fix: `GOGS_ADMIN_TOKEN = a site administrator's token, or make ${tokenOwner} one (Gogs: Site Administration, Users)`,
        });
    }

    // 6. People of Keygate's without a Gogs account.
    if (api && tokenOwner) {
      const missing: string[] = [];
      for (const u of users) if (!u.disabledAt && !(await api.findUser(u.username))) missing.push(u.username);
      findings.push(
        missing.length
          ? {
              check: 'Gogs accounts',
              status: 'fail',
              detail: `no Gogs account for ${missing.join(', ')}: Gogs shows them nothing (Keygate says so to them)`,
              fix: 'create them in Gogs (gogs admin create-user), or invite them again with --email so that Keygate does',
            }
          : { check: 'Gogs accounts', status: 'ok', detail: `every enabled person of Keygate's (${users.filter((u) => !u.disabledAt).length}) has one` },
      );
    }
  } catch (err) {
    // An answer this check cannot read (Gogs mid-restart, a proxy in between): said, not thrown.
    findings.push({ check: 'check stopped', status: 'fail', detail: `Gogs gave an answer this check could not read: ${(err as Error).message}` });
    return findings;
  }
  findings.push({
    check: 'auto-registration',
    status: 'skip',
    detail: 'not tried: it would create a Gogs account; see README, "Gogs accounts"',
  });
  return findings;
}

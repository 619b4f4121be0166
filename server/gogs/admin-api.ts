/**
 * Gogs' admin API, used only when GOGS_ADMIN_TOKEN is set (a Gogs site administrator's access
 * token). Requests go straight to GOGS_URL, never through the proxy, and carry no identity header.
 * The token travels only in `Authorization: token …` and never appears in a message, an error or
 * a log line.
 *
 * Routes (Gogs 0.14, internal/route/api/v1/api.go):
 * - `GET /api/v1/users/:username`: 200 with the user, 404 (empty body) when there is none;
 * - `POST /api/v1/admin/users` (site admins only, else 403): 201, or 422 when the name is taken,
 *   not allowed, the email is used, or the body fails validation.
 *
 * Gogs 0.14's API does not expose the site-admin flag: its user object is id, username, login,
 * full_name, email, avatar_url, and the admin API has no read route. `isSiteAdmin` therefore asks
 * Gogs' site administration page (`GET /admin`: 200 for site admins, 403 for everyone else) as
 * that user, through the reverse-proxy header that Gogs already trusts from Keygate.
 */
import { randomBytes } from 'node:crypto';
import { Agent, fetch } from 'undici';
import type { Config } from '../config.js';
import { AppError, type Said } from '../errors.js';

/** One keep-alive Agent per source address for the process, however many GogsAdminApi are made. */
const agents = new Map<string, Agent>();
function agentFrom(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ localAddress })));
  return agent;
}

/** Each call to Gogs gets this long. */
export const GOGS_API_TIMEOUT_MS = 5000;

export interface GogsUser {
  id: number;
  username: string;
  email: string;
}

/** What a failed call to Gogs looked like, for the audit row (never the token). */
function describe(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.cause?.message?.slice(0, 60) ?? e?.name ?? 'error';
}

export class GogsAdminApi {
  readonly #token: string;
  /**
   * Connections from GOGS_SOURCE_ADDRESS, as the proxy's: the admin flag is read from Gogs' /admin
   * page as each user through the identity header, which Gogs trusts from that address only.
   */
  readonly #dispatcher: Agent | undefined;
  readonly #base: URL;
  readonly #authHeader: string;

  constructor(config: Config, token: string) {
    this.#token = token;
    this.#base = config.gogsUrl;
    this.#authHeader = config.gogsAuthHeader;
    this.#dispatcher = config.gogsSourceAddress ? agentFrom(config.gogsSourceAddress) : undefined;
  }

  /** Never prints the token, whatever logs or inspects this object. */
  toJSON(): object {
    return { gogsUrl: this.#base.origin };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `GogsAdminApi(${this.#base.origin})`;
  }

  async #call(method: string, path: string, opts: { body?: unknown; asUser?: string; what: Said }): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.asUser === undefined) headers.authorization = `token ${this.#token}`;
    else headers[this.#authHeader] = opts.asUser;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetch(new URL(path, this.#base), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        redirect: 'manual',
        signal: AbortSignal.timeout(GOGS_API_TIMEOUT_MS),
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
      const text = await res.text();
      return { status: res.status, text };
    } catch (err) {
      const { what } = opts;
      const detail = describe(err);
      throw new AppError('gogs_unreachable', 502, (t) => t.adminErrors.gogsUnreachable(typeof what === 'string' ? what : what(t), detail), detail);
    }
  }

  #tokenRefused(status: number): AppError {
    return new AppError('gogs_admin_token_refused', 502, (t) => t.adminErrors.gogsTokenRefused(status));
  }

  /** The Gogs user of that name (case-insensitive, as Gogs looks names up), or null. */
  async findUser(username: string): Promise<GogsUser | null> {
    const { status, text } = await this.#call('GET', `/api/v1/users/${encodeURIComponent(username)}`, { what: (t) => t.adminErrors.gogsLookingUp(username) });
    if (status === 404) return null;
    if (status === 401 || status === 403) throw this.#tokenRefused(status);
    if (status !== 200) throw new AppError('gogs_error', 502, (t) => t.adminErrors.gogsLookupStatus(status, username));
    try {
      const u = JSON.parse(text) as { id?: unknown; username?: unknown; login?: unknown; email?: unknown };
      const name = typeof u.username === 'string' ? u.username : typeof u.login === 'string' ? u.login : username;
      return { id: Number(u.id), username: name, email: typeof u.email === 'string' ? u.email : '' };
    } catch {
      throw new AppError('gogs_error', 502, (t) => t.adminErrors.gogsLookupNotJson(username));
    }
  }

  /**
   * Creates an activated local user with a random 32-byte password that nobody ever sees: the
   * person signs in through Keygate, and uses access tokens for git.
   */
  async createUser(username: string, email: string): Promise<GogsUser> {
    const password = randomBytes(32).toString('base64url');
    const { status, text } = await this.#call('POST', '/api/v1/admin/users', {
      what: (t) => t.adminErrors.gogsCreating(username),
      body: { source_id: 0, login_name: username, username, email, password, send_notify: false },
    });
    if (status === 201 || status === 200) {
      try {
        const u = JSON.parse(text) as { id?: unknown; username?: unknown };
        return { id: Number(u.id), username: typeof u.username === 'string' ? u.username : username, email };
      } catch {
        return { id: NaN, username, email };
      }
    }
    if (status === 401 || status === 403) throw this.#tokenRefused(status);
    const reason = gogsReason(status, text);
    throw new AppError('gogs_refused', status === 422 || status === 400 ? 422 : 502, (t) => t.adminErrors.gogsRefusedUser(reason));
  }

  /**
   * Whether Gogs counts the user as a site administrator: its site administration page answers
   * 200 for them, 403 for anyone else. Undefined when Gogs answered anything else (typically a
   * redirect to its sign-in page: it did not accept the reverse-proxy header from this address).
   * Only ask about users that exist (findUser): with auto-registration on, Gogs would create one.
   */
  async isSiteAdmin(username: string): Promise<boolean | undefined> {
    const { status } = await this.#call('GET', '/admin', { asUser: username, what: `asking whether ${username} is a Gogs site admin` });
    if (status === 200) return true;
    if (status === 403) return false;
    return undefined;
  }
}

/** Gogs' reason: `{"message": …}` (its ErrorStatus) or a list of binding errors, kept short. */
function gogsReason(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') {
      return `${(body as { message: string }).message} (HTTP ${status})`.slice(0, 300);
    }
    if (Array.isArray(body)) {
      const fields = body.map((e: { fieldNames?: string[]; classification?: string }) => `${(e.fieldNames ?? []).join(', ')} ${e.classification ?? ''}`.trim());
      return `invalid ${fields.join('; ')} (HTTP ${status})`.slice(0, 300);
    }
  } catch {
    // not JSON
  }
  return `HTTP ${status}`;
}

/** The client when GOGS_ADMIN_TOKEN is set; undefined otherwise. */
export function gogsAdminApi(config: Config): GogsAdminApi | undefined {
  return config.gogsAdminToken ? new GogsAdminApi(config, config.gogsAdminToken) : undefined;
}

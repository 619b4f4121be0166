/**
 * How Keygate reads a request path before deciding anything about it. Rules match on the decoded,
 * normalised path (dot segments resolved, slashes collapsed, `;` parameters dropped), lower-cased
 * because Gogs' router matches case-insensitively. The raw target is still what Gogs receives.
 */

export type Route =
  /** Keygate's own pages and API under /-/ */
  | 'keygate'
  /** Gogs' password sign-in, sign-up, reset and activation: never reach Gogs */
  | 'blocked'
  /** Gogs' own sign-out: ends the Keygate session too */
  | 'gogs-logout'
  /** Git smart HTTP, LFS and /api/v1: Gogs authenticates these itself; no identity header */
  | 'passthrough'
  /** Everything else: Gogs pages, for signed-in people only */
  | 'page';

/**
 * Gogs decodes a path twice: Go's server once (req.URL.Path), then macaron's router tree once more
 * per segment (gourl.PathUnescape in tree.go), so `/user/%256cogin` is `/user/login` to Gogs.
 * Keygate decodes until nothing is left to decode; more rounds than this and the path is refused.
 */
const MAX_DECODE_ROUNDS = 4;

/**
 * Decodes and normalises a request target's path. Returns null when it cannot be normalised
 * (bad percent-encoding at any decoding round, control characters, or `..` above the root): the
 * caller answers 400.
 */
export function normalizePath(target: string): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) return null;
  let end = target.length;
  const q = target.indexOf('?');
  if (q !== -1) end = q;
  const h = target.indexOf('#');
  if (h !== -1 && h < end) end = h;
  let path = target.slice(0, end);
  // Fast path: nothing to decode or resolve (the common case for every page and asset).
  // eslint-disable-next-line no-control-regex
  if (!/[%\\;\u0000-\u001f\u007f]|\/\/|\/\.(?:\/|\.|$)/.test(path)) return path.toLowerCase();
  for (let round = 0; path.includes('%'); round++) {
    if (round === MAX_DECODE_ROUNDS) return null;
    try {
      path = decodeURIComponent(path);
    } catch {
      return null;
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return null;
  const out: string[] = [];
  for (let segment of path.replace(/\\/g, '/').split('/')) {
    const semi = segment.indexOf(';');
    if (semi !== -1) segment = segment.slice(0, semi);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const trailing = path.endsWith('/') && out.length > 0 ? '/' : '';
  return `/${out.join('/')}${trailing}`.toLowerCase();
}

/** Gogs 0.14 and 0.15 routes that sign people in with a password or give them a Gogs session. */
const BLOCKED_PREFIXES = [
  // 0.14.x
  '/user/login', // also /user/login/two_factor and /two_factor_recovery_code
  '/user/sign_up',
  '/user/forget_password',
  '/user/reset_password',
  '/user/activate', // also /user/activate_email
  // 0.15 development line
  '/user/sign-in',
  '/user/mfa',
  '/user/sign-up',
  '/user/reset-password',
  '/user/forgot-password',
  '/activate/complete',
  '/api/web/user/sign-in',
  '/api/web/user/mfa',
  '/api/web/user/sign-up',
  '/api/web/user/reset-password',
  '/api/web/user/forgot-password',
  '/api/web/user/activate',
];

const LOGOUT_PATHS = new Set(['/user/logout', '/api/web/user/sign-out']);

/** /{owner}/{repo}[.git]/ followed by a git smart-HTTP, dumb-HTTP or LFS endpoint. */
const GIT_PATH = /^\/[^/]+\/[^/]+\/(?:info\/refs|git-upload-pack|git-receive-pack|head|objects\/.+|info\/lfs(?:\/.*)?)$/;

function isBlocked(path: string): boolean {
  for (const prefix of BLOCKED_PREFIXES) {
    if (path.startsWith(prefix)) {
      // The route, its sub-paths and its siblings (`/user/activate_email`, `/api/web/user/mfa-…`,
      // `/user/login.json`), but not an unrelated word such as `/user/loginx`.
      const next = path.charAt(prefix.length);
      if (next === '' || !/[a-z0-9]/.test(next)) return true;
    }
  }
  return false;
}

/** Classifies a normalised path (see normalizePath). */
export function classifyPath(path: string, method: string): Route {
  if (path === '/-' || path.startsWith('/-/')) return 'keygate';
  if (isBlocked(path)) return 'blocked';
  // Gogs' router ignores one trailing slash, so /user/logout/ is its sign-out too.
  if (method === 'POST' && LOGOUT_PATHS.has(path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path)) return 'gogs-logout';
  if (path.startsWith('/api/v1/') || path === '/api/v1') return 'passthrough';
  if (GIT_PATH.test(path)) return 'passthrough';
  return 'page';
}

/**
 * Gogs routes that change something on a GET (read from the Gogs 0.14.3 and 0.15 sources; HEAD
 * runs the same handlers): opening or closing a milestone, emptying the admin notices, the hook
 * task trigger, and 0.14's unauthenticated profiler under /debug. A signed-in person reaches them
 * from another site only after confirming (handler.ts), since SameSite=Lax sends Keygate's cookie
 * on a cross-site top-level navigation. (/user/activate and /user/activate_email are blocked.)
 */
const STATE_CHANGING_GET = /^\/(?:[^/]+\/[^/]+\/milestones\/[^/]+\/(?:open|close)|admin\/notices\/empty|[^/]+\/[^/]+\/tasks\/trigger|debug(?:\/.*)?)\/?$/;

/** Whether a GET or HEAD of this normalised path changes state in Gogs. */
export function changesStateOnGet(path: string): boolean {
  return STATE_CHANGING_GET.test(path);
}

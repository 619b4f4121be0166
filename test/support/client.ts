/**
 * A cookie-keeping HTTP client that behaves like a browser tab on Keygate's origin: it sends the
 * Origin header on unsafe requests, keeps cookies (honouring Max-Age=0), and does not follow
 * redirects, so tests see exactly what a browser would be told.
 */
export interface ClientResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  location: string | null;
  setCookies: string[];
}

/**
 * How long a test's request may go unanswered (headers and body) before it fails, naming itself:
 * far beyond any answer a test expects (a request held at a lock waits DATABASE_TIMEOUT, 10 s),
 * and well inside the runner's 120 s per file, so a request that never ends fails its own test.
 * Every client of the tests uses it (this one, raw.ts, scenario.ts).
 */
export const ANSWER_BOUND_MS = 60_000;

export class TestClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly origin: string = baseUrl,
  ) {}

  cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(
    path: string,
    init: { method?: string; json?: unknown; body?: string; headers?: Record<string, string>; origin?: string | null } = {},
  ): Promise<ClientResponse> {
    const method = init.method ?? (init.json !== undefined ? 'POST' : 'GET');
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader();
    if (cookie && !('cookie' in headers)) headers.cookie = cookie;
    if (method !== 'GET' && method !== 'HEAD') {
      const origin = init.origin === undefined ? this.origin : init.origin;
      if (origin !== null && !('origin' in headers)) headers.origin = origin;
    }
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] ??= 'application/json';
    }
    const signal = AbortSignal.timeout(ANSWER_BOUND_MS);
    const unanswered = (err: unknown) => {
      if ((err as Error)?.name === 'TimeoutError') throw new Error(`${method} ${path}: no complete answer in ${ANSWER_BOUND_MS / 1000} s`, { cause: err });
      throw err;
    };
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual', signal }).catch(unanswered);
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text().catch(unanswered);
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, location: res.headers.get('location'), setCookies };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request(path, { headers });
  }

  post(path: string, json: unknown, headers?: Record<string, string>) {
    return this.request(path, { method: 'POST', json, headers });
  }
}

/**
 * The Go reader (test/support/goreader/main.go) as a test upstream: what Keygate forwards, read by
 * Go's own net/http, strings.Fields and base64 the way Gogs 0.14.3 reads it. Built once per
 * source version into ~/.cache/keygate/goreader/ (KEYGATE_CACHE_DIR overrides ~/.cache/keygate),
 * with Go's own build cache.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SOURCE_DIR = fileURLToPath(new URL('./goreader/', import.meta.url));

/** What Go read from one forwarded request (see main.go, Reading). */
export interface GoReading {
  method: string;
  path: string;
  requestURI: string;
  remoteAddr: string;
  identity: Record<string, string>;
  identityValues: Record<string, string[] | null>;
  authorization: string;
  fields: string[] | null;
  basic: { user: string; pass: string; panic?: boolean } | null;
  token: string;
  cookies: Record<string, string>;
  allCookies: Array<[string, string]>;
  bodyBytes: number;
  /** base64 of the bytes that arrived on the connection. */
  raw: string;
}

export function keygateCacheDir(): string {
  return process.env.KEYGATE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'keygate');
}

/** A clear failure when Go is missing: the real-Gogs and Go-reader tests need it (README, "Tests"). */
export async function goCommand(): Promise<string> {
  for (const candidate of [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean) as string[]) {
    try {
      await run(candidate, ['version']);
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error(
    'Go (1.25 or newer) is needed for the tests that read forwarded requests with Go and run the real Gogs; install it, then run `npm run gogs:install`.',
  );
}

let built: Promise<string> | undefined;

async function buildGoReader(): Promise<string> {
  const source = await readFile(path.join(SOURCE_DIR, 'main.go'));
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const binary = path.join(keygateCacheDir(), 'goreader', hash, 'goreader');
  try {
    await stat(binary);
    return binary;
  } catch {
    // not built yet
  }
  const go = await goCommand();
  await mkdir(path.dirname(binary), { recursive: true });
  // Built next to its final name and renamed: two test files building at once never see half a binary.
  const partial = `${binary}.${process.pid}.partial`;
  await run(go, ['build', '-o', partial, '.'], { cwd: SOURCE_DIR, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' } });
  await rename(partial, binary);
  return binary;
}

export interface GoReader {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the Go reader on a loopback port.
 * @param identityHeaders header names it reads with Header.Get (as Gogs reads its configured one)
 */
export async function startGoReader(opts: { identityHeaders: string[]; cookies?: string[] }): Promise<GoReader> {
  built ??= buildGoReader();
  const binary = await built;
  const args = ['-listen', '127.0.0.1:0', '-identity-headers', opts.identityHeaders.join(',')];
  if (opts.cookies) args.push('-cookies', opts.cookies.join(','));
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`goreader exited with ${code}`)));
  });
  return {
    url: `http://${address}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

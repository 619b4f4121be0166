/**
 * Child of bench/capacity.ts (run with --expose-gc): the heap a SessionCache takes for N live
 * sessions, each as the proxy caches it (server/session/identity.ts): a 43-character key, the
 * person, the credential id, times, address and browser.
 */
import { randomBytes } from 'node:crypto';
import { SessionCache } from '../server/session/cache.js';

const entries = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const cache = new SessionCache(3_600_000, entries);
cache.goLive();
const now = Date.now();
gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < entries; i++) {
  cache.set(
    // The key too: only the cache keeps it once the request is over.
    randomBytes(32).toString('base64url'),
    {
      userId: String(1000 + (i % 50_000)),
      username: `person${i % 50_000}`,
      credentialId: randomBytes(32).toString('base64url'),
      signedInAt: now - i,
      lastSeenAt: now,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      // A string of its own per session, as each comes parsed from its own row.
      userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.${i}.0 Safari/537.36`,
    },
    now,
  );
}
gc();
const grown = process.memoryUsage().heapUsed - before;
if (cache.size !== entries) throw new Error(`the cache holds ${cache.size}, not ${entries}`);
process.stdout.write(JSON.stringify({ entries, bytesPerEntry: grown / entries, totalMiB: grown / 2 ** 20 }));

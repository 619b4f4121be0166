/**
 * The installation's root: the folder with package.json, db/migrations/ and web/dist/. Found by
 * walking up from this module, so that it is the same whether the server runs from its TypeScript
 * source (server/, under tsx in tests) or from the compiled bundle (dist/, in production).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}: Keygate's files are incomplete`);
  }
}

export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

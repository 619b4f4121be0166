/**
 * Security review finding 7: names and user agents reach terminals and pages. What is stored is
 * cleaned (cleanText); what the CLI prints is escaped (forTerminal), so a terminal never receives
 * a raw C1 control such as U+009B (CSI) or a bidi override from anything Keygate stored.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanText, forTerminal } from '../../server/text/safe-text.js';

describe('safe text', () => {
  test('cleanText drops C0, DEL, C1, bidi overrides, isolates, marks and separators, and keeps letters and emoji joiners', () => {
    assert.equal(cleanText('  Work\u009b31m\u0007key\u007f '), 'Work31mkey');
    assert.equal(cleanText('\u202aa\u202bb\u202cc\u202dd\u202ee\u2066f\u2067g\u2068h\u2069i\u200ej\u200fk\u061cl\u2028m\u2029n'), 'abcdefghijklmn');
    assert.equal(cleanText('Clé 鍵 👩\u200d💻'), 'Clé 鍵 👩\u200d💻');
  });

  test('forTerminal writes each of them as a visible \\u escape and keeps the tab that separates columns', () => {
    assert.equal(forTerminal('key\u009b31m\tMozilla\u202e'), 'key\\u009b31m\tMozilla\\u202e');
    assert.equal(forTerminal('\u001b[2J'), '\\u001b[2J');
    assert.equal(forTerminal('plain text, 鍵'), 'plain text, 鍵');
  });
});

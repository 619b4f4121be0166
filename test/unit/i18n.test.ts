/**
 * The catalogues (web/i18n) and the choice between them (server/http/language.ts): every key of
 * English exists in Simplified Chinese and the other way round, no text is empty, each sentence
 * keeps its placeholders in both, and Accept-Language picks the language it should. The same
 * choice on real answers from Keygate is test/e2e/languages.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CATALOGUES, LANGS, type Catalogue } from '../../web/i18n/index.js';
import { ACCEPT_LANGUAGE_READ, languageFor } from '../../server/http/language.js';
import { rich, html } from '../../web/pages/html.js';

type Entry = string | ((...args: never[]) => string) | { [key: string]: Entry };

/** Every leaf of a catalogue, by its dotted path. */
function leaves(node: Entry, path = ''): Map<string, string | ((...args: unknown[]) => string)> {
  const out = new Map<string, string | ((...args: unknown[]) => string)>();
  if (typeof node === 'string' || typeof node === 'function') {
    out.set(path, node as string | ((...args: unknown[]) => string));
    return out;
  }
  for (const [key, value] of Object.entries(node)) for (const [p, v] of leaves(value, path ? `${path}.${key}` : key)) out.set(p, v);
  return out;
}

// Stand-ins no sentence contains: numbers, so that a sentence that counts (`n === 1 ? … : …`,
// `n > 1`) takes its many-form, and one that names something shows them as they are.
const markers = (n: number) => Array.from({ length: n }, (_, i) => 70001 + i);

/** A sentence with stand-ins for its arguments, and which stand-ins it kept. */
function placeholders(value: string | ((...args: unknown[]) => string)): { text: string; kept: number[] } {
  if (typeof value === 'string') return { text: value, kept: [] };
  const text = value(...markers(value.length));
  return { text, kept: markers(value.length).filter((m) => text.includes(String(m))) };
}

const english = leaves(CATALOGUES.en);

describe('catalogues: every language says everything English says', () => {
  for (const lang of LANGS.filter((l) => l !== 'en')) {
    const other = leaves(CATALOGUES[lang]);

    test(`${lang} has every key of en, and no key en lacks`, () => {
      assert.deepEqual(
        [...english.keys()].filter((k) => !other.has(k)),
        [],
        'missing',
      );
      assert.deepEqual(
        [...other.keys()].filter((k) => !english.has(k)),
        [],
        'extra',
      );
    });

    test(`${lang}: each entry is text where en's is text and a sentence of as many arguments where en's is one`, () => {
      for (const [key, en] of english) {
        const value = other.get(key)!;
        assert.equal(typeof value, typeof en, key);
        if (typeof en === 'function') assert.equal((value as (...a: unknown[]) => string).length, en.length, key);
      }
    });

    test(`${lang}: no text is empty, and each sentence keeps the same placeholders as in en`, () => {
      for (const [key, en] of english) {
        const mine = placeholders(other.get(key)!);
        const theirs = placeholders(en);
        assert.ok(mine.text.trim().length > 0, `${key} is empty in ${lang}`);
        assert.deepEqual(mine.kept, theirs.kept, `${key}: placeholders differ between en and ${lang}`);
        assert.doesNotMatch(mine.text, /undefined|NaN|\[object/, `${key} in ${lang}`);
      }
    });

    test(`${lang}: its tag is the one it is served under`, () => {
      assert.equal(CATALOGUES[lang].tag, lang);
    });
  }

  test('en: no text is empty, and every argument of a sentence appears in it', () => {
    for (const [key, value] of english) {
      const { text, kept } = placeholders(value);
      assert.ok(text.trim().length > 0, `${key} is empty`);
      if (typeof value === 'function') assert.equal(kept.length, value.length, `${key} drops an argument`);
    }
  });
});

describe('Accept-Language picks the language Keygate ships', () => {
  const cases: Array<[string | undefined, string]> = [
    ['zh-CN,zh;q=0.9', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['zh-Hans-CN', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['zh-SG', 'zh-CN'],
    ['ZH-cn', 'zh-CN'],
    ['fr, zh;q=0.5', 'zh-CN'],
    ['en-US', 'en'],
    ['en-GB,en;q=0.9,zh-CN;q=0.8', 'en'],
    ['fr', 'en'],
    // Traditional Chinese is not shipped: English, not Simplified Chinese.
    ['zh-TW', 'en'],
    ['zh-HK', 'en'],
    ['zh-MO', 'en'],
    ['zh-Hant', 'en'],
    ['zh-Hant-CN', 'en'],
    ['zh-TW,zh;q=0.9', 'zh-CN'],
    ['zh-TW, en;q=0.5, zh;q=0.1', 'en'],
    ['en;q=0, zh', 'zh-CN'],
    ['*', 'en'],
    [undefined, 'en'],
    ['', 'en'],
    ['garbage;;;q=x,,', 'en'],
    ['zh-CN;q=abc', 'en'],
    ['x-klingon-!!, 12345', 'en'],
  ];
  for (const [header, lang] of cases) {
    test(`${JSON.stringify(header)} → ${lang}`, () => assert.equal(languageFor(header), lang));
  }

  test(`only the first ${ACCEPT_LANGUAGE_READ} characters are read, cut at a whole tag: a 15 KB header of tags costs no more than a short one`, () => {
    const filler = Array.from({ length: 1200 }, (_, i) => `x-t${i};q=0.5`).join(',');
    assert.ok(filler.length > 15_000);
    assert.equal(languageFor(`zh-CN,${filler}`), 'zh-CN', 'a preference within the bound is read');
    assert.equal(languageFor(`${filler},zh-CN`), 'en', 'one beyond it is not');
    // A tag cut in two at the bound is dropped, not read as its first half.
    const cut = `${'x'.repeat(ACCEPT_LANGUAGE_READ - 3)},zh-Hant-TW`;
    assert.equal(languageFor(cut), 'en');
  });
});

describe('rich: a catalogue sentence with markup in its places', () => {
  test('escapes the sentence and the plain parts, and keeps the markup parts', () => {
    const sentence = (a: string, b: string) => `<${a}> & ${b}`;
    assert.equal(rich(sentence, html`<strong>${'x<y'}</strong>`, '"q"').toString(), '&lt;<strong>x&lt;y</strong>&gt; &amp; &quot;q&quot;');
  });

  test('works for every language: the Chinese sentence puts the name where it belongs', () => {
    const zh: Catalogue = CATALOGUES['zh-CN'];
    assert.equal(rich(zh.account.signedInAs, html`<strong>${'wendy'}</strong>`).toString(), '已作为 <strong>wendy</strong> 登录。');
  });
});

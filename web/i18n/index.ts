/**
 * The languages Keygate's pages speak, and each one's catalogue. English is the default and the
 * source (en.ts); which one a request gets is negotiated from Accept-Language
 * (server/http/language.ts). To add a language: a catalogue typed as `Catalogue`, an entry in
 * CATALOGUES, and its tags in server/http/language.ts.
 */
import { en, type Catalogue } from './en.js';
import { zhCN } from './zh-CN.js';

export type { Catalogue, ClientCatalogue } from './en.js';

/** A language Keygate ships, by the tag it is served under (`<html lang>`, Content-Language). */
export type Lang = 'en' | 'zh-CN';

export const DEFAULT_LANG: Lang = 'en';

export const CATALOGUES: Readonly<Record<Lang, Catalogue>> = { en, 'zh-CN': zhCN };

export const LANGS = Object.keys(CATALOGUES) as Lang[];

/** The catalogue of `lang` (English when absent). */
export function strings(lang: Lang = DEFAULT_LANG): Catalogue {
  return CATALOGUES[lang];
}

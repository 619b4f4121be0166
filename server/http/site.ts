/** Whose pages these are, from the configuration: the organisation's name and logo (web/pages/layout.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Lang } from '../../web/i18n/index.js';
import type { Site } from '../../web/pages/layout.js';
import type { Config } from '../config.js';
import { pageLanguage } from './language.js';

export function siteOf(config: Pick<Config, 'rpName' | 'logo'>): Site {
  return { name: config.rpName, logo: config.logo !== undefined };
}

/**
 * What a page rendered for `req` carries: whose site it is, and the language it is in, negotiated
 * from Accept-Language (the answer's Content-Language and Vary say so).
 */
export function pageOf(config: Pick<Config, 'rpName' | 'logo'>, req: IncomingMessage, res: ServerResponse): { site: Site; lang: Lang } {
  return { site: siteOf(config), lang: pageLanguage(req, res) };
}

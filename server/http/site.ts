/** Whose pages these are, from the configuration: the organisation's name and logo (web/pages/layout.ts). */
import type { Site } from '../../web/pages/layout.js';
import type { Config } from '../config.js';

export function siteOf(config: Pick<Config, 'rpName' | 'logo'>): Site {
  return { name: config.rpName, logo: config.logo !== undefined };
}

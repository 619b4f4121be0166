/**
 * The browser's words, in the page's language: the server negotiated it and wrote it in
 * `<html lang>` (web/pages/layout.ts). Only the catalogues' `client` parts are bundled.
 */
import { client as en } from '../i18n/en.js';
import { client as zhCN } from '../i18n/zh-CN.js';

export const t = document.documentElement.lang === 'zh-CN' ? zhCN : en;

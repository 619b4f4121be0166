import { html } from './html.js';
import { layout, type SiteOptions } from './layout.js';

/** Options for {@link messagePage}. */
export interface MessagePageOptions extends SiteOptions {
  title: string;
  /** Plain-text explanation; escaped. */
  message: string;
  /** Optional next step, shown as a button-styled link. */
  action?: { href: string; label: string };
}

/** A script-free page that explains something (expired invite, error, signed out) and offers a way on. */
export function messagePage({ title, message, action, site, lang }: MessagePageOptions): string {
  const body = html`
<p class="lead">${message}</p>
${action && html`<a class="button button-primary" href="${action.href}">${action.label}</a>`}
`;
  return layout({ title, body, site, lang });
}

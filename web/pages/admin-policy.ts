import { adminLayout } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { strings } from '../i18n/index.js';
import { html, rich } from './html.js';

export interface AdminPolicyPageOptions extends SiteOptions {
  settings: Array<{ variable: string; setting: string; value: string }>;
  refused: Array<{
    username: string;
    isAdmin: boolean;
    credentialId: string;
    nickname: string;
    model: string;
    violations: Array<{ reason: string; message: string }>;
  }>;
}

/** The authenticator policy as configured, and the keys it refuses: who must re-enrol. */
export function adminPolicyPage(o: AdminPolicyPageOptions): string {
  const t = strings(o.lang).admin;
  const body = html`
<section aria-labelledby="policy-heading">
<h2 id="policy-heading">${t.policyHeading}</h2>
<p class="hint">${rich(t.policyHint, 'CONFIG_FILE', html`<code>npm run cli -- policy</code>`)}</p>
<div class="table-scroll"><table id="policy-settings" class="admin-table policy-table">
<thead><tr><th scope="col">${t.colSetting}</th><th scope="col">${t.colValue}</th><th scope="col">${t.colVariable}</th></tr></thead>
<tbody>${o.settings.map((s) => html`<tr data-variable="${s.variable}"><td data-label="${t.colSetting}">${s.setting}</td><td data-label="${t.colValue}">${s.value}</td><td data-label="${t.colVariable}"><code>${s.variable}</code></td></tr>`)}</tbody>
</table></div>
</section>
<section aria-labelledby="refused-heading">
<h2 id="refused-heading">${t.refusedHeading}</h2>
${
  o.refused.length
    ? html`<p class="notice notice-error">${t.refusedCount(o.refused.length)}</p>
<ul id="refused-list" class="device-list">${o.refused.map(
        (r) => html`<li class="device" data-credential-id="${r.credentialId}" data-reasons="${r.violations.map((v) => v.reason).join(' ')}">
<div class="device-name"><a href="/-/admin/users/${encodeURIComponent(r.username)}">${r.username}</a>${r.isAdmin && html` <span class="tag">${t.adminTag}</span>`}: ${r.nickname}</div>
<div class="device-meta">${r.model}</div>
<div class="device-meta">${r.violations.map((v) => v.message).join(' ')}</div>
</li>`,
      )}</ul>`
    : html`<p id="no-refused" class="hint">${t.noRefused}</p>`
}
</section>`;
  return adminLayout({ title: t.policy, section: 'policy', body, site: o.site, lang: o.lang });
}

import { adminLayout } from './admin-parts.js';
import type { SiteOptions } from './layout.js';
import { html } from './html.js';

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
  const body = html`
<section aria-labelledby="policy-heading">
<h2 id="policy-heading">Authenticator policy</h2>
<p class="hint">Set by Keygate's configuration (environment or CONFIG_FILE) and read at start-up; it cannot be changed here. Run <code>npm run cli -- policy</code> with a tightened configuration to see who it would refuse before you deploy it.</p>
<div class="table-scroll"><table id="policy-settings" class="admin-table policy-table">
<thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Variable</th></tr></thead>
<tbody>${o.settings.map((s) => html`<tr data-variable="${s.variable}"><td data-label="Setting">${s.setting}</td><td data-label="Value">${s.value}</td><td data-label="Variable"><code>${s.variable}</code></td></tr>`)}</tbody>
</table></div>
</section>
<section aria-labelledby="refused-heading">
<h2 id="refused-heading">Keys this policy refuses</h2>
${
  o.refused.length
    ? html`<p class="notice notice-error">${o.refused.length} active key${o.refused.length === 1 ? '' : 's'} will be refused at the next sign-in. Send these people a recovery link so they can enrol an allowed authenticator.</p>
<ul id="refused-list" class="device-list">${o.refused.map(
        (r) => html`<li class="device" data-credential-id="${r.credentialId}" data-reasons="${r.violations.map((v) => v.reason).join(' ')}">
<div class="device-name"><a href="/-/admin/users/${encodeURIComponent(r.username)}">${r.username}</a>${r.isAdmin && html` <span class="tag">Admin</span>`}: ${r.nickname}</div>
<div class="device-meta">${r.model}</div>
<div class="device-meta">${r.violations.map((v) => v.message).join(' ')}</div>
</li>`,
      )}</ul>`
    : html`<p id="no-refused" class="hint">Every active key meets this policy.</p>`
}
</section>`;
  return adminLayout({ title: 'Policy', section: 'policy', body, site: o.site });
}

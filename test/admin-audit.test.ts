/**
 * The audit log at /-/admin/audit: every column, filters by user, event and time range, and
 * keyset paging ("Older" carries before=<id>), newest first.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AUDIT_EVENT_LABELS, AUDIT_EVENTS } from '../server/audit/events.js';
import { AUDIT_PAGE_SIZE } from '../server/admin/audit-page.js';
import { BROWSER_UA, keygateWithAdmin, person, type Person } from './support/admin.js';
import type { TestKeygate } from './support/keygate.js';

/** The rows shown: audit id and event, in page order. */
const shown = (html: string) => [...html.matchAll(/<tr data-audit-id="(\d+)" data-event="([a-z_]+)"/g)].map((m) => ({ id: m[1], event: m[2] }));
const decode = (s: string) => s.replace(/&amp;/g, '&');
/** A cell's text as a person reads it. */
const text = (cell: string) =>
  decode(cell)
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();

describe('admin audit view', () => {
  let kg: TestKeygate;
  let boss: Person;
  before(async () => ({ kg, boss } = await keygateWithAdmin()));
  after(() => kg?.close());

  /** Writes an audit row as of a chosen time (inserts only: the log is append-only). */
  async function pastEvent(at: string, subject: string, event = 'sign_in', outcome = 'success'): Promise<void> {
    await kg.db.query(`INSERT INTO audit_events (at, actor, subject_username, event, outcome) VALUES ($1, 'system', $2, $3, $4)`, [
      at,
      subject,
      event,
      outcome,
    ]);
  }

  test('each row shows time, who, whom, what (by its name for people), from where (address and short browser); the rest on demand', async () => {
    const ivy = await person(kg, 'ivy');
    assert.equal((await boss.client.post(`/-/api/admin/credentials/${ivy.credentialId}/revoke`, { reason: 'lost on a train' })).status, 200);
    const { rows } = await kg.db.query(`SELECT id::text, request_id FROM audit_events WHERE event = 'credential_revoked' AND subject_username = 'ivy'`);
    const res = await boss.client.get('/-/admin/audit?user=ivy&event=credential_revoked');
    assert.equal(res.status, 200);
    const row = res.text.match(new RegExp(`<tr data-audit-id="${rows[0].id}"[^>]*>([\\s\\S]*?)</tr>`))?.[1] ?? '';
    const cells = [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => text(m[1]));
    assert.equal(cells.length, 6);
    assert.match(cells[0], /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.equal(cells[1], 'boss');
    assert.match(row, /<td data-label="By"><a href="\/-\/admin\/users\/boss">boss<\/a><\/td>/);
    assert.equal(cells[2], 'ivy');
    assert.equal(cells[3], 'Key revoked lost on a train');
    assert.match(cells[4], /^(127\.0\.0\.1|::1) Chrome 126 on Linux$/);
    // On demand: the stored event name, outcome, reason, key, full user agent, request id, details.
    const more = [...row.matchAll(/<dt>([^<]*)<\/dt><dd>([\s\S]*?)<\/dd>/g)].map((m) => [m[1], text(m[2])]);
    assert.deepEqual(more, [
      ['Event', 'credential_revoked'],
      ['Outcome', 'success'],
      ['Reason', 'lost on a train'],
      ['Key', `ivy key ${ivy.credentialId}`],
      ['User agent', BROWSER_UA],
      ['Request id', rows[0].request_id],
      ['nickname', 'ivy key'],
      ['sessionsEnded', '1'],
      ['alreadyRevoked', 'false'],
    ]);
    assert.match(row, /<details><summary>More<span class="visually-hidden"> about entry \d+<\/span><\/summary>/);
  });

  test('a failure says so next to what failed; actions by the CLI and by Keygate itself are named as such', async () => {
    await kg.db.query(`INSERT INTO audit_events (actor, subject_username, event, outcome, reason) VALUES ('cli', 'lou', 'credential_revoked', 'success', NULL),
      ('system', 'lou', 'sign_in', 'failure', 'revoked_credential')`);
    const page = await boss.client.get('/-/admin/audit?user=lou');
    const rows = [...page.text.matchAll(/<tr data-audit-id="\d+"[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
      [...m[1].matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].slice(1, 4).map((c) => text(c[1])),
    );
    assert.deepEqual(rows, [
      ['Keygate', 'lou', 'Sign-in failed revoked_credential'],
      ['Command line', 'lou', 'Key revoked'],
    ]);
  });

  test('export: every matching entry as CSV or JSON lines, formulas defused, with the same filters as the page', async () => {
    const hostile = '=HYPERLINK("http://evil.example","click")';
    await kg.db.query(
      `INSERT INTO audit_events (actor, subject_username, event, outcome, user_agent, details) VALUES ('system', 'mo', 'sign_in', 'success', $1, '{"n": 1}')`,
      [hostile],
    );
    for (let i = 0; i < 1203; i++) await pastEvent(new Date(Date.UTC(2019, 0, 1, 0, 0, i)).toISOString(), 'many');

    const page = await boss.client.get('/-/admin/audit?user=mo');
    assert.match(page.text, /<a id="audit-export-csv" href="\/-\/admin\/audit\/export\?user=mo&amp;format=csv" download>CSV<\/a>/);

    const csv = await boss.client.get('/-/admin/audit/export?user=mo&format=csv');
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="keygate-audit-\d{8}-\d{6}\.csv"$/);
    assert.equal(csv.headers.get('cache-control'), 'no-store');
    const [header, line, end] = csv.text.split('\r\n');
    assert.equal(header, 'id,at,actor,subject_user_id,subject_username,credential_id,event,outcome,reason,ip,user_agent,request_id,details');
    assert.match(line, /^\d+,\d{4}-\d\d-\d\dT[\d:.]+Z,system,,mo,,sign_in,success,,,"'=HYPERLINK\(""http:\/\/evil\.example"",""click""\)",,"\{""n"":1\}"$/);
    assert.equal(end, '');

    // More than one batch of a thousand, newest first, nothing twice, in both formats.
    const all = await boss.client.get('/-/admin/audit/export?user=many&format=jsonl');
    assert.equal(all.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    const entries = all.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(entries.length, 1203);
    assert.deepEqual(entries[0], { ...entries[0], subjectUsername: 'many', event: 'sign_in', at: '2019-01-01T00:20:02.000Z' });
    assert.equal(new Set(entries.map((e) => e.id)).size, 1203);
    assert.ok(entries.every((e, i) => i === 0 || Number(e.id) < Number(entries[i - 1].id)));
    const csvAll = await boss.client.get('/-/admin/audit/export?user=many&format=csv');
    assert.equal(csvAll.text.split('\r\n').length, 1 + 1203 + 1);

    // Only for admins, and a bad format or filter is a clear 400.
    const stranger = await person(kg, 'not_admin');
    assert.equal((await stranger.client.get('/-/admin/audit/export?format=csv')).status, 403);
    const bad = await boss.client.get('/-/admin/audit/export?format=xlsx');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /must be csv or jsonl/);
    assert.equal((await boss.client.get('/-/admin/audit/export?format=csv&from=yesterday')).status, 400);
  });

  test('the event filter offers every event Keygate writes', async () => {
    const res = await boss.client.get('/-/admin/audit');
    for (const event of AUDIT_EVENTS)
      assert.match(res.text, new RegExp(`<option value="${event}">${AUDIT_EVENT_LABELS[event].replace("'", '&#39;')}</option>`));
    // Every `event: '…'` literal in the server is one of them, so the list cannot drift silently.
    const root = fileURLToPath(new URL('../server/', import.meta.url));
    const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts'));
    const written = new Set<string>();
    for (const f of files) for (const m of (await readFile(join(root, f), 'utf8')).matchAll(/\bevent: '([a-z_]+)'/g)) written.add(m[1]);
    assert.ok(written.size >= 10, `found ${[...written]}`);
    for (const event of written) assert.ok((AUDIT_EVENTS as readonly string[]).includes(event), `${event} is missing from AUDIT_EVENTS`);
  });

  test('filters by user (any case), event and time range', async () => {
    await pastEvent('2020-01-01T10:00Z', 'jack');
    await pastEvent('2020-01-01T11:00Z', 'jack', 'sign_out');
    await pastEvent('2020-01-02T10:00Z', 'jack');
    await pastEvent('2020-01-01T10:30Z', 'kate');

    const byUser = await boss.client.get('/-/admin/audit?user=JACK');
    assert.deepEqual(
      shown(byUser.text).map((r) => r.event),
      ['sign_in', 'sign_out', 'sign_in'],
    );
    assert.match(byUser.text, /<input id="user" name="user" type="text" value="JACK"/);

    const byEvent = await boss.client.get('/-/admin/audit?user=jack&event=sign_out');
    assert.deepEqual(
      shown(byEvent.text).map((r) => r.event),
      ['sign_out'],
    );
    assert.match(byEvent.text, /<option value="sign_out" selected>/);

    const byTime = await boss.client.get('/-/admin/audit?from=2020-01-01T09:00&to=2020-01-01T12:00');
    const inRange = shown(byTime.text);
    assert.equal(inRange.length, 3, 'the three events of that morning, whoever they were about');
    assert.match(byTime.text, /<input id="from" name="from" type="datetime-local" value="2020-01-01T09:00">/);
    const zoned = await boss.client.get('/-/admin/audit?user=jack&from=2020-01-01T11:30%2B01:00&to=2020-01-03');
    assert.deepEqual(
      shown(zoned.text).map((r) => r.event),
      ['sign_in', 'sign_out'],
      'an ISO time with a zone works too',
    );
    const empty = await boss.client.get('/-/admin/audit?user=nobody');
    assert.match(empty.text, /No audit entries match these filters\./);

    for (const [query, message] of [
      ['event=made_up', /invalid “event” parameter: is not an event Keygate records/],
      ['from=yesterday', /“From” is not a time/],
      ['before=abc', /invalid “before” parameter: must be an audit entry number/],
      ['user=a&user=b', /invalid “user” parameter: give it once/],
    ] as const) {
      const res = await boss.client.get(`/-/admin/audit?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.text, message, query);
    }
  });

  test('pages back in time with before=<id>, keeping the filters', async () => {
    const total = AUDIT_PAGE_SIZE + 7;
    for (let i = 0; i < total; i++) await pastEvent(new Date(Date.UTC(2021, 0, 1, 0, i)).toISOString(), 'pager');
    const first = await boss.client.get('/-/admin/audit?user=pager&event=sign_in');
    const page1 = shown(first.text);
    assert.equal(page1.length, AUDIT_PAGE_SIZE);
    const older = first.text.match(/<a id="audit-older" href="([^"]+)"/)?.[1];
    assert.equal(decode(older ?? ''), `/-/admin/audit?user=pager&event=sign_in&before=${page1.at(-1)!.id}`);
    assert.doesNotMatch(first.text, /id="audit-newest"/);

    const second = await boss.client.get(decode(older!));
    const page2 = shown(second.text);
    assert.equal(page2.length, 7);
    assert.doesNotMatch(second.text, /id="audit-older"/, 'no empty last page');
    assert.match(second.text, /<a id="audit-newest" href="\/-\/admin\/audit\?user=pager&amp;event=sign_in">/);
    const ids = [...page1, ...page2].map((r) => Number(r.id));
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => y - x),
      'newest first, across pages',
    );
    assert.equal(new Set(ids).size, total, 'every row once');
  });
});

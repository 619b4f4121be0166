/**
 * Loaded into every test file's process (test/run.ts passes it with --import). A file that runs
 * past KEYGATE_TEST_HANG_REPORT_MS, just short of the runner's per-file timeout, writes on stderr
 * what it is waiting for: the test it is in (or the last one it finished), and every HTTP request
 * begun and not yet answered, by the servers in the process (Keygate, the fake Gogs) and by its
 * clients (fetch, node:http). The runner prints a file's stderr lines as comments of its report,
 * so a hang in CI names its step instead of only "test timed out after 120000ms".
 * In the runner's own process (no NODE_TEST_CONTEXT) it does nothing.
 */
import diagnostics from 'node:diagnostics_channel';
import { setTimeout } from 'node:timers';

const after = Number(process.env.KEYGATE_TEST_HANG_REPORT_MS);
if (process.env.NODE_TEST_CONTEXT && after > 0) {
  const { beforeEach, afterEach } = await import('node:test');
  const started = Date.now();
  const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
  let current = null;
  let last = null;
  beforeEach((t) => {
    current = { name: t.name, at: Date.now() };
  });
  afterEach((t) => {
    last = { name: t.name, at: Date.now() };
    current = null;
  });

  /** In-flight requests: the key is the request object each channel names. */
  const pending = new Map();
  const begin = (key, what) => pending.set(key, { what, at: Date.now() });
  const end = (key) => pending.delete(key);
  const on = (name, fn) => diagnostics.subscribe(name, fn);
  on('http.server.request.start', ({ request, response, server }) =>
    begin(response, `server :${server.address()?.port} answering ${request.method} ${request.url}`),
  );
  on('http.server.response.finish', ({ response }) => end(response));
  on('http.client.request.start', ({ request }) =>
    begin(request, `node:http client ${request.method} ${request.host}:${request.socket?.remotePort ?? ''}${request.path}`),
  );
  on('http.client.response.finish', ({ request }) => end(request));
  on('undici:request:create', ({ request }) => begin(request, `fetch/undici ${request.method} ${request.origin}${request.path}`));
  on('undici:request:headers', ({ request }) => end(request));
  on('undici:request:error', ({ request }) => end(request));

  const report = () => {
    const lines = [`hang report: this file has run ${since(started)}`];
    if (current) lines.push(`in test "${current.name}" for ${since(current.at)}`);
    else
      lines.push(
        last ? `between tests (a hook?): the last one, "${last.name}", ended ${since(last.at)} ago` : 'before any test ended (a hook of the first suite?)',
      );
    for (const { what, at } of pending.values()) lines.push(`waiting ${since(at)}: ${what}`);
    if (!pending.size) lines.push('no HTTP request in flight');
    lines.push(`active resources: ${process.getActiveResourcesInfo().join(', ')}`);
    process.stderr.write(lines.map((l) => `${l}\n`).join(''));
  };
  setTimeout(report, after).unref();
}

/**
 * Loaded into every test file's process (test/run.ts passes it with --import). A file that runs
 * past KEYGATE_TEST_HANG_REPORT_MS, just short of the runner's per-file timeout, writes on stderr
 * what it is waiting for: the tests running (or the last one that ended), and every HTTP request
 * begun and not yet answered, by the servers in the process (Keygate, the fake Gogs) and by its
 * clients (fetch, node:http; a node:http request is listed once its body is sent). The runner
 * prints a file's stderr lines as comments of its report, so a hang in CI names its step instead
 * of only "test timed out after 120000ms". In the runner's own process (no NODE_TEST_CONTEXT) it
 * does nothing. It only observes: nothing here may throw into a test or keep the process alive.
 */
import diagnostics from 'node:diagnostics_channel';
import { setTimeout } from 'node:timers';

const after = Number(process.env.KEYGATE_TEST_HANG_REPORT_MS);
if (process.env.NODE_TEST_CONTEXT && after > 0) {
  const { beforeEach, afterEach } = await import('node:test');
  const started = Date.now();
  const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
  /** Running tests by context (a test and its t.test() subtests may run at once). */
  const running = new Map();
  let last = null;
  beforeEach((t) => {
    running.set(t, Date.now());
  });
  afterEach((t) => {
    running.delete(t);
    last = { name: t.fullName, at: Date.now() };
  });

  /** In flight: the key is the object each channel names; the text is made when reported (a socket's port is known by then). */
  const pending = new Map();
  const begin = (key, describe) => pending.set(key, { describe, at: Date.now() });
  const end = (key) => pending.delete(key);
  const on = (name, fn) =>
    diagnostics.subscribe(name, (message) => {
      try {
        fn(message);
      } catch {
        // An observer's mistake must not become the test's uncaught exception.
      }
    });
  on('http.server.request.start', ({ request, response, server }) => {
    begin(response, () => {
      const address = server.address();
      return `server ${typeof address === 'object' && address ? `:${address.port}` : String(address)} answering ${request.method} ${request.url}`;
    });
    // A response the client went away from never finishes.
    response.once('close', () => end(response));
  });
  on('http.server.response.finish', ({ response }) => end(response));
  on('http.client.request.start', ({ request }) => {
    begin(request, () => `node:http client ${request.method} ${request.host}:${request.socket?.remotePort ?? '?'}${request.path}`);
    request.once('close', () => end(request));
  });
  on('http.client.response.finish', ({ request }) => end(request));
  on('http.client.request.error', ({ request }) => end(request));
  on('undici:request:create', ({ request }) => begin(request, () => `fetch/undici ${request.method} ${request.origin}${request.path}`));
  on('undici:request:headers', ({ request }) => end(request));
  on('undici:request:error', ({ request }) => end(request));

  const report = () => {
    const lines = [`hang report: this file has run ${since(started)}`];
    for (const [t, at] of running) lines.push(`in test "${t.fullName}" for ${since(at)}`);
    if (!running.size)
      lines.push(
        last
          ? `between tests (in a hook?): the last one, "${last.name}", ended ${since(last.at)} ago`
          : 'before any test ended (in a hook of the first suite?)',
      );
    for (const { describe, at } of pending.values()) {
      let what;
      try {
        what = describe();
      } catch (err) {
        what = `(a request: ${err instanceof Error ? err.message : String(err)})`;
      }
      lines.push(`waiting ${since(at)}: ${what}`);
    }
    if (!pending.size) lines.push('no HTTP request in flight');
    lines.push(`active resources: ${process.getActiveResourcesInfo().join(', ')}`);
    process.stderr.write(lines.map((l) => `${l}\n`).join(''));
  };
  setTimeout(report, after).unref();
}

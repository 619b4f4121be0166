// A node:test reporter that writes how long each test file took, as JSON lines
// ({"file": ..., "ms": ...}), for test/run.ts to start the slowest files first next time.
export default async function* durations(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (data.nesting !== 0 || !data.file || !data.details?.duration_ms) continue;
    yield `${JSON.stringify({ file: data.file, ms: Math.round(data.details.duration_ms) })}\n`;
  }
}

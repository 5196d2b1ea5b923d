import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { agentLogger, throttledWarn } from './log.js';

// Issue 14, fault 8: one probe run made the agent log 3,425 "malformed request" warnings.
it('logs a flood of one warning once per interval, with how many it left out', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let t = 0;
  const warn = throttledWarn(agentLogger('info', sink), 'malformed request', 10_000, () => t);
  for (let i = 0; i < 3425; i++) {
    warn({ err: 'Parse Error' });
    t += 5; // 3,425 in about 17 s
  }
  assert.deepEqual(
    lines.map((l) => [l.msg, l.err, l.suppressed]),
    [
      ['malformed request', 'Parse Error', undefined],
      ['malformed request', 'Parse Error', 1999],
    ],
  );
});

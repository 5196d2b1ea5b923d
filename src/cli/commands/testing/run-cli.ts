/**
 * The real `bin/podnet.js`, run as a user runs it, for CLI tests: exit code, stdout and stderr, and never a
 * stack trace whatever the input (every failure is a coded error).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const BIN = join(ROOT, 'bin/podnet.js');

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

export function runPodnet(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    env: { ...process.env, ...opts.env },
  });
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at .+:\d+:\d+/, 'never a stack trace');
  return { code: r.status, out: r.stdout, err: r.stderr };
}

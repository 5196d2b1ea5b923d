/**
 * The CLI as tests run it: the real `bin/podnet.js` as a user runs it (`runPodnet`), or the same program
 * in-process through `main(argv, io)` (`runMain`, for memory stores and speed). Either way: exit code, stdout
 * and stderr, and never a stack trace whatever the input (every failure is a coded error).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../main.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const BIN = join(ROOT, 'bin/podnet.js');

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

export function runPodnet(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    env: { ...process.env, ...opts.env },
  });
  return noStackTrace({ code: r.status, out: r.stdout, err: r.stderr });
}

export async function runMain(args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return noStackTrace({ code, out: out.join(''), err: err.join('') });
}

function noStackTrace(run: CliRun): CliRun {
  assert.doesNotMatch(run.err + run.out, /\n\s+at .+:\d+:\d+/, 'never a stack trace');
  return run;
}

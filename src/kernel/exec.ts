/**
 * The one place podnet starts kernel tools (`ip`, `nft`, `sysctl`-like writes through `nsenter`).
 * Everything else calls these helpers, so how a command runs, where (which network namespace) and how its
 * failure is reported is decided once.
 */
import { spawn } from 'node:child_process';
import { PodnetError } from '../errors/index.js';

export interface RunOptions {
  /** Text written to the command's standard input. */
  input?: string;
  /** Run inside this named network namespace (`/run/netns/NAME`) or netns path. */
  netns?: string;
  /** Milliseconds before the command is killed; kernel tools answer in milliseconds, so this is a guard. */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Path of a network namespace given by name (`ip netns` style) or already as a path. */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/** Runs a command and resolves with its output whatever its exit code. */
export function runRaw(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = opts.netns
    ? ['nsenter', [`--net=${netnsPath(opts.netns)}`, '--', cmd, ...args]]
    : [cmd, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(
        new PodnetError('KernelToolMissing', `cannot run ${cmd}: ${e.message}`, {
          hint: `install ${cmd === 'nft' ? 'nftables' : cmd === 'ip' ? 'iproute2' : cmd} (npm run setup does it)`,
          cause: e,
        }),
      ),
    );
    child.on('close', (code, signal) =>
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code: code ?? (signal ? 128 : 1),
      }),
    );
    child.stdin.on('error', () => {}); // a tool that exits early closes its stdin; its exit code tells the story
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command and returns stdout; a non-zero exit is a `KernelCommandFailed` error with stderr. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await runRaw(cmd, args, opts);
  if (r.code !== 0) {
    throw new PodnetError(
      'KernelCommandFailed',
      `${cmd} ${args.join(' ')}${opts.netns ? ` (in netns ${opts.netns})` : ''} failed: ${r.stderr.trim() || `exit ${r.code}`}`,
      {
        details: { cmd, args, stderr: r.stderr, exitCode: r.code },
        hint: 'see the command and its error above',
      },
    );
  }
  return r.stdout;
}

/**
 * The one place podnet starts programs: kernel tools (`ip`, `nft`, sysctl writes) and programs run inside a
 * network namespace. Everything else calls the typed helpers of `src/kernel` (the linter refuses an import of
 * this file from outside it), so how a command runs, where (which network namespace) and how its failure is
 * reported is decided once.
 */
import { spawn } from 'node:child_process';
import { PodnetError } from '../errors/index.js';
import { kernelCommandError } from './failure.js';

export interface RunOptions {
  /** Text (or bytes) written to the command's standard input. */
  input?: string | Uint8Array;
  /** Run inside this named network namespace (`/run/netns/NAME`) or netns path. */
  netns?: string;
  /**
   * Also see the namespace's own `/etc/netns/NAME/*` files (resolv.conf) over `/etc`, as `ip netns exec` gives
   * them (a private mount namespace with those files bind-mounted); a named namespace only.
   */
  netnsEtc?: boolean;
  /** Milliseconds before the command is killed; kernel tools answer in milliseconds, so this is a guard. */
  timeoutMs?: number;
  /** The whole environment of the command (default: this process's). */
  env?: Record<string, string>;
  /** Working folder of the command (default: this process's). */
  cwd?: string;
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

/**
 * `argv` prefixed so that it runs inside `netns`: nsenter enters only the network namespace; with `etc`,
 * `ip netns exec` also bind-mounts the namespace's `/etc/netns/NAME/*` files over `/etc` (what a pod's own
 * resolv.conf needs).
 */
export function inNetnsArgv(netns: string, argv: readonly string[], etc = false): string[] {
  return etc
    ? ['ip', 'netns', 'exec', netns, ...argv]
    : ['nsenter', `--net=${netnsPath(netns)}`, '--', ...argv];
}

/** The PodnetError for a program that could not be started at all. */
export function toolMissing(cmd: string, e: Error): PodnetError {
  const pkg: Record<string, string> = { nft: 'nftables', ip: 'iproute2', nsenter: 'util-linux' };
  return new PodnetError('KernelToolMissing', `cannot run ${cmd}: ${e.message}`, {
    hint: `install ${pkg[cmd] ?? cmd} (npm run setup does it)`,
    cause: e,
  });
}

/** Runs a command and resolves with its output whatever its exit code. */
export function runRaw(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...argv] = opts.netns
    ? inNetnsArgv(opts.netns, [cmd, ...args], opts.netnsEtc)
    : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(toolMissing(cmd, e)));
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

/** Runs a command and returns stdout; a non-zero exit is a typed error (see failure.ts) with stderr. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await runRaw(cmd, args, opts);
  if (r.code !== 0) throw kernelCommandError(cmd, args, r, opts.netns);
  return r.stdout;
}

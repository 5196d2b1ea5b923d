/**
 * Programs run inside a network namespace (probes, listeners, a pod's responder, a test's helper) and the
 * daemons podnet starts (the lab's agents, fabric router and etcd). One place decides how they are entered
 * (`nsenter --net`, network namespace only) and how a missing namespace is reported (`NetnsNotFound`).
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { PodnetError } from '../errors/index.js';
import { type RunResult, inNetnsArgv, netnsPath, runRaw, toolMissing } from './exec.js';
import { netnsExists } from './netns.js';

export { inNetnsArgv } from './exec.js';

/** What a program printed and how it exited. */
export type ProgramResult = RunResult;

/** A program started with `spawnInNetns`. */
export type NetnsProcess = ChildProcess;

export interface ExecOptions {
  /** Text (or bytes) written to the program's standard input. */
  input?: string | Uint8Array;
  /** Milliseconds before the program is killed (default 60 s). */
  timeoutMs?: number;
  /** The program's whole environment (default: this process's). */
  env?: Record<string, string>;
  /** The program's working folder (default: this process's). */
  cwd?: string;
  /** Also see the namespace's `/etc/netns/NAME/*` files (its resolv.conf) as `ip netns exec` gives them. */
  netnsEtc?: boolean;
}

function requireExisting(netns: string): void {
  if (!netnsExists(netns)) {
    throw new PodnetError('NetnsNotFound', `network namespace ${netnsPath(netns)} does not exist`, {
      field: 'netns',
      hint: 'check the network namespace (ip netns list); it may have been deleted meanwhile',
    });
  }
}

/**
 * Runs `argv` inside `netns` (or in this process's namespace when null) and collects its output; resolves
 * whatever the exit code, which is the program's own answer (a refused connection, a failed CNI call).
 */
export async function execInNetns(
  netns: string | null,
  argv: readonly string[],
  opts: ExecOptions = {},
): Promise<ProgramResult> {
  if (netns !== null) requireExisting(netns);
  const [cmd, ...args] = argv;
  return runRaw(cmd, args, { ...opts, ...(netns === null ? {} : { netns }) });
}

/**
 * Starts a long-running program inside `netns` (a listener, a holder process); the caller owns it and
 * stops it. `stdio` as node's spawn takes it: piped by default.
 */
export function spawnInNetns(
  netns: string,
  argv: readonly string[],
  opts: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv; netnsEtc?: boolean } = {},
): NetnsProcess {
  requireExisting(netns);
  const [file, ...args] = inNetnsArgv(netns, argv, opts.netnsEtc);
  const child = spawn(file, args, { stdio: opts.stdio ?? 'pipe', ...(opts.env ? { env: opts.env } : {}) });
  child.on('error', () => {}); // nsenter missing: the child's exit (code null) tells the caller
  return child;
}

/** The exit code of a program started here (128 when a signal ended it); `KernelToolMissing` if none ran. */
export function exitCodeOf(child: NetnsProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(toolMissing('nsenter', e)));
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

/** Runs `argv` in `netns` with the terminal attached (`lab exec`); resolves with its exit code. */
export function execAttached(
  netns: string,
  argv: readonly string[],
  opts: { netnsEtc?: boolean } = {},
): Promise<number> {
  return exitCodeOf(spawnInNetns(netns, argv, { stdio: 'inherit', ...opts }));
}

/**
 * Starts a daemon detached in its own session, output appended to `logFile`, inside `netns` when given (the
 * nsenter execs the daemon, so the returned pid is the daemon itself); returns its pid.
 */
export function spawnDaemon(
  argv: readonly string[],
  opts: { logFile: string; cwd?: string; netns?: string },
): number {
  if (opts.netns) requireExisting(opts.netns);
  const [file, ...args] = opts.netns ? inNetnsArgv(opts.netns, argv) : argv;
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd });
    child.on('error', () => {}); // reported below: no pid
    if (child.pid === undefined) throw new PodnetError('LabSpawnFailed', `could not start ${argv.join(' ')}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

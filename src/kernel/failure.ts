/**
 * What a failed kernel tool said, decided once: `ip`, `nft` and `nsenter` report failures only as text on
 * stderr, so this is the one place that reads that text. Callers get a typed PodnetError (its own code for
 * the failures they act on) and the facts as data (`batchLine`, `errno`), never the text to match.
 */
import { PodnetError } from '../errors/index.js';

/** The failures callers act on, each with its own stable code; anything else is `KernelCommandFailed`. */
export type KernelFailureCode =
  | 'LinkNotFound'
  | 'NetnsNotFound'
  | 'RouteTableNotFound'
  | 'NftTableNotFound'
  | 'KernelCommandFailed';

export interface KernelFailure {
  code: KernelFailureCode;
  /** The errno the kernel answered, from its strerror text (`EEXIST` for "File exists"), when one is shown. */
  errno?: string;
  /** The 1-based line of an `ip -batch` / `nft -f` input that failed (first one), 0 when not a batch. */
  batchLine: number;
}

/** strerror texts the kernel tools print, as errno names (Linux, glibc wording). */
const ERRNO_TEXT: [RegExp, string][] = [
  [/File exists/, 'EEXIST'],
  [/No such file or directory/, 'ENOENT'],
  [/No such device|Cannot find device|Device "[^"]*" does not exist/, 'ENODEV'],
  [/No such process/, 'ESRCH'],
  [/Operation not permitted/, 'EPERM'],
  [/Permission denied/, 'EACCES'],
  [/Invalid argument/, 'EINVAL'],
  [/Device or resource busy/, 'EBUSY'],
  [/Network is unreachable/, 'ENETUNREACH'],
];

/**
 * Reads a kernel tool's stderr. Namespace first: `ip -n X` and `nsenter --net=X` name the namespace they
 * could not open, and that "No such file" is about the namespace, not about the object asked for.
 */
export function classifyKernelFailure(stderr: string): KernelFailure {
  const line = /Command failed -:(\d+)|^(?:-|\/dev\/stdin):(\d+):/m.exec(stderr);
  const batchLine = line ? Number(line[1] ?? line[2]) : 0;
  const errno = ERRNO_TEXT.find(([re]) => re.test(stderr))?.[1];
  const base = { batchLine, ...(errno ? { errno } : {}) };
  if (/Cannot open network namespace|nsenter: cannot open|Invalid netns value/.test(stderr))
    return { code: 'NetnsNotFound', ...base };
  if (/Cannot find device|Device "[^"]*" does not exist|No such device/.test(stderr))
    return { code: 'LinkNotFound', ...base };
  if (/FIB table does not exist/.test(stderr)) return { code: 'RouteTableNotFound', ...base };
  if (/^(list|delete|flush) table /m.test(stderr) && errno === 'ENOENT')
    return { code: 'NftTableNotFound', ...base };
  return { code: 'KernelCommandFailed', ...base };
}

/** An object that is not there: what a removal of it may meet without failing. */
const MISSING = /No such file or directory|No such process|Cannot find device|does not exist/;

/**
 * True when every line a forced (`ip -force -batch`) run reports as failed removes something (`del`,
 * `delete`, `flush`) that was already gone. `ip` prints each failure's message, then `Command failed -:N`.
 */
export function onlyMissingRemovals(lines: readonly string[], stderr: string): boolean {
  const chunks = stderr.split(/^Command failed -:(\d+)\n?/m);
  // split with a capture group: [message, line, message, line, ..., trailing text]
  if (chunks.length < 3 || chunks[chunks.length - 1].trim() !== '') return false;
  for (let i = 0; i + 1 < chunks.length; i += 2) {
    const line = lines[Number(chunks[i + 1]) - 1] ?? '';
    const removal = /^\S+ (del|delete|flush)\b/.test(line);
    if (!removal || !MISSING.test(chunks[i])) return false;
  }
  return true;
}

const HINTS: Record<KernelFailureCode, string> = {
  LinkNotFound: 'check the interface name (ip link show)',
  NetnsNotFound: 'check the network namespace (ip netns list); it may have been deleted meanwhile',
  RouteTableNotFound: 'the routing table holds no route yet',
  NftTableNotFound: 'the nftables table does not exist (nft list tables)',
  KernelCommandFailed: 'see the command and its error above',
};

/** The PodnetError for a failed kernel command; `details` keeps the command, stderr and the parsed facts. */
export function kernelCommandError(
  cmd: string,
  args: string[],
  r: { stderr: string; code: number },
  netns?: string,
): PodnetError {
  const f = classifyKernelFailure(r.stderr);
  return new PodnetError(
    f.code,
    `${cmd} ${args.join(' ')}${netns ? ` (in netns ${netns})` : ''} failed: ${r.stderr.trim() || `exit ${r.code}`}`,
    {
      details: { cmd, args, stderr: r.stderr, exitCode: r.code, batchLine: f.batchLine, errno: f.errno },
      hint: HINTS[f.code],
    },
  );
}

/** The parsed facts of a kernel command failure thrown by this module, or null for any other error. */
export function kernelFailureOf(e: unknown): KernelFailure | null {
  if (!(e instanceof PodnetError) || !(e.code in HINTS) || e.details?.cmd === undefined) return null;
  return {
    code: e.code as KernelFailureCode,
    batchLine: Number(e.details.batchLine ?? 0),
    ...(typeof e.details.errno === 'string' ? { errno: e.details.errno } : {}),
  };
}

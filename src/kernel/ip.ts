/**
 * `ip` (iproute2) helpers: one `ip -batch -` per change, `ip -json` to read. A namespace given as a name or
 * as `/run/netns/NAME` is entered with `ip -n NAME` (setns inside the same process, no extra exec); any other
 * path (e.g. `/proc/PID/ns/net`, which a runtime may pass as CNI_NETNS) goes through `nsenter --net=PATH`.
 */
import { run, runRaw } from './exec.js';
import { kernelCommandError, kernelFailureOf, onlyMissingRemovals } from './failure.js';

/** How `ip` reaches a namespace: `ip -n NAME` args, or an nsenter path for `run`. */
function ipTarget(netns: string | undefined): { args: string[]; netns?: string } {
  if (!netns) return { args: [] };
  const m = /^(?:\/run\/netns\/)?([^/]+)$/.exec(netns);
  return m ? { args: ['-n', m[1]] } : { args: [], netns };
}

export interface IpBatchOptions {
  /** Go on past a failing line (`ip -force`); the failure is still reported, for the first failing line. */
  force?: boolean;
  /**
   * With `force`: lines that fail only because their object is already gone (a rule, route, link or table
   * to delete) are fine. For idempotent removal; any other failure is still an error.
   */
  ignoreMissing?: boolean;
  /** `ip -6`: for the commands whose family is not in their arguments (`rule`, `route flush`). */
  family?: 4 | 6;
}

/**
 * Applies commands (one per line, `ip` syntax without the leading `ip`) in one exec. Without `force`, ip stops
 * at the first failing line, and the error's `batchLine` (kernelFailureOf) says which; the caller undoes what
 * it owns.
 */
export async function ipBatch(lines: string[], netns?: string, opts: IpBatchOptions = {}): Promise<void> {
  if (lines.length === 0) return;
  const t = ipTarget(netns);
  const args = [
    ...t.args,
    ...(opts.family === 6 ? ['-6'] : []),
    ...(opts.force ? ['-force'] : []),
    '-batch',
    '-',
  ];
  const r = await runRaw('ip', args, { netns: t.netns, input: `${lines.join('\n')}\n` });
  if (r.code === 0) return;
  const err = kernelCommandError('ip', args, r, netns);
  if (
    opts.force &&
    opts.ignoreMissing &&
    err.code !== 'NetnsNotFound' &&
    onlyMissingRemovals(lines, r.stderr)
  )
    return;
  throw err;
}

/** Reads `ip -json ARGS`; empty output (nothing matched) is an empty list. */
export async function ipJson<T>(args: string[], netns?: string): Promise<T[]> {
  const t = ipTarget(netns);
  const out = await run('ip', [...t.args, '-json', ...args], { netns: t.netns });
  return out.trim() === '' ? [] : (JSON.parse(out) as T[]);
}

/**
 * `ip [-n NS] ARGS` as a person reads it (`['rule', 'show']`): for messages, and for tests that compare a
 * namespace before and after. Code that decides reads `ipJson` or the typed helpers below.
 */
export function ipShow(args: string[], netns?: string): Promise<string> {
  const t = ipTarget(netns);
  return run('ip', [...t.args, ...args], { netns: t.netns });
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  address?: string;
  mtu: number;
  flags: string[];
  operstate?: string;
  ifalias?: string;
  link_type?: string;
}

/** The namespace's links (`ip -json link show [ARGS]`, e.g. `['type', 'veth']`). */
export function listLinks(netns?: string, args: string[] = []): Promise<IpLink[]> {
  return ipJson<IpLink>(['link', 'show', ...args], netns);
}

/** One link by name, or null when there is none (a typed `LinkNotFound`, not an error, here). */
export async function getLink(name: string, netns?: string): Promise<IpLink | null> {
  try {
    const [link] = await ipJson<IpLink>(['link', 'show', 'dev', name], netns);
    return link ?? null;
  } catch (e) {
    if (kernelFailureOf(e)?.code === 'LinkNotFound') return null;
    throw e;
  }
}

/** Deletes a link; a link that does not exist is fine (returns false). */
export async function deleteLinkIfExists(name: string, netns?: string): Promise<boolean> {
  try {
    await ipBatch([`link del dev ${name}`], netns);
    return true;
  } catch (e) {
    if (kernelFailureOf(e)?.code === 'LinkNotFound') return false;
    throw e;
  }
}

export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
}

/**
 * Routes of `ip -json [-4|-6] route show ARGS` (e.g. `['table', '100', 'proto', '147']`). A routing table that
 * holds no route does not exist in the kernel: that is an empty list, not an error.
 */
export async function listRoutes(args: string[], netns?: string, family?: 4 | 6): Promise<IpRoute[]> {
  try {
    return await ipJson<IpRoute>([...(family ? [`-${family}`] : []), 'route', 'show', ...args], netns);
  } catch (e) {
    if (kernelFailureOf(e)?.code === 'RouteTableNotFound') return [];
    throw e;
  }
}

export interface IpRule {
  priority: number;
  table?: string;
  iif?: string;
  src?: string;
}

/** The policy routing rules (`ip -json rule show`). */
export function listRules(netns?: string, family?: 4 | 6): Promise<IpRule[]> {
  return ipJson<IpRule>([...(family ? [`-${family}`] : []), 'rule', 'show'], netns);
}

/** Interfaces with their addresses (`ip -json addr show`). */
export interface IpAddrLink {
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

export function listAddrs(netns?: string, args: string[] = []): Promise<IpAddrLink[]> {
  return ipJson<IpAddrLink>(['addr', 'show', ...args], netns);
}

/** MTU of the interface holding the default route (the node's uplink); 1500 when there is none. */
export async function uplinkMtu(netns?: string): Promise<number> {
  const routes = await listRoutes(['default'], netns);
  const dev = routes.find((r) => r.dev)?.dev;
  if (!dev) return 1500;
  return (await getLink(dev, netns))?.mtu ?? 1500;
}

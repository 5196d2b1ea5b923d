/**
 * `ip` (iproute2) helpers: one `ip -batch -` per change, `ip -json` to read. A namespace given as a name or
 * as `/run/netns/NAME` is entered with `ip -n NAME` (setns inside the same process, no extra exec); any other
 * path (e.g. `/proc/PID/ns/net`, which a runtime may pass as CNI_NETNS) goes through `nsenter --net=PATH`.
 */
import { writeFile } from 'node:fs/promises';
import { type RunResult, run, runRaw } from './exec.js';

/** How `ip` reaches a namespace: `ip -n NAME` args, or an nsenter path for `run`. */
function ipTarget(netns: string | undefined): { args: string[]; netns?: string } {
  if (!netns) return { args: [] };
  const m = /^(?:\/run\/netns\/)?([^/]+)$/.exec(netns);
  return m ? { args: ['-n', m[1]] } : { args: [], netns };
}

/** Runs `ip [-n NS] ARGS`, resolving with the raw result whatever the exit code. */
export function ipRaw(args: string[], netns?: string): Promise<RunResult> {
  const t = ipTarget(netns);
  return runRaw('ip', [...t.args, ...args], { netns: t.netns });
}

/**
 * Applies commands (one per line, `ip` syntax without the leading `ip`) in one exec. Without `force`, ip stops
 * at the first failing line; the caller undoes what it owns.
 */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const t = ipTarget(netns);
  await run('ip', [...t.args, '-batch', '-'], { netns: t.netns, input: `${lines.join('\n')}\n` });
}

/** Reads `ip -json ARGS`; empty output (nothing matched) is an empty list. */
export async function ipJson<T>(args: string[], netns?: string): Promise<T[]> {
  const t = ipTarget(netns);
  const out = await run('ip', [...t.args, '-json', ...args], { netns: t.netns });
  return out.trim() === '' ? [] : (JSON.parse(out) as T[]);
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

/** Deletes a link; a link that does not exist is fine (returns false). */
export async function deleteLinkIfExists(name: string, netns?: string): Promise<boolean> {
  const r = await ipRaw(['link', 'del', 'dev', name], netns);
  if (r.code === 0) return true;
  if (/Cannot find device|does not exist|No such device/i.test(r.stderr)) return false;
  throw new Error(`ip link del ${name} failed: ${r.stderr.trim()}`);
}

/**
 * Writes a per-interface sysctl such as `net/ipv4/conf/<if>/proxy_arp`. /proc/sys/net shows the network
 * namespace of the process that opens it, so inside the node's namespace a plain write suffices; for another
 * namespace it is written from a shell entered into it.
 */
export async function writeNetSysctl(key: string, value: string, netns?: string): Promise<void> {
  const path = `/proc/sys/${key}`;
  if (!netns) {
    await writeFile(path, value);
    return;
  }
  await run('sh', ['-c', 'printf %s "$1" > "$2"', 'sh', value, path], {
    netns: netns.includes('/') ? netns : `/run/netns/${netns}`,
  });
}

/** MTU of the interface holding the default route (the node's uplink); 1500 when there is none. */
export async function uplinkMtu(netns?: string): Promise<number> {
  const routes = await ipJson<{ dev?: string }>(['route', 'show', 'default'], netns);
  const dev = routes.find((r) => r.dev)?.dev;
  if (!dev) return 1500;
  const [link] = await ipJson<IpLink>(['link', 'show', 'dev', dev], netns);
  return link?.mtu ?? 1500;
}

/** Named network namespaces (`ip netns`), the unit of isolation for nodes, pods and the lab's VNet. */
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodnetError } from '../errors/index.js';
import { netnsPath, run } from './exec.js';

export { netnsPath } from './exec.js';

export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  // Loopback up: pods and nodes expect it, and probes to local addresses use it.
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Where `ip netns exec NAME` finds the files it bind-mounts over `/etc` (ip-netns(8)). */
export const netnsEtcDir = (name: string) => join('/etc/netns', name);

/** Writes one of the namespace's own `/etc` files (e.g. resolv.conf), seen by programs run with `netnsEtc`. */
export function writeNetnsEtcFile(name: string, file: string, text: string): void {
  mkdirSync(netnsEtcDir(name), { recursive: true });
  writeFileSync(join(netnsEtcDir(name), file), text);
}

/**
 * Deletes a namespace and its `/etc/netns/NAME` files (ip does not); a namespace that is already gone is fine
 * (idempotent).
 */
export async function deleteNetns(name: string): Promise<void> {
  if (!name.includes('/')) rmSync(netnsEtcDir(name), { recursive: true, force: true });
  if (!existsSync(netnsPath(name))) return;
  try {
    await run('ip', ['netns', 'delete', name]);
  } catch (e) {
    // Someone else (a parallel `down`) may have deleted it between the check and the delete.
    if (existsSync(netnsPath(name))) throw e;
  }
}

export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['-json', 'netns', 'list']);
  if (out.trim() === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** True when the namespace (a name, or a netns path such as /proc/PID/ns/net) exists. */
export function netnsExists(netns: string): boolean {
  return existsSync(netnsPath(netns));
}

/** The magic number of nsfs, the file system of namespace files (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;

/**
 * What a path given as a namespace file is: a namespace file (a bind mount under /run/netns, /proc/PID/ns/net),
 * something else (a regular file, a directory, /dev/null: setns(2) would fail with EINVAL), or nothing.
 */
export function namespaceFileKind(path: string): 'namespace' | 'other' | 'missing' {
  try {
    return statfsSync(path).type === NSFS_MAGIC ? 'namespace' : 'other';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'other';
  }
}

/** Refuses a namespace name that does not exist, naming the flag it came from. */
export function requireNetns(name: string, field = '--netns'): void {
  if (!netnsExists(name)) {
    throw new PodnetError('UnknownNetns', `network namespace "${name}" does not exist`, {
      field,
      hint: 'create it first (ip netns add NAME) or check `ip netns list`',
    });
  }
}

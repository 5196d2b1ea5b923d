/** Named network namespaces (`ip netns`), the unit of isolation for nodes, pods and the lab's VNet. */
import { existsSync, statfsSync } from 'node:fs';
import { PodnetError } from '../errors/index.js';
import { netnsPath, run } from './exec.js';

export { netnsPath } from './exec.js';

export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  // Loopback up: pods and nodes expect it, and probes to local addresses use it.
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; a namespace that is already gone is fine (idempotent). */
export async function deleteNetns(name: string): Promise<void> {
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

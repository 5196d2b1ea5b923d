/**
 * Kernel parameters under /proc/sys. /proc/sys/net shows the network namespace of the process that opens it:
 * in this process's namespace a plain file read or write does it; for another namespace a tiny program
 * (`cat`, `tee`, no shell) opens it from inside that namespace. No `sysctl` binary: procps is not on every
 * fresh machine.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { PodnetError } from '../errors/index.js';
import { run } from './exec.js';

/** A key in /proc/sys form, e.g. `net/ipv4/conf/eth0.100/proxy_arp` (slashes: an interface name may hold dots). */
const KEY = /^[a-z0-9_]+(\/[A-Za-z0-9_.@:-]+)+$/;

function sysctlPath(key: string): string {
  if (!KEY.test(key) || key.split('/').some((p) => p === '.' || p === '..')) {
    throw new PodnetError('InvalidSysctlKey', `"${key}" is not a /proc/sys key such as net/ipv4/ip_forward`, {
      field: 'key',
      hint: 'write the key with slashes, relative to /proc/sys',
    });
  }
  return `/proc/sys/${key}`;
}

/** Writes `value` to the key, in `netns` when given (a name or a netns path). */
export async function writeSysctl(key: string, value: string, netns?: string): Promise<void> {
  const path = sysctlPath(key);
  if (!netns) await writeFile(path, value);
  else await run('tee', [path], { netns, input: value });
}

/** The key's value, trimmed. */
export async function readSysctl(key: string, netns?: string): Promise<string> {
  const path = sysctlPath(key);
  return (netns ? await run('cat', [path], { netns }) : await readFile(path, 'utf8')).trim();
}

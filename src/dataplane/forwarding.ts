/**
 * IPv4 forwarding in the node's network namespace: the node routes every pod packet (there is no bridge).
 * /proc/sys/net belongs to the network namespace of the process that opens it: the agent (re-executed inside
 * the node's namespace under --netns) writes it directly; for another namespace a shell is run inside it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { run } from '../kernel/exec.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** Turns IPv4 forwarding on; returns true when it had to (it was off: a drift or a fresh node). */
export async function ensureIpForwarding(opts: { netns?: string } = {}): Promise<boolean> {
  if (opts.netns) {
    const out = await run(
      'sh',
      ['-c', `cat ${IP_FORWARD}; [ "$(cat ${IP_FORWARD})" = 1 ] || echo 1 > ${IP_FORWARD}`],
      opts,
    );
    return out.trim() !== '1';
  }
  if ((await readFile(IP_FORWARD, 'utf8')).trim() === '1') return false;
  await writeFile(IP_FORWARD, '1\n');
  return true;
}

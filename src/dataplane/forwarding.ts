/**
 * IPv4 forwarding in the node's network namespace: the node routes every pod packet (there is no bridge).
 * The agent (re-executed inside the node's namespace under --netns) reads and writes it directly; for another
 * namespace the kernel layer does it from inside that namespace.
 */
import { readSysctl, writeSysctl } from '../kernel/sysctl.js';

const IP_FORWARD = 'net/ipv4/ip_forward';

/** Turns IPv4 forwarding on; returns true when it had to (it was off: a drift or a fresh node). */
export async function ensureIpForwarding(opts: { netns?: string } = {}): Promise<boolean> {
  if ((await readSysctl(IP_FORWARD, opts.netns)) === '1') return false;
  await writeSysctl(IP_FORWARD, '1', opts.netns);
  return true;
}

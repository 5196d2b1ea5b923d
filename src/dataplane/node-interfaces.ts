/**
 * What the node is attached to, read from the kernel: its interfaces, their MTU and global addresses. Direct
 * routes go only to peers on a subnet the node has an address in; pods take the MTU of the node's uplink.
 */
import { cidrOf, formatCidr, parseIp } from '../addr/index.js';
import { type IpAddrLink, listAddrs } from '../kernel/ip.js';
import { HOST_VETH_PREFIX } from './pod-network.js';

export interface NodeInterface {
  ifname: string;
  mtu: number;
  /** Global-scope addresses as `ip/prefix` (host bits kept). */
  addrs: { ip: string; prefix: number }[];
}

/** Reads `ip -json addr show` rows; loopback, pod veths and non-global addresses are left out. */
export function parseNodeInterfaces(links: readonly IpAddrLink[]): NodeInterface[] {
  return links
    .filter((l) => l.ifname !== 'lo' && !l.ifname.startsWith(HOST_VETH_PREFIX))
    .map((l) => ({
      ifname: l.ifname,
      mtu: l.mtu,
      addrs: (l.addr_info ?? [])
        .filter((a) => a.scope === 'global' && (a.family === 'inet' || a.family === 'inet6'))
        .map((a) => ({ ip: a.local, prefix: a.prefixlen })),
    }));
}

/** The subnets (network CIDRs) the node has an address in. */
export function attachedSubnets(ifaces: NodeInterface[]): string[] {
  const out = new Set<string>();
  for (const i of ifaces) {
    for (const a of i.addrs) {
      const ip = parseIp(a.ip);
      out.add(formatCidr(cidrOf(ip.family, ip.value, a.prefix)));
    }
  }
  return [...out].sort();
}

/** The interface holding the node IP (the uplink), or null when no interface has it. */
export function uplinkOf(ifaces: NodeInterface[], nodeIp: string): NodeInterface | null {
  return ifaces.find((i) => i.addrs.some((a) => a.ip === nodeIp)) ?? null;
}

export async function readNodeInterfaces(opts: { netns?: string } = {}): Promise<NodeInterface[]> {
  return parseNodeInterfaces(await listAddrs(opts.netns));
}

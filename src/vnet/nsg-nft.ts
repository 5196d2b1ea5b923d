/**
 * NSG enforcement in the VNet: one cluster's NSGs compiled into one nftables table in the VNet namespace, from
 * the NSG engine's own data (src/nsg: the parsed rules with their defaults, the service tags of tags.ts), so
 * the kernel and `podnet trace` cannot disagree on what a rule means.
 *
 * Every packet the VNet carries meets the table's forward chain: routed between subnets and to the outside
 * hosts, and bridged inside a subnet, which the kernel's bridge netfilter (`bridge-nf-call-iptables` and
 * `-ip6tables`, on in the VNet namespace) hands to the same inet forward hook. The bridge family itself cannot
 * be stateful on kernels without nf_conntrack_bridge, and NSGs are stateful, hence the one inet chain for both.
 *
 *   ct state established,related accept      replies, and connections admitted before a rule change
 *   ip saddr vmap @src_nic                   NIC of the sender, Outbound   (NIC first, then subnet: Azure)
 *   ip saddr vmap @src_subnet                subnet of the sender, Outbound
 *   ip daddr vmap @dst_subnet                subnet of the receiver, Inbound (subnet first, then NIC)
 *   ip daddr vmap @dst_nic                   NIC of the receiver, Inbound
 *
 * Each map sends the address to the chain of the NSG associated there; that chain holds the NSG's rules of
 * that direction by priority, lowest first, the first match deciding: an Allow returns (the next NSG on the
 * path decides next), a Deny drops. A pod counts as its node's NIC and subnet (as in trace): the maps hold
 * each node's address and its pod blocks. Platform addresses (168.63.129.16, 169.254.169.254) are decided only
 * by rules naming the platform tags, as src/nsg/evaluate.ts decides them.
 *
 * A dual-stack cluster gets the IPv6 twin of every map (`src_nic_v6`, ...: a map holds one address type) and
 * each rule once per family it can match, in the same chain: a rule of one family never matches a packet of
 * the other, so priority order holds in each. `Icmp` is ICMPv6 for IPv6 packets, as trace's packets are ICMP in
 * either family. Neighbour discovery passes before any NSG rule: it is IPv6's ARP, link-local and never NSG
 * business, and without it no IPv6 address in a subnet resolves.
 */
import {
  type Family,
  containsIp,
  formatCidr,
  formatIp,
  outermostCidrs,
  parseCidr,
  parseIp,
} from '../addr/index.js';
import { NFT_IP } from '../dataplane/nft-table.js';
import { prefixCidr } from '../nsg/evaluate.js';
import { PLATFORM_ADDRESSES, PLATFORM_TAGS, tagCidrs } from '../nsg/tags.js';
import type { Nic, Nsg, NsgAddress, NsgDirection, NsgRule, TagContext } from '../nsg/types.js';

export interface VnetNsgInput {
  cluster: string;
  nsgs: Nsg[];
  nics: Nic[];
  /** The cluster's subnets (profile names) and their prefixes: IPv4, and IPv6 in a dual-stack VNet. */
  subnets: { name: string; cidrs: string[] }[];
  /** Which blocks each node holds (the leases, both families): a pod's packets count as its node's. */
  blocks: { node: string; nodeIp: string; block: string }[];
  tags: TagContext;
  /**
   * The cluster's load balancer frontends (IPv4, and IPv6 when dual-stack): with floating IP a packet to one
   * reaches its node with the frontend as destination, and meets that node's subnet and NIC NSGs (chosen by the
   * route's next hop).
   */
  frontends?: { cidr: string; cidr6?: string };
}

/** The table of one cluster's NSGs in the VNet namespace. */
export function vnetNsgTable(cluster: string): { family: 'inet'; name: string } {
  return { family: 'inet', name: `podnet_nsg_${cluster}` };
}

const familyOf = (text: string): Family => (text.includes(':') ? 6 : 4);
const inCidr = (cidr: string, ip: string) => {
  const c = parseCidr(cidr);
  const a = parseIp(ip);
  return c.family === a.family && containsIp(c, a);
};

/** One family's prefixes as one nft set literal of disjoint CIDRs (nested ones would conflict in an interval set). */
function familySet(prefixes: string[], family: Family): string | null {
  const cidrs = prefixes.filter((p) => familyOf(p) === family).map((p) => prefixCidr(p, family));
  if (cidrs.length === 0) return null;
  return `{ ${outermostCidrs(cidrs).map(formatCidr).join(', ')} }`;
}

/** One side of a rule as an nft match, '' for any, or null when it can match no packet of the family. */
function addressMatch(
  a: NsgAddress,
  side: 'saddr' | 'daddr',
  tags: TagContext,
  family: Family,
): string | null {
  if ('any' in a) return '';
  if ('tag' in a) {
    if (a.tag === 'Internet') {
      const vnet = familySet(tagCidrs('VirtualNetwork', tags), family);
      return vnet ? `${NFT_IP[family]} ${side} != ${vnet}` : `meta nfproto ${family === 4 ? 'ipv4' : 'ipv6'}`;
    }
    const set = familySet(tagCidrs(a.tag, tags), family);
    return set ? `${NFT_IP[family]} ${side} ${set}` : null;
  }
  const set = familySet(a.prefixes, family);
  return set ? `${NFT_IP[family]} ${side} ${set}` : null;
}

const PROTO: Record<NsgRule['protocol'], string | null> = {
  Tcp: 'tcp',
  Udp: 'udp',
  Icmp: 'icmp',
  Esp: 'esp',
  Ah: 'ah',
  '*': null,
};

const ports = (ranges: [number, number][]) =>
  `{ ${ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ')} }`;

/**
 * One NSG rule as one nft rule for the packets of one family (IPv4 unless given), or null when it cannot match
 * one (e.g. a rule of IPv6 prefixes only, for IPv4).
 */
export function renderNsgRule(r: NsgRule, tags: TagContext, family: Family = 4): string | null {
  const parts: string[] = [];
  const hasPorts = r.sourcePorts.length > 0 || r.destinationPorts.length > 0;
  const proto = r.protocol === 'Icmp' && family === 6 ? 'icmpv6' : PROTO[r.protocol];
  if (hasPorts) {
    // Only TCP, UDP and SCTP carry ports: a port-bound rule never matches ICMP (evaluate.ts: ruleMatches).
    if (proto === null) parts.push('meta l4proto { tcp, udp, sctp }');
    else if (proto === 'tcp' || proto === 'udp') parts.push(`meta l4proto ${proto}`);
    else return null;
    if (r.sourcePorts.length > 0) parts.push(`th sport ${ports(r.sourcePorts)}`);
    if (r.destinationPorts.length > 0) parts.push(`th dport ${ports(r.destinationPorts)}`);
  } else if (proto !== null) parts.push(`meta l4proto ${proto}`);
  const src = addressMatch(r.source, 'saddr', tags, family);
  const dst = addressMatch(r.destination, 'daddr', tags, family);
  if (src === null || dst === null) return null;
  // Both sides `Internet` would say the family twice.
  parts.push(...new Set([src, dst]));
  const verdict = r.access === 'Allow' ? 'return' : 'drop';
  return [...parts.filter((p) => p !== ''), 'counter', verdict, `comment "${r.name} ${r.priority}"`].join(
    ' ',
  );
}

/** A rule's lines for the cluster's families: one when they read the same (no address, no ICMP), else one each. */
function renderNsgRuleLines(r: NsgRule, tags: TagContext, families: Family[]): string[] {
  const lines = families.map((f) => renderNsgRule(r, tags, f)).filter((l): l is string => l !== null);
  return [...new Set(lines)];
}

const byPriority = (a: NsgRule, b: NsgRule) => a.priority - b.priority;

const platformTagged = (r: NsgRule, direction: NsgDirection) => {
  const side = direction === 'Outbound' ? r.destination : r.source;
  return 'tag' in side && PLATFORM_TAGS.includes(side.tag);
};

/** The chains of one NSG in one direction: its rules by priority, and the platform addresses' own chain. */
function nsgChains(
  nsg: Nsg,
  i: number,
  direction: NsgDirection,
  tags: TagContext,
  families: Family[],
): string[] {
  const name = `nsg${i}_${direction === 'Inbound' ? 'in' : 'out'}`;
  const rules = nsg.rules.filter((r) => r.direction === direction).sort(byPriority);
  const render = (rs: NsgRule[]) =>
    rs.flatMap((r) => renderNsgRuleLines(r, tags, families).map((line) => `    ${line}`));
  const peer = direction === 'Outbound' ? 'daddr' : 'saddr';
  return [
    `  chain ${name} {`,
    `    comment "NSG ${nsg.name} ${direction}"`,
    `    ip ${peer} { ${PLATFORM_ADDRESSES.join(', ')} } goto ${name}_platform`,
    ...render(rules.filter((r) => !platformTagged(r, direction))),
    '  }',
    `  chain ${name}_platform {`,
    `    comment "NSG ${nsg.name} ${direction}: platform traffic, not filtered unless a rule names its tags"`,
    ...render(rules.filter((r) => platformTagged(r, direction))),
    '  }',
  ];
}

type Member = { cidr: string; nsg: number };

/** One family's map elements `CIDR : jump CHAIN`, first association winning for an address (as trace's lookup does). */
function mapElements(members: Member[], dir: 'in' | 'out', family: Family): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of members) {
    const c = parseCidr(m.cidr);
    const text = formatCidr(c);
    if (seen.has(text) || c.family !== family) continue;
    seen.add(text);
    out.push(`${text} : jump nsg${m.nsg}_${dir}`);
  }
  return out;
}

/** An address as its own host prefix. */
const hostCidr = (ip: string) => `${formatIp(parseIp(ip))}/${familyOf(ip) === 4 ? 32 : 128}`;

/** Neighbour discovery (RFC 4861) and the multicast listener reports it relies on: link-local, like ARP. */
const NDP_TYPES =
  'nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, mld-listener-report, mld2-listener-report';

/** The transaction that replaces the cluster's NSG table (created first, so the delete never fails). */
export function renderVnetNsgs(input: VnetNsgInput): string {
  const t = vnetNsgTable(input.cluster);
  const index = new Map(input.nsgs.map((n, i) => [n.name, i]));
  const families: Family[] = input.subnets.some((s) => s.cidrs.some((c) => familyOf(c) === 6)) ? [4, 6] : [4];
  // A NIC stands for its node: the addresses it lists, and every address and block (of either family) of the
  // node that holds one of them, so the node's IPv6 packets and its pods' meet its NIC as their IPv4 ones do
  // (trace: a node's addresses are its pods' hostIPs).
  const nicCidrs = (ips: string[]) => {
    const nodes = new Set(input.blocks.filter((b) => ips.includes(b.nodeIp)).map((b) => b.node));
    const leases = input.blocks.filter((b) => nodes.has(b.node));
    return [...new Set([...ips, ...leases.map((b) => b.nodeIp)])]
      .map(hostCidr)
      .concat(leases.map((b) => b.block));
  };
  const subnetMembers: Member[] = input.subnets.flatMap((s) => {
    const nsg = input.nsgs.findIndex((n) => n.subnets.includes(s.name));
    if (nsg < 0) return [];
    const blocks = input.blocks.filter((b) => s.cidrs.some((c) => inCidr(c, b.nodeIp))).map((b) => b.block);
    return [...s.cidrs, ...blocks].map((cidr) => ({ cidr, nsg }));
  });
  const nicMembers: Member[] = input.nics.flatMap((nic) => {
    const nsg = nic.nsg === undefined ? undefined : index.get(nic.nsg);
    if (nsg === undefined) return [];
    return nicCidrs(nic.ips).map((cidr) => ({ cidr, nsg }));
  });
  const maps: [string, Member[], 'in' | 'out', 'saddr' | 'daddr'][] = [
    ['src_nic', nicMembers, 'out', 'saddr'],
    ['src_subnet', subnetMembers, 'out', 'saddr'],
    ['dst_subnet', subnetMembers, 'in', 'daddr'],
    ['dst_nic', nicMembers, 'in', 'daddr'],
  ];
  const lines = [
    `add table ${t.family} ${t.name}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
    `  comment "NSGs of cluster ${input.cluster}"`,
  ];
  const dispatch: string[] = [];
  for (const [base, members, dir, side] of maps) {
    for (const family of families) {
      const elements = mapElements(members, dir, family);
      if (elements.length === 0) continue;
      const name = family === 4 ? base : `${base}_v6`;
      lines.push(
        `  map ${name} {`,
        `    type ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'} : verdict; flags interval;`,
        `    elements = { ${elements.join(', ')} }`,
        '  }',
      );
      dispatch.push(`    ${NFT_IP[family]} ${side} vmap @${name}`);
      const frontends = family === 4 ? input.frontends?.cidr : input.frontends?.cidr6;
      if (side === 'daddr' && frontends)
        dispatch.push(`    ${NFT_IP[family]} daddr ${frontends} rt ${NFT_IP[family]} nexthop vmap @${name}`);
    }
  }
  input.nsgs.forEach((nsg, i) => {
    lines.push(
      ...nsgChains(nsg, i, 'Outbound', input.tags, families),
      ...nsgChains(nsg, i, 'Inbound', input.tags, families),
    );
  });
  lines.push(
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    families.includes(6) ? `    icmpv6 type { ${NDP_TYPES} } accept` : '    meta nfproto != ipv4 accept',
    '    ct state established,related accept',
    ...dispatch,
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** The transaction that removes the cluster's NSG table, whether or not it exists. */
export function renderVnetNsgsRemoval(cluster: string): string {
  const t = vnetNsgTable(cluster);
  return `add table ${t.family} ${t.name}\ndelete table ${t.family} ${t.name}\n`;
}

/**
 * NSG enforcement in the VNet: one cluster's NSGs compiled into one nftables table in the VNet namespace, from
 * the NSG engine's own data (src/nsg: the parsed rules with their defaults, the service tags of tags.ts), so
 * the kernel and `podnet trace` cannot disagree on what a rule means.
 *
 * Every packet the VNet carries meets the table's forward chain: routed between subnets and to the outside
 * hosts, and bridged inside a subnet, which the kernel's bridge netfilter (`bridge-nf-call-iptables`, on in
 * the VNet namespace) hands to the same inet forward hook. The bridge family itself cannot be stateful on
 * kernels without nf_conntrack_bridge, and NSGs are stateful, hence the one inet chain for both paths.
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
 * each node's address and its pod block. Platform addresses (168.63.129.16, 169.254.169.254) are decided only
 * by rules naming the platform tags, as src/nsg/evaluate.ts decides them. NSGs are enforced on IPv4 only
 * (a dual-stack VNet's IPv6 packets pass this table): other packets and ARP are not NSG business here.
 */
import { containsIp, formatCidr, outermostCidrs, parseCidr, parseIp } from '../addr/index.js';
import { prefixCidr } from '../nsg/evaluate.js';
import { PLATFORM_ADDRESSES, PLATFORM_TAGS, tagCidrs } from '../nsg/tags.js';
import type { Nic, Nsg, NsgAddress, NsgDirection, NsgRule, TagContext } from '../nsg/types.js';

export interface VnetNsgInput {
  cluster: string;
  nsgs: Nsg[];
  nics: Nic[];
  /** The cluster's subnets (profile names) and their CIDRs. */
  subnets: { name: string; cidr: string }[];
  /** Which block each node holds (the leases): a pod's packets count as its node's. */
  blocks: { nodeIp: string; block: string }[];
  tags: TagContext;
  /**
   * The cluster's load balancer frontends: with floating IP a packet to one reaches its node with the
   * frontend as destination, and meets that node's subnet and NIC NSGs (chosen by the route's next hop).
   */
  frontendCidr?: string;
}

/** The table of one cluster's NSGs in the VNet namespace. */
export function vnetNsgTable(cluster: string): { family: 'inet'; name: string } {
  return { family: 'inet', name: `podnet_nsg_${cluster}` };
}

const v4 = (cidr: string) => parseCidr(cidr).family === 4;
const inCidr = (cidr: string, ip: string) => {
  const c = parseCidr(cidr);
  const a = parseIp(ip);
  return c.family === a.family && containsIp(c, a);
};

/** IPv4 prefixes as one nft set literal of disjoint CIDRs (nested ones would conflict in an interval set). */
function v4Set(prefixes: string[]): string | null {
  const cidrs = prefixes.map((p) => prefixCidr(p, p.includes(':') ? 6 : 4)).filter((c) => c.family === 4);
  if (cidrs.length === 0) return null;
  return `{ ${outermostCidrs(cidrs).map(formatCidr).join(', ')} }`;
}

/** One side of a rule as an nft match, '' for any, or null when it can match no IPv4 packet. */
function addressMatch(a: NsgAddress, side: 'saddr' | 'daddr', tags: TagContext): string | null {
  if ('any' in a) return '';
  if ('tag' in a) {
    if (a.tag === 'Internet') return `ip ${side} != ${v4Set(tagCidrs('VirtualNetwork', tags))}`;
    const set = v4Set(tagCidrs(a.tag, tags));
    return set ? `ip ${side} ${set}` : null;
  }
  const set = v4Set(a.prefixes);
  return set ? `ip ${side} ${set}` : null;
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

/** One NSG rule as one nft rule, or null when it cannot match an IPv4 packet (e.g. IPv6 prefixes only). */
export function renderNsgRule(r: NsgRule, tags: TagContext): string | null {
  const parts: string[] = [];
  const hasPorts = r.sourcePorts.length > 0 || r.destinationPorts.length > 0;
  const proto = PROTO[r.protocol];
  if (hasPorts) {
    // Only TCP, UDP and SCTP carry ports: a port-bound rule never matches ICMP (evaluate.ts: ruleMatches).
    if (proto === null) parts.push('meta l4proto { tcp, udp, sctp }');
    else if (proto === 'tcp' || proto === 'udp') parts.push(`meta l4proto ${proto}`);
    else return null;
    if (r.sourcePorts.length > 0) parts.push(`th sport ${ports(r.sourcePorts)}`);
    if (r.destinationPorts.length > 0) parts.push(`th dport ${ports(r.destinationPorts)}`);
  } else if (proto !== null) parts.push(`meta l4proto ${proto}`);
  const src = addressMatch(r.source, 'saddr', tags);
  const dst = addressMatch(r.destination, 'daddr', tags);
  if (src === null || dst === null) return null;
  parts.push(src, dst);
  const verdict = r.access === 'Allow' ? 'return' : 'drop';
  return [...parts.filter((p) => p !== ''), 'counter', verdict, `comment "${r.name} ${r.priority}"`].join(
    ' ',
  );
}

const byPriority = (a: NsgRule, b: NsgRule) => a.priority - b.priority;

const platformTagged = (r: NsgRule, direction: NsgDirection) => {
  const side = direction === 'Outbound' ? r.destination : r.source;
  return 'tag' in side && PLATFORM_TAGS.includes(side.tag);
};

/** The chains of one NSG in one direction: its rules by priority, and the platform addresses' own chain. */
function nsgChains(nsg: Nsg, i: number, direction: NsgDirection, tags: TagContext): string[] {
  const name = `nsg${i}_${direction === 'Inbound' ? 'in' : 'out'}`;
  const rules = nsg.rules.filter((r) => r.direction === direction).sort(byPriority);
  const render = (rs: NsgRule[]) =>
    rs.flatMap((r) => {
      const line = renderNsgRule(r, tags);
      return line ? [`    ${line}`] : [];
    });
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

/** Map elements `CIDR : jump CHAIN`, first association winning for an address (as trace's lookup does). */
function mapElements(members: Member[], dir: 'in' | 'out'): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of members) {
    const c = formatCidr(parseCidr(m.cidr));
    if (seen.has(c) || !v4(c)) continue;
    seen.add(c);
    out.push(`${c} : jump nsg${m.nsg}_${dir}`);
  }
  return out;
}

/** The transaction that replaces the cluster's NSG table (created first, so the delete never fails). */
export function renderVnetNsgs(input: VnetNsgInput): string {
  const t = vnetNsgTable(input.cluster);
  const index = new Map(input.nsgs.map((n, i) => [n.name, i]));
  // A node's own address and its pod block: everything that leaves or reaches the VNet as that host.
  const hostCidrs = (ips: string[]) => [
    ...ips.map((ip) => `${ip}/32`),
    ...input.blocks.filter((b) => ips.includes(b.nodeIp)).map((b) => b.block),
  ];
  const subnetMembers: Member[] = input.subnets.flatMap((s) => {
    const nsg = input.nsgs.findIndex((n) => n.subnets.includes(s.name));
    if (nsg < 0) return [];
    const blocks = input.blocks.filter((b) => inCidr(s.cidr, b.nodeIp)).map((b) => b.block);
    return [s.cidr, ...blocks].map((cidr) => ({ cidr, nsg }));
  });
  const nicMembers: Member[] = input.nics.flatMap((nic) => {
    const nsg = nic.nsg === undefined ? undefined : index.get(nic.nsg);
    if (nsg === undefined) return [];
    return hostCidrs(nic.ips.filter((ip) => !ip.includes(':'))).map((cidr) => ({ cidr, nsg }));
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
  for (const [name, members, dir, side] of maps) {
    const elements = mapElements(members, dir);
    if (elements.length === 0) continue;
    lines.push(
      `  map ${name} {`,
      '    type ipv4_addr : verdict; flags interval;',
      `    elements = { ${elements.join(', ')} }`,
      '  }',
    );
    dispatch.push(`    ip ${side} vmap @${name}`);
    if (side === 'daddr' && input.frontendCidr)
      dispatch.push(`    ip daddr ${input.frontendCidr} rt ip nexthop vmap @${name}`);
  }
  input.nsgs.forEach((nsg, i) => {
    lines.push(...nsgChains(nsg, i, 'Outbound', input.tags), ...nsgChains(nsg, i, 'Inbound', input.tags));
  });
  lines.push(
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    meta nfproto != ipv4 accept',
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

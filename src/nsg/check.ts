/**
 * `podnet nsg check`: which of the flows an overlay cluster needs would its subnets' NSGs block? The flows are
 * the ones the AKS overlay documentation lists ("Network security groups": node CIDR to node CIDR, node CIDR to
 * pod CIDR, pod CIDR to pod CIDR, all ports and protocols) and DNS to the DNS service IP, which the NSGs see
 * after the node's DNAT, as pod to pod on port 53. Pod traffic is not
 * encapsulated, so a pod's packets cross its node's subnet NSG outbound and the peer's subnet NSG inbound with
 * pod addresses on both ends.
 *
 * Exact, not sampled: NSG verdicts are constant between the boundaries the rules draw (prefixes, port ranges,
 * protocols), so one packet per cell of that partition decides the whole flow. Pure.
 */
import { type Cidr, formatIp, parseCidr, parseIp } from '../addr/index.js';
import { cidrRange } from '../addr/ranges.js';
import type { ClusterProfile } from '../profile/types.js';
import { evaluateNsg, prefixCidr } from './evaluate.js';
import { tagCidrs, vnetTagContext } from './tags.js';
import type { Nsg, NsgAddress, NsgDirection, NsgPacketProtocol, TagContext } from './types.js';

export interface RequiredFlow {
  name: string;
  why: string;
  src: string;
  dst: string;
  protocols: NsgPacketProtocol[];
  /** Destination ports, inclusive; undefined = every port. */
  ports?: [number, number];
}

export interface BlockedFlow {
  flow: string;
  nsg: string;
  direction: NsgDirection;
  /** The subnet the NSG guards here. */
  subnet: string;
  rule: string;
  priority: number | null;
  /** One packet of the flow the rule blocks. */
  example: { src: string; dst: string; protocol: NsgPacketProtocol; dstPort?: number };
  /** The rule that lets the flow through: a priority that wins over the blocking rule. */
  fix: {
    name: string;
    priority: number;
    direction: NsgDirection;
    access: 'Allow';
    protocol: '*' | 'Tcp' | 'Udp';
    sourceAddressPrefix: string;
    destinationAddressPrefix: string;
    destinationPortRange: string;
  };
}

/**
 * The flows of the overlay model in one family, between the node subnets' prefixes `from` and `to` of that
 * family (the same subnet included). A dual-stack cluster needs each flow in IPv6 too, named `NAME-ipv6` as
 * `lab check` names its IPv6 probes.
 */
export function requiredFlows(profile: ClusterProfile, from: string, to: string): RequiredFlow[] {
  const family = parseCidr(from).family;
  const pod = profile.network.podCidrs.find((c) => parseCidr(c).family === family);
  if (pod === undefined) return [];
  const suffix = family === 6 ? '-ipv6' : '';
  const flows: RequiredFlow[] = [
    {
      name: 'node-to-node',
      why: 'nodes reach each other (kubelet, tunnels, health)',
      src: from,
      dst: to,
      protocols: ['TCP', 'UDP', 'ICMP'],
    },
    {
      name: 'node-to-pod',
      why: 'nodes reach pods (service traffic routed through the node, probes)',
      src: from,
      dst: pod,
      protocols: ['TCP', 'UDP', 'ICMP'],
    },
    {
      name: 'pod-to-pod',
      why: 'pods reach pods on other nodes, and services through them',
      src: pod,
      dst: pod,
      protocols: ['TCP', 'UDP', 'ICMP'],
    },
  ];
  // DNS at the DNS service IP: the node DNATs it to the cluster DNS pods before it leaves, so the NSGs see pod
  // addresses on UDP and TCP 53 (named on its own: a rule that breaks it breaks every name lookup). Only in
  // the DNS service IP's family.
  if (parseIp(profile.network.dnsServiceIp).family === family)
    flows.push({
      name: 'pod-to-dns',
      why: `pods resolve names at the DNS service IP ${profile.network.dnsServiceIp}`,
      src: pod,
      dst: pod,
      protocols: ['UDP', 'TCP'],
      ports: [53, 53],
    });
  return flows.map((f) => ({ ...f, name: `${f.name}${suffix}` }));
}

/** The boundaries a list of rules draws inside `range`: the starts of every cell. */
function addressCuts(range: Cidr, sides: NsgAddress[], ctx: TagContext): bigint[] {
  const whole = cidrRange(range);
  const cuts = new Set<bigint>([whole.from]);
  for (const a of sides) {
    const prefixes =
      'any' in a
        ? []
        : 'tag' in a
          ? tagCidrs(a.tag === 'Internet' ? 'VirtualNetwork' : a.tag, ctx)
          : a.prefixes;
    for (const p of prefixes) {
      const c = prefixCidr(p, range.family);
      if (c.family !== range.family) continue;
      const r = cidrRange(c);
      for (const edge of [r.from, r.to + 1n]) if (edge > whole.from && edge <= whole.to) cuts.add(edge);
    }
  }
  return [...cuts].sort((a, b) => (a < b ? -1 : 1));
}

function portCuts(ports: [number, number] | undefined, ranges: [number, number][][]): number[] {
  const [lo, hi] = ports ?? [0, 65535];
  const cuts = new Set<number>([lo]);
  for (const list of ranges)
    for (const [a, b] of list) for (const edge of [a, b + 1]) if (edge > lo && edge <= hi) cuts.add(edge);
  return [...cuts].sort((a, b) => a - b);
}

/** A priority in 100..4096 that wins over `blocking` and is free in `nsg` for the direction. */
function winningPriority(nsg: Nsg, direction: NsgDirection, blocking: number | null): number {
  const used = new Set(
    nsg.rules.filter((r) => r.direction === direction && !r.default).map((r) => r.priority),
  );
  for (let p = Math.min((blocking ?? 4097) - 1, 4096); p >= 100; p--) if (!used.has(p)) return p;
  return 100;
}

function firstBlock(nsg: Nsg, direction: NsgDirection, flow: RequiredFlow, ctx: TagContext) {
  const rules = nsg.rules.filter((r) => r.direction === direction);
  const [src, dst] = [parseCidr(flow.src), parseCidr(flow.dst)];
  const srcs = addressCuts(
    src,
    rules.map((r) => r.source),
    ctx,
  );
  const dsts = addressCuts(
    dst,
    rules.map((r) => r.destination),
    ctx,
  );
  const ports = portCuts(
    flow.ports,
    rules.map((r) => r.destinationPorts),
  );
  for (const protocol of flow.protocols) {
    for (const s of srcs) {
      for (const d of dsts) {
        for (const port of protocol === 'ICMP' ? [undefined] : ports) {
          const packet = {
            src: formatIp({ family: src.family, value: s }),
            dst: formatIp({ family: dst.family, value: d }),
            protocol,
            srcPort: 40000,
            ...(port === undefined ? {} : { dstPort: port }),
          };
          const v = evaluateNsg(nsg, direction, packet, ctx);
          if (v.access === 'Deny') return { v, packet };
        }
      }
    }
  }
  return null;
}

/** Every required flow the NSGs of the profile's node subnets block, with the rule that would let it through. */
export function checkNsgs(profile: ClusterProfile, nsgs: readonly Nsg[]): BlockedFlow[] {
  const ctx = vnetTagContext(profile);
  const nsgOf = (subnet: string) => nsgs.find((n) => n.subnets.includes(subnet));
  const subnets = [...new Set(profile.nodePools.map((p) => p.subnet))];
  // A subnet's prefix of each family: IPv4, and its IPv6 /64 in a dual-stack VNet.
  const cidrsOf = (name: string) => {
    const s = profile.vnet.subnets.find((x) => x.name === name);
    return s ? [s.cidr, ...(s.cidr6 ? [s.cidr6] : [])] : [];
  };
  const pairs = (from: string, to: string) =>
    cidrsOf(from).flatMap((f) =>
      cidrsOf(to)
        .filter((t) => parseCidr(t).family === parseCidr(f).family)
        .map((t) => [f, t] as const),
    );
  const blocked: BlockedFlow[] = [];
  for (const from of subnets) {
    for (const to of subnets) {
      for (const flow of pairs(from, to).flatMap(([f, t]) => requiredFlows(profile, f, t))) {
        const steps: [string, NsgDirection][] = [
          [from, 'Outbound'],
          [to, 'Inbound'],
        ];
        for (const [subnet, direction] of steps) {
          const nsg = nsgOf(subnet);
          const hit = nsg && firstBlock(nsg, direction, flow, ctx);
          if (!nsg || !hit) continue;
          const label = `${flow.name} ${from} -> ${to}`;
          if (blocked.some((b) => b.flow === label && b.nsg === nsg.name && b.direction === direction))
            continue;
          blocked.push({
            flow: label,
            nsg: nsg.name,
            direction,
            subnet,
            rule: hit.v.rule ?? 'none',
            priority: hit.v.priority,
            example: {
              src: hit.packet.src,
              dst: hit.packet.dst,
              protocol: hit.packet.protocol,
              ...(hit.packet.dstPort === undefined ? {} : { dstPort: hit.packet.dstPort }),
            },
            fix: {
              name: `allow-${flow.name}${direction === 'Inbound' ? '-in' : '-out'}`,
              priority: winningPriority(nsg, direction, hit.v.priority),
              direction,
              access: 'Allow',
              protocol: '*',
              sourceAddressPrefix: flow.src,
              destinationAddressPrefix: flow.dst,
              destinationPortRange: flow.ports ? `${flow.ports[0]}` : '*',
            },
          });
        }
      }
    }
  }
  return blocked;
}

/** One line per blocked flow: what it is, where, by which rule, and the rule that lets it through. */
export function blockedMessage(b: BlockedFlow): string {
  const f = b.fix;
  return `${b.flow} is blocked by ${b.nsg} rule ${b.rule}${b.priority ? ` (priority ${b.priority})` : ''}, ${b.direction} on subnet ${b.subnet} (e.g. ${b.example.protocol} ${b.example.src} -> ${b.example.dst}${b.example.dstPort !== undefined ? `:${b.example.dstPort}` : ''}); add: ${f.name} priority ${f.priority} ${f.direction} Allow ${f.protocol} from ${f.sourceAddressPrefix} to ${f.destinationAddressPrefix} port ${f.destinationPortRange}`;
}

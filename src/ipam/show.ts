/**
 * `podnet ipam show` and `podnet map`: the cluster's address space as one view. Pure: the cluster record, the
 * leases, the quarantine and the pod endpoints in; per pod CIDR every node's block with its use, the free and
 * quarantined blocks, how many nodes can still be added, and per node subnet its free addresses, out.
 *
 * "Nodes still addable" keeps room for the upgrade surge (the surge nodes of every pool, as `podnet plan`
 * counts them): a cluster with as many free blocks as surge nodes can upgrade, but not grow.
 */
import {
  BLOCK_PREFIX,
  type Cidr,
  blockCount,
  containsIp,
  ipv4ToNumber,
  numberToIpv4,
  parseCidr,
  parseIp,
} from '../addr/index.js';
import type { PodEndpoint } from '../endpoints/record.js';
import { usableNodeIps } from '../plan/rules.js';
import type { ClusterProfile } from '../profile/types.js';
import type { BlockLease, QuarantinedBlock } from '../store/types.js';
import { USABLE_POD_ADDRESSES } from './addresses.js';
import { blockSpace } from './blocks.js';

export interface IpamInput {
  profile: ClusterProfile;
  podCidrHistory: string[][];
  leases: BlockLease[];
  quarantined: QuarantinedBlock[];
  endpoints: PodEndpoint[];
}

export interface NodeBlock {
  node: string;
  nodeIp: string;
  pool: string;
  /** The node subnet its IP is in (null: none of the profile's subnets). */
  subnet: string | null;
  block: string;
  maxPods: number;
  /** Pod addresses in use (published pod endpoints with an address of this block). */
  usedPods: number;
  freePods: number;
  expiresAt: string | null;
}

/** A run of consecutive free blocks, in hand-out order. */
export interface FreeRange {
  first: string;
  last: string;
  blocks: number;
}

export interface PodCidrUse {
  cidr: string;
  family: 4 | 6;
  blockPrefix: number;
  totalBlocks: number;
  leasedBlocks: number;
  quarantinedBlocks: number;
  freeBlocks: number;
  /** Free blocks less the surge room: nodes that can join and still leave room for an upgrade. */
  addableNodes: number;
  /** IPv4 only (an IPv6 pod CIDR has too many blocks to list). */
  freeRanges?: FreeRange[];
}

export interface SubnetUse {
  name: string;
  cidr: string;
  usableAddresses: number;
  nodes: number;
  freeAddresses: number;
  addableNodes: number;
}

export interface IpamView {
  apiVersion: 'podnet.io/v1alpha1';
  kind: 'IpamView';
  cluster: string;
  podCidrs: PodCidrUse[];
  serviceCidrs: string[];
  dnsServiceIP: string;
  surgeNodes: number;
  nodes: NodeBlock[];
  quarantined: QuarantinedBlock[];
  subnets: SubnetUse[];
}

/** IPv4 pod CIDRs up to this many blocks get their free ranges listed (a /8 has 65,536). */
const MAX_LISTED_BLOCKS = 1 << 17;

const inCidr = (cidr: Cidr, ip: string) => {
  try {
    return containsIp(cidr, parseIp(ip));
  } catch {
    return false;
  }
};

/** Runs of blocks of `space` that are neither leased nor quarantined, in hand-out order. */
function freeRanges(ranges: Cidr[], taken: Set<string>): FreeRange[] {
  const out: FreeRange[] = [];
  let run: FreeRange | null = null;
  for (const r of ranges) {
    const base = ipv4ToNumber({ family: 4, value: r.network });
    const n = Number(blockCount(r, 24));
    for (let i = 0; i < n; i++) {
      const block = `${numberToIpv4(base + i * 256)}/24`;
      if (taken.has(block)) {
        run = null;
        continue;
      }
      if (run) {
        run.last = block;
        run.blocks++;
      } else {
        run = { first: block, last: block, blocks: 1 };
        out.push(run);
      }
    }
    run = null;
  }
  return out;
}

export function ipamView(input: IpamInput): IpamView {
  const { profile, leases, quarantined, endpoints } = input;
  const surgeNodes = profile.nodePools.reduce((n, p) => n + p.maxSurge, 0);
  const subnets = profile.vnet.subnets.map((s) => ({ ...s, parsed: parseCidr(s.cidr) }));
  const podsByBlock = new Map<string, number>();
  const leaseCidrs = leases.map((l) => ({ lease: l, cidr: parseCidr(l.block) }));
  for (const e of endpoints) {
    for (const ip of e.ips) {
      const hit = leaseCidrs.find((x) => x.lease.nodeName === e.node && inCidr(x.cidr, ip));
      if (hit) podsByBlock.set(hit.lease.block, (podsByBlock.get(hit.lease.block) ?? 0) + 1);
    }
  }
  const nodes: NodeBlock[] = leases.map((l) => {
    const used = podsByBlock.get(l.block) ?? 0;
    const maxPods = Math.min(l.maxPods, USABLE_POD_ADDRESSES);
    return {
      node: l.nodeName,
      nodeIp: l.nodeIp,
      pool: l.pool,
      subnet: subnets.find((s) => inCidr(s.parsed, l.nodeIp))?.name ?? null,
      block: l.block,
      maxPods,
      usedPods: used,
      freePods: Math.max(0, maxPods - used),
      expiresAt: l.expiresAt,
    };
  });
  const podCidrs = profile.network.podCidrs.map((cidr, i): PodCidrUse => {
    const c = parseCidr(cidr);
    const history = input.podCidrHistory.map((g) => g[i]).filter((x): x is string => x !== undefined);
    const inThis = (block: string) => {
      const b = parseCidr(block);
      return b.family === c.family && containsIp(c, { family: b.family, value: b.network });
    };
    const leased = leases.filter((l) => inThis(l.block)).length;
    const held = quarantined.filter((q) => inThis(q.block)).length;
    const total = Number(blockCount(c));
    const free = Math.max(0, total - leased - held);
    const use: PodCidrUse = {
      cidr,
      family: c.family,
      blockPrefix: BLOCK_PREFIX[c.family],
      totalBlocks: total,
      leasedBlocks: leased,
      quarantinedBlocks: held,
      freeBlocks: free,
      addableNodes: Math.max(0, free - surgeNodes),
    };
    if (c.family === 4 && total <= MAX_LISTED_BLOCKS) {
      const taken = new Set([...leases.map((l) => l.block), ...quarantined.map((q) => q.block)]);
      use.freeRanges = freeRanges(
        blockSpace([cidr], history.length ? history.map((h) => [h]) : []).ranges,
        taken,
      );
    }
    return use;
  });
  const subnetUse: SubnetUse[] = subnets.map((s) => {
    const usable = Number(usableNodeIps({ cidr: s.parsed, text: s.cidr, field: s.name }));
    const inIt = nodes.filter((n) => n.subnet === s.name).length;
    const free = Math.max(0, usable - inIt);
    return {
      name: s.name,
      cidr: s.cidr,
      usableAddresses: usable,
      nodes: inIt,
      freeAddresses: free,
      addableNodes: Math.max(0, free - surgeNodes),
    };
  });
  return {
    apiVersion: 'podnet.io/v1alpha1',
    kind: 'IpamView',
    cluster: profile.name,
    podCidrs,
    serviceCidrs: profile.network.serviceCidrs,
    dnsServiceIP: profile.network.dnsServiceIp,
    surgeNodes,
    nodes,
    quarantined,
    subnets: subnetUse,
  };
}

export interface AddressOwner {
  ip: string;
  /** What the address is: a pod's, in a node's block but free, in a quarantined or free block, or outside. */
  state: 'pod' | 'free-in-block' | 'quarantined-block' | 'free-block' | 'service' | 'node' | 'outside';
  podCidr?: string;
  block?: string;
  node?: string;
  nodeIp?: string;
  pod?: { namespace: string | null; name: string | null; containerId: string; ifname: string };
  subnet?: string;
}

/** Which block and pod hold `ip` (the `--ip` of ipam show). */
export function addressOwner(view: IpamView, endpoints: PodEndpoint[], ipText: string): AddressOwner {
  const ip = parseIp(ipText, '--ip');
  const text = ipText.trim();
  const hit = (c: string) => containsIp(parseCidr(c), ip);
  const pod = endpoints.find((e) => e.ips.includes(text));
  const node = view.nodes.find((n) => hit(n.block));
  const podCidr = view.podCidrs.find((p) => hit(p.cidr))?.cidr;
  if (node) {
    return {
      ip: text,
      state: pod ? 'pod' : 'free-in-block',
      podCidr,
      block: node.block,
      node: node.node,
      nodeIp: node.nodeIp,
      ...(pod
        ? {
            pod: {
              namespace: pod.namespace,
              name: pod.name,
              containerId: pod.containerId,
              ifname: pod.ifname,
            },
          }
        : {}),
    };
  }
  const q = view.quarantined.find((x) => hit(x.block));
  if (q) return { ip: text, state: 'quarantined-block', podCidr, block: q.block, node: q.nodeName };
  if (podCidr) {
    const block = ip.family === 4 ? `${numberToIpv4(ipv4ToNumber(ip) & ~0xff)}/24` : undefined;
    return { ip: text, state: 'free-block', podCidr, ...(block ? { block } : {}) };
  }
  if (view.serviceCidrs.some(hit)) return { ip: text, state: 'service' };
  const owner = view.nodes.find((n) => n.nodeIp === text);
  const subnet = view.subnets.find((s) => hit(s.cidr))?.name;
  if (owner) return { ip: text, state: 'node', node: owner.node, ...(subnet ? { subnet } : {}) };
  return { ip: text, state: 'outside', ...(subnet ? { subnet } : {}) };
}

/**
 * The capacity report: what the plan holds now and how far it can grow before each limit. Growth is counted in
 * nodes with the upgrade surge kept free, because a cluster that fills its pod CIDR or subnet can no longer
 * upgrade (ACN#2999: "not enough IPs available" during a node-pool upgrade).
 */
import { BLOCK_PREFIX, blockCount, cidrSize } from '../addr/index.js';
import type { PlanContext } from './context.js';
import { LIMITS, nodesIncludingSurge, usableNodeIps } from './rules.js';

export interface SubnetCapacity {
  name: string;
  cidr: string;
  totalAddresses: number;
  reserved: number;
  usableNodeIps: number;
  /** Nodes of the pools placed in this subnet, without and with their upgrade surge. */
  nodes: number;
  nodesIncludingSurge: number;
}

/** One limit on the node count, and how many more nodes fit before it (0 when already at or past it). */
export interface GrowthLimit {
  limit: 'podCidr' | 'subnet' | 'clusterNodes';
  /** The profile field holding the limit. */
  field: string;
  description: string;
  /** Most nodes (surge included) this limit allows. */
  maxNodes: number;
  moreNodes: number;
}

export interface Capacity {
  /** /24 blocks (IPv6: /120) in the pod CIDR = nodes the pod CIDR allows; the smaller family in dual-stack. */
  podCidrBlocks: number;
  podIpsPerBlock: number;
  nodes: number;
  surgeNodes: number;
  nodesIncludingSurge: number;
  /** Addresses in the (IPv4) service CIDR. */
  serviceAddresses: number;
  subnets: SubnetCapacity[];
  maxPodsPerNode: Record<string, number>;
  /** Pods the node pools hold at their current size. */
  maxClusterPods: number;
  /** Every node-count limit, the one that binds first at the top. */
  limits: GrowthLimit[];
  bindingLimit: GrowthLimit | null;
  /** VNet addresses this plan consumes (one per node) against the flat Azure CNI model (one per pod too). */
  vnetAddresses: { overlay: number; flat: number; saved: number };
}

const num = (b: bigint): number => Number(b);

export function capacityOf(ctx: PlanContext): Capacity {
  const pools = ctx.profile.nodePools;
  const nodes = pools.reduce((a, p) => a + p.count, 0);
  const withSurge = pools.reduce((a, p) => a + nodesIncludingSurge(p), 0);
  const blockCounts = ctx.pods.map((p) => blockCount(p.cidr));
  const podCidrBlocks = blockCounts.length === 0 ? 0 : num(blockCounts.reduce((a, b) => (b < a ? b : a)));
  const v4Service = ctx.services.find((s) => s.cidr.family === 4) ?? ctx.services[0];
  const subnets: SubnetCapacity[] = ctx.subnets.map((s) => {
    const onIt = pools.filter((p) => p.subnet === s.name);
    const total = cidrSize(s.cidr);
    const usable = usableNodeIps(s);
    return {
      name: s.name,
      cidr: s.text,
      totalAddresses: num(total),
      reserved: num(total - usable),
      usableNodeIps: num(usable),
      nodes: onIt.reduce((a, p) => a + p.count, 0),
      nodesIncludingSurge: onIt.reduce((a, p) => a + nodesIncludingSurge(p), 0),
    };
  });
  const limits: GrowthLimit[] = [];
  const smallestPod = ctx.pods.find((p) => num(blockCount(p.cidr)) === podCidrBlocks);
  if (smallestPod) {
    limits.push({
      limit: 'podCidr',
      field: smallestPod.field,
      description: `pod CIDR ${smallestPod.text} (one /${BLOCK_PREFIX[smallestPod.cidr.family]} per node)`,
      maxNodes: podCidrBlocks,
      moreNodes: Math.max(0, podCidrBlocks - withSurge),
    });
  }
  for (const s of subnets) {
    if (s.nodes === 0 && s.nodesIncludingSurge === 0) continue;
    const at = ctx.subnets.find((x) => x.name === s.name)!;
    limits.push({
      limit: 'subnet',
      field: at.field,
      description: `subnet "${s.name}" ${s.cidr} (one IP per node)`,
      maxNodes: s.usableNodeIps,
      moreNodes: Math.max(0, s.usableNodeIps - s.nodesIncludingSurge),
    });
  }
  limits.push({
    limit: 'clusterNodes',
    field: 'agentPoolProfiles',
    description: 'nodes per cluster',
    maxNodes: LIMITS.maxNodes,
    moreNodes: Math.max(0, LIMITS.maxNodes - nodes),
  });
  limits.sort((a, b) => a.moreNodes - b.moreNodes);
  const flat = pools.reduce((a, p) => a + nodesIncludingSurge(p) * (p.maxPods + 1), 0);
  return {
    podCidrBlocks,
    podIpsPerBlock: 256,
    nodes,
    surgeNodes: withSurge - nodes,
    nodesIncludingSurge: withSurge,
    serviceAddresses: v4Service ? num(cidrSize(v4Service.cidr)) : 0,
    subnets,
    maxPodsPerNode: Object.fromEntries(pools.map((p) => [p.name, p.maxPods])),
    maxClusterPods: pools.reduce((a, p) => a + p.count * p.maxPods, 0),
    limits,
    bindingLimit: limits[0] ?? null,
    vnetAddresses: { overlay: withSurge, flat, saved: flat - withSurge },
  };
}

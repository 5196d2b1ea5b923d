/**
 * Pure planning of the lab's nodes: which address each node of a pool gets on its subnet, and its names.
 * The VNet's own plan (bridges, tables, external hosts) is `src/vnet/plan.ts`; the kernel edge (node.ts)
 * only carries these decisions out.
 */
import { join } from 'node:path';
import { cidrSize, formatCidr, formatIp, ipAt, parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import type { ClusterProfile } from '../profile/types.js';
import type { Vnet } from '../vnet/model.js';
import type { LabNode } from './model.js';
import { nodeName, nodeNetns, nodeVnetLink } from './names.js';

/** Azure keeps the first four addresses of a subnet (network, gateway, two for DNS) and the last. */
const FIRST_NODE_OFFSET = 4;

/**
 * The nodes a pool should have: `<pool>-0 .. <pool>-(count-1)`. Existing nodes keep their address; new ones
 * get the lowest free address of the pool's subnet from offset 4 on.
 */
export function planPoolNodes(
  profile: ClusterProfile,
  cluster: string,
  clusterDir: string,
  vnet: Vnet,
  existing: readonly LabNode[],
): LabNode[] {
  const nodes: LabNode[] = [];
  for (const pool of profile.nodePools) {
    const subnetDecl = profile.vnet.subnets.find((s) => s.name === pool.subnet);
    if (!subnetDecl) {
      throw new PodnetError(
        'SubnetNotFound',
        `node pool ${pool.name} names subnet "${pool.subnet}", which the VNet does not declare`,
        {
          field: `nodePools.${pool.name}.subnet`,
          hint: 'name one of vnet.subnets',
        },
      );
    }
    const subnet = formatCidr(parseCidr(subnetDecl.cidr));
    const bridge = vnet.subnets.find((s) => s.cidr === subnet);
    if (!bridge) throw new Error(`subnet ${subnet} is not planned in VNet ${vnet.name}`);
    for (let i = 0; i < pool.count; i++) {
      const name = nodeName(pool.name, i);
      const have = existing.find((n) => n.name === name);
      if (have) {
        nodes.push(have);
        continue;
      }
      const taken = new Set([...existing, ...nodes].filter((n) => n.subnet === subnet).map((n) => n.ip));
      const dir = join(clusterDir, 'nodes', name);
      const ip = freeNodeIp(subnet, taken, `nodePools.${pool.name}.count`);
      nodes.push({
        name,
        pool: pool.name,
        subnet,
        ip,
        ...(bridge.cidr6 ? { ip6: sameOffset6(subnet, ip, bridge.cidr6) } : {}),
        netns: nodeNetns(cluster, name),
        vnetLink: nodeVnetLink(cluster, name),
        dir,
        agentSocket: join(dir, 'agent.sock'),
        metricsSocket: join(dir, 'metrics.sock'),
        cniBinDir: join(dir, 'cni', 'bin'),
        cniConfDir: join(dir, 'cni', 'net.d'),
      });
    }
  }
  return nodes;
}

/** The address of `cidr6` at the offset `ip` has in `subnet`: a node's IPv6 address mirrors its IPv4 one. */
export function sameOffset6(subnet: string, ip: string, cidr6: string): string {
  return formatIp(ipAt(parseCidr(cidr6), parseIp(ip).value - parseCidr(subnet).network));
}

function freeNodeIp(subnet: string, taken: Set<string>, field: string): string {
  const c = parseCidr(subnet);
  const last = cidrSize(c) - 2n; // the last address is reserved too
  for (let off = BigInt(FIRST_NODE_OFFSET); off <= last; off++) {
    const ip = formatIp(ipAt(c, off));
    if (!taken.has(ip)) return ip;
  }
  throw new PodnetError('SubnetFull', `subnet ${subnet} has no free node address left`, {
    field,
    hint: 'use a larger subnet or fewer nodes',
  });
}

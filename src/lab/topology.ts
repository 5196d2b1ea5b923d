/**
 * Pure planning of the lab's topology: which bridge each subnet gets, which address each node and external
 * host gets, which routing table each cluster gets, and the VNet's firewall. The kernel edge (vnet.ts,
 * node.ts) only carries these decisions out.
 */
import { join } from 'node:path';
import { cidrSize, containsCidr, formatCidr, formatIp, ipAt, overlaps, parseCidr } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import type { ClusterProfile } from '../profile/types.js';
import type { LabExternalHost, LabNode, LabVnet } from './model.js';
import { externalNetns, nodeName, nodeNetns, nodeVnetLink, vnetNetns } from './names.js';

/** The "internet" beyond the VNet: TEST-NET-3, which never leaves the lab's own namespaces. */
export const INTERNET_CIDR = '203.0.113.0/24';
/** Azure keeps the first four addresses of a subnet (network, gateway, two for DNS) and the last. */
const FIRST_NODE_OFFSET = 4;
/** Routing tables of clusters in the VNet namespace: 100, 101, ... */
const FIRST_TABLE = 100;

export function subnetGateway(cidr: string): string {
  return formatIp(ipAt(parseCidr(cidr), 1));
}

/** Host address on a point-to-point-ish network to an external host: .10 when there is room, else .2. */
function externalHostIp(cidr: string): string {
  const c = parseCidr(cidr);
  return formatIp(ipAt(c, cidrSize(c) > 16n ? 10 : 2));
}

/**
 * Adds a cluster to a VNet (creating the VNet's plan when `vnet` is null): a bridge for each subnet of the
 * profile not yet present, the cluster's claim on the subnets its pools use, a routing table, and an external
 * host for the internet and for each connected network. Refuses a subnet that overlaps a different one
 * already in the VNet, and a subnet another cluster's nodes already sit on (clusters sharing a pod CIDR are
 * told apart by the subnet their packets enter the routing domain from).
 */
export function planVnetJoin(
  vnet: LabVnet | null,
  vnetName: string,
  cluster: string,
  profile: ClusterProfile,
): LabVnet {
  const next: LabVnet = vnet
    ? structuredClone(vnet)
    : { name: vnetName, netns: vnetNetns(vnetName), subnets: [], externalHosts: [], clusters: [] };
  if (next.clusters.some((c) => c.name === cluster)) {
    throw new PodnetError('LabExists', `cluster "${cluster}" is already in VNet "${vnetName}"`, {
      field: '--name',
      hint: `tear it down first: podnet lab down --name ${cluster}`,
    });
  }
  const used = new Set(profile.nodePools.map((p) => p.subnet));
  for (const s of profile.vnet.subnets) {
    const cidr = formatCidr(parseCidr(s.cidr));
    const same = next.subnets.find((x) => x.cidr === cidr);
    const clash = next.subnets.find((x) => x.cidr !== cidr && overlaps(parseCidr(x.cidr), parseCidr(cidr)));
    if (clash) {
      throw new PodnetError(
        'LabSubnetConflict',
        `subnet ${s.name} ${cidr} overlaps subnet ${clash.name} ${clash.cidr} already in the VNet`,
        {
          field: 'vnet.subnets',
          hint: "give this cluster subnets that do not overlap the VNet's existing ones (podnet lab status lists them)",
        },
      );
    }
    const claims = used.has(s.name);
    if (same && claims && same.cluster) {
      throw new PodnetError(
        'LabSubnetInUse',
        `subnet ${cidr} already carries the nodes of cluster "${same.cluster}"`,
        {
          field: 'nodePools.subnet',
          hint: 'put each cluster of a shared VNet on its own subnets: the routing domain tells clusters apart by the subnet their traffic comes from',
        },
      );
    }
    if (same) {
      if (claims) same.cluster = cluster;
      continue;
    }
    next.subnets.push({
      cidr,
      name: s.name,
      bridge: freeName(
        'br',
        next.subnets.map((x) => x.bridge),
      ),
      gateway: subnetGateway(cidr),
      ...(claims ? { cluster } : {}),
    });
  }
  const tables = new Set(next.clusters.map((c) => c.table));
  let table = FIRST_TABLE;
  while (tables.has(table)) table++;
  next.clusters.push({ name: cluster, table, podCidrs: [...profile.network.podCidrs] });
  addExternalHost(next, 'internet', 'internet', INTERNET_CIDR);
  for (const net of profile.connectedNetworks) {
    const cidr = net.cidrs.find((c) => parseCidr(c).family === 4);
    if (cidr) addExternalHost(next, 'connected', net.name, formatCidr(parseCidr(cidr)));
  }
  return next;
}

function freeName(stem: string, taken: string[]): string {
  let i = 0;
  while (taken.includes(`${stem}${i}`)) i++;
  return `${stem}${i}`;
}

function addExternalHost(vnet: LabVnet, kind: LabExternalHost['kind'], name: string, cidr: string): void {
  if (vnet.externalHosts.some((h) => h.cidr === cidr)) return;
  const host =
    kind === 'internet'
      ? 'inet'
      : name
          .toLowerCase()
          .replace(/[^a-z0-9]/g, '')
          .slice(0, 12) || 'net';
  vnet.externalHosts.push({
    name,
    kind,
    netns: externalNetns(vnet.name, host),
    ip: externalHostIp(cidr),
    cidr,
    vnetIp: formatIp(ipAt(parseCidr(cidr), 1)),
    vnetLink:
      kind === 'internet'
        ? 'x-inet'
        : freeName(
            'x',
            vnet.externalHosts.map((h) => h.vnetLink),
          ),
  });
}

/** Takes a cluster out of the VNet plan: its routing table goes and its subnets are free again. */
export function planVnetLeave(vnet: LabVnet, cluster: string): LabVnet {
  const next = structuredClone(vnet);
  next.clusters = next.clusters.filter((c) => c.name !== cluster);
  for (const s of next.subnets) if (s.cluster === cluster) s.cluster = undefined;
  return next;
}

/**
 * The nodes a pool should have: `<pool>-0 .. <pool>-(count-1)`. Existing nodes keep their address; new ones
 * get the lowest free address of the pool's subnet from offset 4 on.
 */
export function planPoolNodes(
  profile: ClusterProfile,
  cluster: string,
  clusterDir: string,
  vnet: LabVnet,
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
      nodes.push({
        name,
        pool: pool.name,
        subnet,
        ip: freeNodeIp(subnet, taken, `nodePools.${pool.name}.count`),
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

/** The CIDRs not contained in another of the list (nft refuses overlapping intervals in one set). */
function outermost(cidrs: string[]): string[] {
  const parsed = [...new Set(cidrs)].map((c) => parseCidr(c));
  return parsed
    .filter((c, i) => !parsed.some((o, j) => j !== i && containsCidr(o, c) && (o.prefix < c.prefix || j < i)))
    .map(formatCidr);
}

/** `ip -batch` lines for one cluster's ingress rules: packets entering from its subnets use its table. */
export function renderClusterRules(vnet: LabVnet, cluster: string, op: 'add' | 'del'): string[] {
  const c = vnet.clusters.find((x) => x.name === cluster);
  if (!c) return [];
  return vnet.subnets
    .filter((s) => s.cluster === cluster)
    .map((s) => `rule ${op} iif ${s.bridge} lookup ${c.table} pref ${c.table}`);
}

/**
 * The VNet's firewall: packets to a cluster's pod CIDR pass only when they come in from that cluster's own
 * subnets; everything else addressed to a pod CIDR (the internet, a connected network, another cluster's
 * subnet) is rejected, because endpoints outside a cluster cannot reach its pods directly.
 */
export function renderVnetFirewall(vnet: LabVnet): string {
  const allow: string[] = [];
  const all = new Set<string>();
  for (const c of vnet.clusters) {
    const bridges = vnet.subnets.filter((s) => s.cluster === c.name).map((s) => `"${s.bridge}"`);
    const cidrs = outermost(c.podCidrs.filter((p) => parseCidr(p).family === 4));
    for (const p of cidrs) all.add(p);
    if (bridges.length > 0 && cidrs.length > 0) {
      allow.push(
        `    iifname { ${bridges.join(', ')} } ip daddr { ${cidrs.join(', ')} } accept comment "cluster ${c.name}"`,
      );
    }
  }
  const lines = [
    'add table ip podnet_lab',
    'delete table ip podnet_lab',
    'table ip podnet_lab {',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...allow,
  ];
  if (all.size > 0) {
    lines.push(
      `    ip daddr { ${outermost([...all]).join(', ')} } counter reject with icmp type admin-prohibited comment "outside endpoints cannot reach pods"`,
    );
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

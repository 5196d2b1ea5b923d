/**
 * Pure planning of the VNet: which bridge each subnet gets (its first usable address is the gateway), which
 * routing table each cluster gets, and the hosts beyond the VNet (the internet, connected networks). A join
 * or a leave returns the next plan; `network.ts` and `routing-domain.ts` carry it out.
 */
import { cidrSize, formatCidr, formatIp, ipAt, overlaps, parseCidr } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { planFrontendRange } from '../loadbalancer/frontends.js';
import type { ClusterProfile } from '../profile/types.js';
import type { Vnet, VnetExternalHost } from './model.js';
import { externalNetns, vnetNetns } from './names.js';

/** The "internet" beyond the VNet: TEST-NET-3, which never leaves the lab's own namespaces. */
export const INTERNET_CIDR = '203.0.113.0/24';
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
  vnet: Vnet | null,
  vnetName: string,
  cluster: string,
  profile: ClusterProfile,
): Vnet {
  const next: Vnet = vnet
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
  const frontendCidr = planFrontendRange(
    next.clusters.flatMap((c) => (c.frontendCidr ? [c.frontendCidr] : [])),
  );
  next.clusters.push({ name: cluster, table, podCidrs: [...profile.network.podCidrs], frontendCidr });
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

function addExternalHost(vnet: Vnet, kind: VnetExternalHost['kind'], name: string, cidr: string): void {
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
export function planVnetLeave(vnet: Vnet, cluster: string): Vnet {
  const next = structuredClone(vnet);
  next.clusters = next.clusters.filter((c) => c.name !== cluster);
  for (const s of next.subnets) if (s.cluster === cluster) s.cluster = undefined;
  return next;
}

/**
 * Pure planning of the VNet: which bridge each subnet gets (its first usable address is the gateway), which
 * routing table each cluster gets, and the hosts beyond the VNet (the internet, connected networks). A join
 * or a leave returns the next plan; `network.ts` and `routing-domain.ts` carry it out.
 */
import { cidrSize, formatCidr, formatIp, ipAt, overlaps, parseCidr } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { planFrontendRange } from '../loadbalancer/frontends.js';
import { planClusterOutbound } from '../outbound/plan.js';
import type { ClusterProfile } from '../profile/types.js';
import type { Vnet, VnetExternalHost } from './model.js';
import { externalNetns, vnetNetns } from './names.js';

/** The "internet" beyond the VNet: TEST-NET-3, which never leaves the lab's own namespaces. */
export const INTERNET_CIDR = '203.0.113.0/24';
/**
 * Its IPv6 network, and the range connected networks without an IPv6 CIDR of their own get one /64 of: both
 * inside the documentation prefix 2001:db8::/32 (RFC 3849), so nothing is routable beyond the lab.
 */
export const INTERNET_CIDR6 = '2001:db8:203:113::/64';
/** Routing tables of clusters in the VNet namespace: 100, 101, ... */
const FIRST_TABLE = 100;

export function subnetGateway(cidr: string): string {
  return formatIp(ipAt(parseCidr(cidr), 1));
}

/** Whether the profile is dual-stack: its subnets, nodes and the hosts beyond the VNet get IPv6 too. */
export const isDualStack = (profile: ClusterProfile) => profile.network.ipFamilies.includes('ipv6');

/** Host address on a point-to-point-ish network to an external host: .10 when there is room, else .2. */
function externalHostIp(cidr: string): string {
  const c = parseCidr(cidr);
  return formatIp(ipAt(c, cidrSize(c) > 16n ? 10 : 2));
}

/**
 * Adds a cluster to a VNet (creating the VNet's plan when `vnet` is null): a bridge for each subnet of the
 * profile not yet present, the cluster's claim on the subnets its pools use, a routing table, an external
 * host for the internet and for each connected network, and its way out to the internet (`src/outbound`).
 * Refuses a subnet that overlaps a different one
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
  const dual = isDualStack(profile);
  for (const [i, s] of profile.vnet.subnets.entries()) {
    if (dual && used.has(s.name) && !s.cidr6) {
      throw new PodnetError(
        'LabSubnetNoIpv6',
        `subnet ${s.name} ${s.cidr} carries nodes of a dual-stack cluster but has no IPv6 prefix`,
        {
          field: `vnet.subnets[${i}].cidrs`,
          hint: 'give it an IPv6 /64 beside the IPv4 prefix, as Azure dual-stack subnets have: cidrs: [10.224.0.0/24, "fd00:10::/64"]',
        },
      );
    }
    const v6 =
      dual && s.cidr6 ? { cidr6: formatCidr(parseCidr(s.cidr6)), gateway6: subnetGateway(s.cidr6) } : {};
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
      if (!same.cidr6) Object.assign(same, v6);
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
      ...v6,
    });
  }
  const tables = new Set(next.clusters.map((c) => c.table));
  let table = FIRST_TABLE;
  while (tables.has(table)) table++;
  addExternalHost(next, 'internet', 'internet', INTERNET_CIDR, dual ? INTERNET_CIDR6 : undefined);
  const frontendCidr = planFrontendRange(
    next.clusters.flatMap((c) => (c.frontendCidr ? [c.frontendCidr] : [])),
  );
  next.clusters.push({
    name: cluster,
    table,
    podCidrs: [...profile.network.podCidrs],
    frontendCidr,
    outbound: planClusterOutbound(
      next,
      cluster,
      table,
      profile.network.outboundType,
      frontendCidr,
      isDualStack(profile),
    ),
  });
  for (const net of profile.connectedNetworks) {
    const cidr = net.cidrs.find((c) => parseCidr(c).family === 4);
    const cidr6 = net.cidrs.find((c) => parseCidr(c).family === 6);
    if (!cidr) continue;
    // IPv6 only with a prefix of the profile's: the VNet has no IPv6 route to a network it has no prefix of
    // (and its traffic would be internet-bound, which the lab's routing to the host would contradict).
    const own6 = cidr6 ? formatCidr(parseCidr(cidr6)) : undefined;
    addExternalHost(next, 'connected', net.name, formatCidr(parseCidr(cidr)), dual ? own6 : undefined);
  }
  return next;
}

function freeName(stem: string, taken: string[]): string {
  let i = 0;
  while (taken.includes(`${stem}${i}`)) i++;
  return `${stem}${i}`;
}

function addExternalHost(
  vnet: Vnet,
  kind: VnetExternalHost['kind'],
  name: string,
  cidr: string,
  cidr6: string | undefined,
): void {
  const v6 = cidr6 ? { ip6: externalHostIp(cidr6), cidr6, vnetIp6: formatIp(ipAt(parseCidr(cidr6), 1)) } : {};
  const known = vnet.externalHosts.find((h) => h.cidr === cidr);
  if (known) {
    // A dual-stack cluster joining a VNet an IPv4-only one made: the host gets its IPv6 address now.
    if (!known.cidr6) Object.assign(known, v6);
    return;
  }
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
    ...v6,
  });
}

/** Takes a cluster out of the VNet plan: its routing table goes and its subnets are free again. */
export function planVnetLeave(vnet: Vnet, cluster: string): Vnet {
  const next = structuredClone(vnet);
  next.clusters = next.clusters.filter((c) => c.name !== cluster);
  for (const s of next.subnets) if (s.cluster === cluster) s.cluster = undefined;
  return next;
}

/**
 * Pure planning of a cluster's outbound type in the lab (learn.microsoft.com/azure/aks/egress-outboundtype):
 *
 * - `loadBalancer`: the VNet SNATs the cluster subnets' internet-bound traffic to an outbound frontend of the
 *   cluster's load balancer (Azure's outbound rule on the LB's public IP).
 * - `managedNATGateway`: a NAT gateway namespace on the subnets' path; the VNet routes their internet-bound
 *   traffic to it and it SNATs to its own public IP.
 * - `userDefinedRouting`: a route table on the subnets (0.0.0.0/0 to a firewall's private address, as a UDR
 *   with next hop VirtualAppliance) sends it to a firewall namespace that logs each flow and forwards it,
 *   SNATed to its own public IP (as Azure Firewall does for internet destinations).
 *
 * The public address a cluster's egress leaves with is its public block's outbound address
 * (`outboundFrontend` of the block `src/loadbalancer/frontends.ts` gives each cluster of a VNet, in TEST-NET-2),
 * whatever the type: the load balancer's outbound frontend, or the NAT gateway's or the firewall's public IP
 * (a cluster has one way out, so one address serves it; its Service frontends never take it). The
 * appliances' links come from TEST-NET-1 (192.0.2.0/24, which AKS reserves and no profile may use). Both are
 * documentation ranges that never leave the lab's namespaces.
 */
import { cidrSize, containsIp, formatCidr, formatIp, ipAt, parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { frontendRange6, outboundFrontend } from '../loadbalancer/frontends.js';
import { vnetTagContext } from '../nsg/tags.js';
import type { ClusterProfile, OutboundType } from '../profile/types.js';
import type { Vnet } from '../vnet/model.js';
import { externalNetns } from '../vnet/names.js';
import type { ClusterOutbound } from './model.js';

/** The point-to-point networks (/30) between the VNet and its NAT gateways and firewalls. */
export const APPLIANCE_CIDR = '192.0.2.0/24';
/** A cluster's outbound routing table is its routing-domain table plus this (100 -> 1100). */
const OUTBOUND_TABLE_OFFSET = 1000;

const exhausted = (what: string, cidr: string) =>
  new PodnetError('LabOutboundExhausted', `no ${what} left in ${cidr} for another cluster's outbound`, {
    field: 'networkProfile.outboundType',
    hint: 'take a cluster out of the VNet (podnet lab down --name NAME) or put the new one in its own --vnet',
  });

/**
 * The cluster's way out, given the VNet plan it joins (other clusters' appliance links stay theirs), its
 * routing-domain table and its public block (`planFrontendRange`).
 */
export function planClusterOutbound(
  vnet: Vnet,
  cluster: string,
  table: number,
  type: OutboundType,
  publicBlock: string,
  dualStack = false,
): ClusterOutbound {
  const others = vnet.clusters.filter((c) => c.name !== cluster).flatMap((c) => c.outbound ?? []);
  const publicIp = outboundFrontend(publicBlock);
  // A dual-stack load balancer has an IPv6 outbound frontend too, the last usable of its IPv6 frontend range.
  if (type === 'loadBalancer')
    return {
      type,
      publicIp,
      ...(dualStack ? { publicIp6: outboundFrontend(frontendRange6(publicBlock)) } : {}),
    };

  const links = parseCidr(APPLIANCE_CIDR);
  const takenLinks = new Set(others.flatMap((o) => (o.appliance ? [o.appliance.cidr] : [])));
  let k = 0n;
  while (k < cidrSize(links) / 4n && takenLinks.has(formatCidr(linkAt(k)))) k++;
  if (k >= cidrSize(links) / 4n) throw exhausted('appliance link', APPLIANCE_CIDR);
  const link = linkAt(k);
  const kind = type === 'managedNATGateway' ? 'natGateway' : 'firewall';
  return {
    type,
    publicIp,
    appliance: {
      kind,
      netns: externalNetns(vnet.name, `${kind === 'natGateway' ? 'natgw' : 'fw'}-${cluster}`),
      cidr: formatCidr(link),
      vnetIp: formatIp(ipAt(link, 1)),
      ip: formatIp(ipAt(link, 2)),
      vnetLink: `o-${cluster}`,
      table: table + OUTBOUND_TABLE_OFFSET,
    },
  };
}

/** The cluster's outbound plan in the VNet. */
export function outboundOf(vnet: Vnet, cluster: string): ClusterOutbound {
  const o = vnet.clusters.find((c) => c.name === cluster)?.outbound;
  if (!o) {
    throw new PodnetError('LabNotFound', `cluster "${cluster}" is not in VNet "${vnet.name}"`, {
      field: '--name',
      hint: 'podnet lab status lists the labs and their VNets',
    });
  }
  return o;
}

function linkAt(k: bigint) {
  const base = parseCidr(APPLIANCE_CIDR);
  return parseCidr(`${formatIp(ipAt(base, k * 4n))}/30`);
}

/**
 * Whether a cluster's traffic to `ip` takes its outbound type: destinations outside the VirtualNetwork tag
 * (its address spaces, connected networks, pod CIDR and 168.63.129.16), the service CIDR (the nodes' proxy
 * answers it) and off link-local (IMDS), as Azure
 * routes only internet-bound traffic to the load balancer, the NAT gateway or the UDR's 0.0.0.0/0 (the VNet's
 * and the connected networks' routes are more specific).
 */
export function internetBound(profile: ClusterProfile, ip: string): boolean {
  const a = parseIp(ip);
  const inside = [
    ...vnetTagContext(profile).virtualNetwork,
    ...profile.network.serviceCidrs,
    '168.63.129.16/32',
    '169.254.0.0/16',
    'fe80::/10',
  ];
  return !inside.some((c) => {
    const p = parseCidr(c);
    return p.family === a.family && containsIp(p, a);
  });
}

/** The hop that translates, in words: where it is and what the internet sees. */
export function outboundHop(o: ClusterOutbound): { at: string; detail: string } {
  switch (o.type) {
    case 'loadBalancer':
      return {
        at: 'vnet load balancer',
        detail: `outbound type loadBalancer: SNAT to the load balancer's outbound frontend ${o.publicIp}`,
      };
    case 'managedNATGateway':
      return {
        at: `NAT gateway ${o.appliance?.ip ?? ''}`.trim(),
        detail: `outbound type managedNATGateway: the subnet's NAT gateway SNATs to its public IP ${o.publicIp}`,
      };
    case 'userDefinedRouting':
      return {
        at: `firewall ${o.appliance?.ip ?? ''}`.trim(),
        detail: `outbound type userDefinedRouting: the subnet's route 0.0.0.0/0 -> ${o.appliance?.ip} leads to the firewall, which logs the flow and SNATs to its public IP ${o.publicIp}`,
      };
  }
}

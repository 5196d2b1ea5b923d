/**
 * The profile a lab uses when none is given: a VNet with two subnets, the default AKS pod CIDR, and two node
 * pools on different subnets, so that cross-pool traffic has to go through the VNet's routing domain.
 */
import { profileFromObject } from '../profile/load.js';
import type { ClusterProfile } from '../profile/types.js';

/**
 * `slot` moves the subnets so that several default clusters can share one VNet (each cluster is told apart
 * by the subnets its nodes sit on), while they all keep the same pod CIDR, as the seed allows. Everything not
 * given here (pod and service CIDRs, DNS IP, OS, pool type) takes the AKS defaults of the profile loader.
 */
export function defaultLabProfile(
  name: string,
  slot = 0,
  opts: { dualStack?: boolean } = {},
): ClusterProfile {
  const pool = { vmSize: 'Standard_D2s_v5', maxPods: 250, upgradeSettings: { maxSurge: 0 } };
  // Dual-stack (`demo --dual-stack`): each subnet gets an IPv6 /64 of fd00:10::/48, the pod and service CIDRs
  // both families' AKS defaults (fd12:3456:789a::/64 for pods).
  const subnet = (i: number) =>
    opts.dualStack
      ? { cidrs: [`10.224.${i}.0/24`, `fd00:10:0:${i.toString(16)}::/64`] }
      : { cidr: `10.224.${i}.0/24` };
  return profileFromObject({
    name,
    vnet: {
      name: 'lab-vnet',
      addressSpaces: ['10.224.0.0/12', ...(opts.dualStack ? ['fd00:10::/48'] : [])],
      subnets: [
        { name: `${name}-sys`, ...subnet(2 * slot) },
        { name: `${name}-user`, ...subnet(2 * slot + 1) },
      ],
    },
    // Dual-stack: the connected network has an IPv6 prefix too (documentation space, RFC 3849).
    connectedNetworks: [
      {
        name: 'onprem',
        kind: 'vpn',
        cidrs: ['192.168.100.0/24', ...(opts.dualStack ? ['2001:db8:1:1::/64'] : [])],
      },
    ],
    ...(opts.dualStack ? { networkProfile: { ipFamilies: ['ipv4', 'ipv6'] } } : {}),
    agentPoolProfiles: [
      { name: 'sys', vnetSubnetName: `${name}-sys`, count: 2, ...pool },
      { name: 'user', vnetSubnetName: `${name}-user`, count: 1, ...pool },
    ],
  });
}

/**
 * Spreads `nodes` over the profile's pools round-robin (pool order), for `lab up --nodes N`: with the
 * default profile 3 nodes are sys-0, sys-1 and user-0.
 */
export function withNodeCount(profile: ClusterProfile, nodes: number): ClusterProfile {
  const counts = profile.nodePools.map(() => 0);
  for (let i = 0; i < nodes; i++) counts[i % counts.length]++;
  return { ...profile, nodePools: profile.nodePools.map((p, i) => ({ ...p, count: counts[i] })) };
}

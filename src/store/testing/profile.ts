/** A small valid cluster profile for store and IPAM tests; AKS defaults come from the profile loader. */
import { profileFromObject } from '../../profile/load.js';
import type { ClusterProfile } from '../../profile/types.js';

export function testProfile(podCidr = '10.244.0.0/22', name = 'test'): ClusterProfile {
  return profileFromObject({
    name,
    vnet: { name: 'vnet', addressSpaces: ['10.0.0.0/16'], subnets: [{ name: 'nodes', cidr: '10.0.0.0/24' }] },
    networkProfile: { podCidr, serviceCidr: '10.96.0.0/16', dnsServiceIP: '10.96.0.10' },
    agentPoolProfiles: [{ name: 'pool1', vnetSubnetName: 'nodes', vmSize: 'Standard_D2s_v3' }],
  });
}

/** The same, dual-stack: an IPv4 and an IPv6 pod CIDR, each with its service CIDR. */
export function dualStackProfile(
  podCidr = '10.244.0.0/22',
  podCidr6 = 'fd12:3456:789a::/118',
): ClusterProfile {
  return profileFromObject({
    name: 'test',
    vnet: { name: 'vnet', addressSpaces: ['10.0.0.0/16'], subnets: [{ name: 'nodes', cidr: '10.0.0.0/24' }] },
    networkProfile: {
      ipFamilies: ['ipv4', 'ipv6'],
      podCidrs: [podCidr, podCidr6],
      serviceCidrs: ['10.96.0.0/16', 'fd12:3456:789a:1::/108'],
      dnsServiceIP: '10.96.0.10',
    },
    agentPoolProfiles: [{ name: 'pool1', vnetSubnetName: 'nodes', vmSize: 'Standard_D2s_v3' }],
  });
}

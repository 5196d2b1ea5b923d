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

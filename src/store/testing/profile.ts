/** A small valid cluster profile for store and IPAM tests. */
import type { ClusterProfile } from '../../profile/types.js';

export function testProfile(podCidr = '10.244.0.0/22', name = 'test'): ClusterProfile {
  return {
    name,
    vnet: { name: 'vnet', addressSpaces: ['10.0.0.0/16'], subnets: [{ name: 'nodes', cidr: '10.0.0.0/24' }] },
    connectedNetworks: [],
    network: {
      podCidrs: [podCidr],
      serviceCidrs: ['10.96.0.0/16'],
      dnsServiceIp: '10.96.0.10',
      ipFamilies: ['ipv4'],
      outboundType: 'loadBalancer',
      nonMasqueradeCidrs: [],
    },
    nodePools: [
      {
        name: 'pool1',
        subnet: 'nodes',
        osType: 'Linux',
        osSku: 'Ubuntu',
        vmSize: 'Standard_D2s_v3',
        count: 3,
        maxPods: 250,
        maxSurge: 1,
        type: 'VirtualMachineScaleSets',
      },
    ],
  };
}

/**
 * A dual-stack profile for the tests of trace and the NSG checks: two subnets, each with an IPv4 /24 and an IPv6
 * /64 (`10.224.0.0/24` + `fd00:10::/64`, `10.224.1.0/24` + `fd00:10:0:1::/64`), one node pool of one node on
 * each, and AKS's dual-stack defaults for the rest (pod CIDRs `10.244.0.0/16` and `fd12:3456:789a::/64`).
 */
import { profileFromObject } from '../load.js';
import type { ClusterProfile } from '../types.js';

export function dualStackSubnetsProfile(names: [string, string] = ['sys', 'user']): ClusterProfile {
  return profileFromObject({
    name: 't',
    vnet: {
      name: 'v',
      addressSpaces: ['10.224.0.0/12', 'fd00:10::/48'],
      subnets: [
        { name: names[0], cidrs: ['10.224.0.0/24', 'fd00:10::/64'] },
        { name: names[1], cidrs: ['10.224.1.0/24', 'fd00:10:0:1::/64'] },
      ],
    },
    networkProfile: { ipFamilies: ['ipv4', 'ipv6'] },
    agentPoolProfiles: names.map((n) => ({ name: n, vnetSubnetName: n, count: 1 })),
  });
}

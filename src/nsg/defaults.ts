/**
 * The default rules every NSG carries (Azure: "Default security rules"; they cannot be removed, only
 * overridden by a custom rule of a lower priority number), by the names Network Watcher prints for them.
 */
import type { NsgRule } from './types.js';

const any = { any: true } as const;
const rule = (
  r: Pick<NsgRule, 'name' | 'priority' | 'direction' | 'access' | 'source' | 'destination'>,
): NsgRule => ({
  ...r,
  protocol: '*',
  sourcePorts: [],
  destinationPorts: [],
  default: true,
});

export const DEFAULT_RULES: readonly NsgRule[] = [
  rule({
    name: 'AllowVnetInBound',
    priority: 65000,
    direction: 'Inbound',
    access: 'Allow',
    source: { tag: 'VirtualNetwork' },
    destination: { tag: 'VirtualNetwork' },
  }),
  rule({
    name: 'AllowAzureLoadBalancerInBound',
    priority: 65001,
    direction: 'Inbound',
    access: 'Allow',
    source: { tag: 'AzureLoadBalancer' },
    destination: any,
  }),
  rule({
    name: 'DenyAllInBound',
    priority: 65500,
    direction: 'Inbound',
    access: 'Deny',
    source: any,
    destination: any,
  }),
  rule({
    name: 'AllowVnetOutBound',
    priority: 65000,
    direction: 'Outbound',
    access: 'Allow',
    source: { tag: 'VirtualNetwork' },
    destination: { tag: 'VirtualNetwork' },
  }),
  rule({
    name: 'AllowInternetOutBound',
    priority: 65001,
    direction: 'Outbound',
    access: 'Allow',
    source: any,
    destination: { tag: 'Internet' },
  }),
  rule({
    name: 'DenyAllOutBound',
    priority: 65500,
    direction: 'Outbound',
    access: 'Deny',
    source: any,
    destination: any,
  }),
];

/**
 * A cluster's way out to the internet, as plain data: what its outbound type needs in the lab (the address
 * the internet sees, and for a NAT gateway or a firewall the namespace that translates, its private address
 * and the routes that lead to it). Planned once, when the cluster joins the VNet, and kept in the VNet's
 * state file with the cluster, so `lab down` removes what `lab up` made.
 */
import type { OutboundType } from '../profile/types.js';

/** A NAT gateway or a firewall: a namespace on the cluster subnets' path to the internet. */
export interface OutboundAppliance {
  kind: 'natGateway' | 'firewall';
  netns: string;
  /** The point-to-point network between the VNet and the appliance. */
  cidr: string;
  /** The VNet's address on it: the appliance's default gateway. */
  vnetIp: string;
  /** The appliance's private address: the next hop of the cluster's internet-bound traffic. */
  ip: string;
  /** The link's name in the VNet namespace (the appliance's end is `eth0`). */
  vnetLink: string;
  /** The VNet routing table that sends the cluster subnets' internet-bound traffic to the appliance. */
  table: number;
}

export interface ClusterOutbound {
  type: OutboundType;
  /**
   * The public address the internet sees: the load balancer's outbound frontend, the NAT gateway's public
   * IP or the firewall's public IP.
   */
  publicIp: string;
  /**
   * A dual-stack `loadBalancer` cluster's IPv6 outbound frontend (AKS: `--load-balancer-managed-outbound-ipv6-count`):
   * IPv6 egress is SNATed to it. Without it (the other types) IPv6 egress leaves with the node's IPv6 address.
   */
  publicIp6?: string;
  /** Where the translation happens for `managedNATGateway` and `userDefinedRouting`; none for `loadBalancer`. */
  appliance?: OutboundAppliance;
}

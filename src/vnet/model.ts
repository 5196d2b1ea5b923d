/**
 * The VNet as plain data: its namespace, one bridge per subnet, the hosts beyond it, and the clusters that
 * joined it with their routing tables. Written to the VNet's state file by whoever assembles it (the lab),
 * so every change is planned (pure) before it is carried out in the kernel.
 */
import type { ClusterOutbound } from '../outbound/model.js';

/** One subnet of the VNet: a bridge in the VNet namespace whose address is the subnet's gateway. */
export interface VnetSubnet {
  cidr: string;
  /** Subnet name in the profile that declared it. */
  name: string;
  bridge: string;
  /** First usable address: Azure's subnet gateway. */
  gateway: string;
  /** The cluster whose node pools sit on it; clusters are told apart by the subnet their traffic enters from. */
  cluster?: string;
  /** A dual-stack subnet's IPv6 /64 and its gateway (first address), as `cidr` and `gateway` are for IPv4. */
  cidr6?: string;
  gateway6?: string;
}

/** A host beyond the VNet: the internet, or a connected (peered, VPN, ExpressRoute) network. */
export interface VnetExternalHost {
  name: string;
  kind: 'internet' | 'connected';
  netns: string;
  ip: string;
  /** The network between the VNet and the host. */
  cidr: string;
  /** The VNet's address on that network: the host's default gateway. */
  vnetIp: string;
  /** The link's name in the VNet namespace. */
  vnetLink: string;
  /** Its IPv6 address, network and VNet address, when a dual-stack cluster is in the VNet. */
  ip6?: string;
  cidr6?: string;
  vnetIp6?: string;
}

export interface VnetCluster {
  name: string;
  /** The cluster's own routing table in the VNet namespace: its routing domain. */
  table: number;
  podCidrs: string[];
  /** Its way out to the internet, by its outbound type (`src/outbound`). */
  outbound: ClusterOutbound;
  /** The cluster's load balancer frontends: a block of the lab's public range (src/loadbalancer/frontends.ts). */
  frontendCidr?: string;
}

/** The VNet, shared by every cluster that joins it. */
export interface Vnet {
  name: string;
  netns: string;
  subnets: VnetSubnet[];
  externalHosts: VnetExternalHost[];
  clusters: VnetCluster[];
  /** The resolver of the outside world on the internet host (src/lab/outside-dns.ts), while it runs. */
  outsideDnsPid?: number;
}

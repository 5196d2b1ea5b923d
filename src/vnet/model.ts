/**
 * The VNet as plain data: its namespace, one bridge per subnet, the hosts beyond it, and the clusters that
 * joined it with their routing tables. Written to the VNet's state file by whoever assembles it (the lab),
 * so every change is planned (pure) before it is carried out in the kernel.
 */

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
}

export interface VnetCluster {
  name: string;
  /** The cluster's own routing table in the VNet namespace: its routing domain. */
  table: number;
  podCidrs: string[];
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
}

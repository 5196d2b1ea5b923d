/**
 * The cluster network profile after parsing: plain data, shaped after AKS's managed cluster
 * (`networkProfile` + `agentPoolProfiles`) plus the VNet the nodes live in. Addresses stay canonical strings
 * so the profile round-trips through YAML, JSON and the cluster store unchanged.
 */
export type IpFamily = 'ipv4' | 'ipv6';
export type OutboundType = 'loadBalancer' | 'managedNATGateway' | 'userDefinedRouting';
export type OsType = 'Linux' | 'Windows';
export type PoolType = 'VirtualMachineScaleSets' | 'AvailabilitySet';

export interface Subnet {
  name: string;
  /** The subnet's IPv4 prefix. */
  cidr: string;
  /** Its IPv6 prefix (an Azure dual-stack subnet has a /64 beside the IPv4 one): where nodes get IPv6 addresses. */
  cidr6?: string;
}

export interface ConnectedNetwork {
  name: string;
  /** peering, expressRoute or vpn: how the network is connected to the VNet. */
  kind: 'peering' | 'expressRoute' | 'vpn';
  cidrs: string[];
}

export interface NodePool {
  name: string;
  /** Name of a subnet of the VNet. */
  subnet: string;
  osType: OsType;
  osSku: string;
  vmSize: string;
  count: number;
  maxPods: number;
  maxSurge: number;
  type: PoolType;
}

export interface ClusterProfile {
  name: string;
  resourceGroup?: string;
  vnet: {
    name: string;
    resourceGroup?: string;
    addressSpaces: string[];
    subnets: Subnet[];
  };
  connectedNetworks: ConnectedNetwork[];
  network: {
    /** One per IP family, in the order of ipFamilies. */
    podCidrs: string[];
    serviceCidrs: string[];
    dnsServiceIp: string;
    ipFamilies: IpFamily[];
    outboundType: OutboundType;
    /** Destinations besides the pod CIDR that pod traffic reaches without SNAT (ip-masq-agent style). */
    nonMasqueradeCidrs: string[];
  };
  nodePools: NodePool[];
}

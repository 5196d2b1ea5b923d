/**
 * Azure network security groups as podnet evaluates them: the rules of one NSG after parsing (the ARM shape
 * of `az network nsg show -o json` is read by parse.ts), the VNet facts service tags expand to, and one packet.
 */

export type NsgDirection = 'Inbound' | 'Outbound';
export type NsgAccess = 'Allow' | 'Deny';
/** `*` is Any: TCP, UDP and ICMP (and ESP/AH). */
export type NsgProtocol = 'Tcp' | 'Udp' | 'Icmp' | 'Esp' | 'Ah' | '*';

/** One address side of a rule: `*`, a service tag, or prefixes (CIDRs and single addresses). */
export type NsgAddress = { any: true } | { tag: string } | { prefixes: string[] };

export interface NsgRule {
  name: string;
  priority: number;
  direction: NsgDirection;
  access: NsgAccess;
  protocol: NsgProtocol;
  source: NsgAddress;
  destination: NsgAddress;
  /** Port ranges, inclusive; an empty list means any port. */
  sourcePorts: [number, number][];
  destinationPorts: [number, number][];
  /** True for the six rules every NSG has (AllowVnetInBound, ..., DenyAllOutBound). */
  default: boolean;
}

export interface Nsg {
  name: string;
  /** Custom rules, then the defaults (see defaults.ts), as evaluation sees them. */
  rules: NsgRule[];
  /** Subnet names it is associated with (`subnets[].id` .../subnets/NAME). */
  subnets: string[];
  /** NIC names it is associated with (`networkInterfaces[].id` .../networkInterfaces/NAME). */
  networkInterfaces: string[];
}

/** A network interface (`az network nic show`): its name, the private addresses it holds, the NSG on it. */
export interface Nic {
  name: string;
  ips: string[];
  nsg?: string;
}

/** What the service tags mean in this VNet. */
export interface TagContext {
  /** VirtualNetwork: the VNet's address spaces, connected networks, 168.63.129.16 (and the pod CIDR, see tags.ts). */
  virtualNetwork: string[];
}

export type NsgPacketProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';

export interface NsgPacket {
  src: string;
  dst: string;
  protocol: NsgPacketProtocol;
  srcPort?: number;
  dstPort?: number;
}

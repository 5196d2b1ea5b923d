/**
 * What a lab is made of, as plain data written to its state file. Every kernel object and process the lab
 * creates is recorded here BEFORE it is created, so `lab down` can remove it even after a crashed `up`.
 */
import type { ContainerPort } from '../objects/types.js';
import type { ClusterProfile } from '../profile/types.js';
import type { LabEtcd } from './etcd.js';

/** One subnet of the VNet: a bridge in the VNet namespace whose address is the subnet's gateway. */
export interface LabSubnet {
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
export interface LabExternalHost {
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

export interface LabVnetCluster {
  name: string;
  /** The cluster's own routing table in the VNet namespace: its routing domain. */
  table: number;
  podCidrs: string[];
}

/** The VNet, shared by every cluster that joins it. */
export interface LabVnet {
  name: string;
  netns: string;
  subnets: LabSubnet[];
  externalHosts: LabExternalHost[];
  clusters: LabVnetCluster[];
}

export interface LabNode {
  name: string;
  pool: string;
  subnet: string;
  ip: string;
  netns: string;
  /** The node's uplink as seen in the VNet namespace (plugged into its subnet's bridge). */
  vnetLink: string;
  dir: string;
  agentSocket: string;
  metricsSocket: string;
  agentPid?: number;
  cniBinDir: string;
  cniConfDir: string;
}

export interface LabPod {
  name: string;
  namespace: string;
  node: string;
  netns: string;
  containerId: string;
  ip?: string;
  /** The plugin's ADD result, handed back as prevResult on DEL (as a runtime does). */
  cniResult?: unknown;
  labels?: Record<string, string>;
  /** Container ports its responder answers on with `<namespace>/<name>`. */
  ports?: ContainerPort[];
  responderPid?: number;
  /** The uid of its `Pod` object once the store holds one: deleting that object stops the pod. */
  uid?: string;
}

export type StoreKind = 'sqlite' | 'etcd';

export interface LabState {
  name: string;
  vnet: string;
  dir: string;
  profile: ClusterProfile;
  /** `url` is how host-side lab commands reach the store; agents may need another address (agentStoreUrl). */
  store: { kind: StoreKind; url: string; etcd?: LabEtcd };
  fabricPid?: number;
  /** The lab kubelet: starts and stops pods as Pod objects bound to the lab's nodes come and go. */
  kubeletPid?: number;
  table: number;
  /** Pods `up` and `scale` start on each new node. */
  podsPerNode: number;
  nodes: LabNode[];
  pods: LabPod[];
  /** `building` until `up` finished; a lab left in `building` was interrupted and needs `lab down`. */
  phase: 'building' | 'ready';
}

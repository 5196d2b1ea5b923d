/**
 * What a lab is made of, as plain data written to its state file. Every kernel object and process the lab
 * creates is recorded here BEFORE it is created, so `lab down` can remove it even after a crashed `up`.
 * The VNet the lab's clusters share is `src/vnet`'s model (`Vnet`), in its own state file.
 */
import type { ContainerPort } from '../objects/types.js';
import type { ClusterProfile } from '../profile/types.js';
import type { LabEtcd } from './etcd.js';

export interface LabNode {
  name: string;
  pool: string;
  subnet: string;
  ip: string;
  /** Its IPv6 address on the subnet's /64 (dual-stack): the same offset as its IPv4 address. */
  ip6?: string;
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
  /** Its IPv6 address (dual-stack), from the same CNI result. */
  ip6?: string;
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
  /** Set by `podnet demo`: a later demo may replace this lab, and no other. */
  madeBy?: 'demo';
}

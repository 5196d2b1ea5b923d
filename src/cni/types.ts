/**
 * What the CNI handler needs from the node agent, and the CNI wire types (spec 1.0/1.1, §5 results).
 */
import type { PodIpam } from '../ipam/types.js';

/** The warm node agent as the CNI handler sees it (Azure's CNS in front of azure-vnet). */
export interface NodeRuntime {
  /** The node's pod IPAM; null while the node holds no block lease (ADD/DEL answer 11, STATUS 50). */
  ipam(): PodIpam | null;
  /**
   * The node's pod IPAM of every family, IPv4 first (a dual-stack node leases a block of each, and a pod
   * gets one address of each); unset: `ipam()` alone.
   */
  familyIpams?(): PodIpam[];
  /** The cluster's pod CIDR(s), e.g. ["10.244.0.0/16"]. */
  podCidrs(): string[];
  /** The cluster DNS service IP pods are given as nameserver (the CNI result's `dns`); unset or null: none. */
  dnsServiceIp?(): string | null;
  /** MTU of the node's uplink; pod veths get the same. */
  uplinkMtu(): Promise<number> | number;
  nodeName: string;
  /** Called after an ADD, DEL or GC changed the node's pods (the agent publishes their endpoints); never waits. */
  podsChanged?(): void;
  /**
   * The node's network namespace when the process serving CNI does not run inside it (tests, tools).
   * The real agent runs inside the node's namespace and leaves this unset.
   */
  nodeNetns?: string;
}

/** The CNI_* environment of one plugin call, as the runtime set it (empty = unset). */
export type CniEnv = Record<string, string>;

export interface CniRequest {
  env: CniEnv;
  stdin: string;
}

export interface CniResponse {
  stdout: string;
  exitCode: number;
}

export interface CniInterface {
  name: string;
  mac: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

/** A CNI Success result (the shape of 1.x; 0.3/0.4 add `version` to each IP when rendered). */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIp[];
  routes: CniRoute[];
  dns: Record<string, unknown>;
}

/** Spec error codes (§5) and the ones podnet adds in the plugin-specific range (>= 100). */
export const CNI_CODE = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  /** podnet refused the request for a reason its message names (e.g. MaxPodsReached). */
  podnet: 100,
  internal: 999,
} as const;

/** A CNI error: rendered as `{cniVersion, code, msg, details}` on stdout with a non-zero exit. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(msg);
    this.name = 'CniError';
  }
}

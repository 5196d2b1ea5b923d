import type { Family } from '../addr/index.js';

/**
 * Node-local pod address allocation: only the node that owns a block allocates from it, in a store on the
 * node itself (a SQLite file), so a pod start never touches the cluster store.
 */

/**
 * One pod attachment's address in one family, keyed by (containerId, ifname) as CNI keys attachments. A
 * dual-stack attachment holds one per family, each from that family's block.
 */
export interface PodAddress {
  family: Family;
  ip: string;
  block: string;
  containerId: string;
  ifname: string;
  podName?: string;
  podNamespace?: string;
  /** Network namespace path given by the runtime at ADD, so DEL and GC can clean up without it. */
  netns?: string;
  allocatedAt: string;
}

export interface AllocateRequest {
  containerId: string;
  ifname: string;
  podName?: string;
  podNamespace?: string;
  netns?: string;
}

export interface PodIpam {
  readonly block: string;
  readonly maxPods: number;
  /**
   * Returns the attachment's address, allocating one if it has none (a repeated request returns the same
   * address). `MaxPodsReached` past maxPods; `BlockExhausted` when no usable address is free.
   */
  allocate(req: AllocateRequest): PodAddress;
  /** Frees the attachment's address if it holds one and returns it; null when it holds none (idempotent). */
  release(containerId: string, ifname: string): PodAddress | null;
  get(containerId: string, ifname: string): PodAddress | null;
  list(): PodAddress[];
  close(): void;
}

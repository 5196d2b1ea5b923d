/**
 * The cluster store contract, implemented once (store/cluster-store.ts) over the versioned store of any
 * backend (memory, sqlite: embedded default, etcd: many hosts); one behavioural test suite runs against all. Only per-node data goes through it (the profile, block leases):
 * per-pod allocation stays on the node (src/ipam/pod-ipam), so pod churn never loads the cluster store.
 *
 * Blocks and IPs are keyed by absolute CIDR text (e.g. "10.244.3.0/24"), never by an index relative to the
 * pod CIDR, so growing the pod CIDR never renumbers anything.
 */
import type { ClusterProfile } from '../profile/types.js';
import type { VersionedStore } from './versioned.js';

/** The cluster record: the validated profile plus a generation bumped on every accepted update (CAS). */
export interface ClusterRecord {
  profile: ClusterProfile;
  generation: number;
  /** Pod CIDRs of earlier generations, oldest first (growth history). */
  podCidrHistory: string[][];
  updatedAt: string;
}

/** A node's lease on one fixed-size block of the pod CIDR. */
export interface BlockLease {
  /** The block, canonical CIDR text ("10.244.3.0/24"). */
  block: string;
  /** The block's address family (derived from `block`, never stored). */
  family: 4 | 6;
  nodeName: string;
  /** The node's VNet address: where the routing domain sends the block's traffic. */
  nodeIp: string;
  pool: string;
  /** Max pods of the node's pool, which caps local allocation. */
  maxPods: number;
  claimedAt: string;
  renewedAt: string;
  /** ISO time after which an unrenewed lease is free; null = reservation that never expires. */
  expiresAt: string | null;
}

/**
 * What a claim or renewal returns: the node's lease in the first pod CIDR's family (IPv4), and in `blocks`
 * its lease in every family, in the order of the pod CIDRs (the first is this one). A dual-stack node leases
 * its IPv4 /24 and its IPv6 /120 together, in one transaction: it holds both or neither.
 */
export interface NodeBlocks extends BlockLease {
  blocks: BlockLease[];
}

/** A block freed (released or expired) that waits out its quarantine before any other node may claim it. */
export interface QuarantinedBlock {
  block: string;
  /** The node that held it last; it alone may take it back early. */
  nodeName: string;
  /** ISO time after which any node may claim it. */
  until: string;
}

export interface ClaimRequest {
  nodeName: string;
  nodeIp: string;
  /**
   * The node's IPv6 VNet address, required in a dual-stack cluster: the IPv6 block's lease carries it as its
   * `nodeIp`, so every lease routes `block via nodeIp` within one family.
   */
  nodeIp6?: string;
  pool: string;
  maxPods: number;
  /** Lease time to live in seconds; renewed by the agent well before it runs out. */
  ttlSeconds: number;
}

export interface ClusterStore {
  /** `sqlite:PATH`, `etcd:URL[,URL...]` or `memory:NAME`, for messages. */
  readonly url: string;
  /** The versioned store underneath, for the records written beside the leases (cluster objects, endpoints). */
  readonly kv: VersionedStore;
  getCluster(): Promise<ClusterRecord | null>;
  /** Writes the cluster record if the stored generation is still `expectedGeneration` (0 = create). */
  putCluster(profile: ClusterProfile, expectedGeneration: number): Promise<ClusterRecord>;
  /**
   * Claims a block of each pod CIDR (family) for a node, together and idempotently: a node that already
   * holds its blocks gets the same blocks back (its lease renewed). Fails with `PodCidrExhausted` when one
   * family has no free block left (the node then gets none), `ClusterNotFound` when no cluster profile was
   * written yet, `LeaseFamiliesMismatch` when the node holds blocks of other families than the pod CIDRs.
   */
  claimBlock(req: ClaimRequest): Promise<NodeBlocks>;
  /** Extends the node's lease by its TTL; `LeaseNotFound` when the node holds none (it expired or was released). */
  renewBlock(nodeName: string, ttlSeconds: number): Promise<NodeBlocks>;
  /**
   * Gives the node's blocks back; they wait in quarantine before another node may claim them (the same node
   * may take them back). No-op if the node holds none.
   */
  releaseBlock(nodeName: string): Promise<void>;
  /** Every live (unexpired) lease of every family, sorted by block address (IPv4 first). */
  listBlocks(): Promise<BlockLease[]>;
  /** Every block in quarantine, sorted by block. */
  listQuarantined(): Promise<QuarantinedBlock[]>;
  /**
   * Level-based watch: calls `onChange` with the full list of live leases now and after every change
   * (including expiries). Returns a function that stops watching.
   */
  watchBlocks(onChange: (leases: BlockLease[]) => void): Promise<() => void>;
  /**
   * Level-based watch of the cluster record: calls `onChange` with it now and after every change (null while
   * none is written), so an agent takes a grown pod CIDR at once. Returns a function that stops watching.
   */
  watchCluster(onChange: (record: ClusterRecord | null) => void): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * The in-process store: the same rules as the SQLite and etcd backends over plain maps. It holds nothing
 * across restarts; it serves tests of the policy and the benchmark of the allocation core.
 */
import { type BlockRows, claimIn, releaseIn, renewIn } from './block-table.js';
import {
  DEFAULT_QUARANTINE_SECONDS,
  type StoreOptions,
  type StoredBlock,
  blockState,
  byBlockAddress,
  clusterNotFound,
  clusterSpace,
  nextCluster,
  toLease,
  toQuarantined,
  validateClaim,
} from './records.js';
import type { ClaimRequest, ClusterRecord, ClusterStore } from './types.js';
import { nextExpiry, pollWatch } from './watch.js';

export class MemoryStore implements ClusterStore {
  readonly url = 'memory:';
  private cluster: ClusterRecord | null = null;
  private readonly byBlock = new Map<string, StoredBlock>();
  private readonly byNode = new Map<string, StoredBlock>();
  private cursor = 0n;
  private version = 0;
  private readonly quarantineSeconds: number;

  constructor(opts: StoreOptions = {}) {
    this.quarantineSeconds = opts.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS;
  }

  private readonly rows: BlockRows = {
    byNode: (n) => this.byNode.get(n),
    byBlock: (b) => this.byBlock.get(b),
    counts: (now) => {
      let leased = 0;
      let quarantined = 0;
      for (const r of this.byBlock.values()) {
        const s = blockState(r, now);
        if (s === 'live') leased++;
        else if (s === 'quarantined') quarantined++;
      }
      return { leased, quarantined };
    },
    put: (row) => {
      const old = this.byBlock.get(row.block);
      if (old && this.byNode.get(old.nodeName) === old) this.byNode.delete(old.nodeName);
      const mine = this.byNode.get(row.nodeName);
      if (mine && mine.block !== row.block) this.byBlock.delete(mine.block);
      this.byBlock.set(row.block, row);
      this.byNode.set(row.nodeName, row);
      this.version++;
    },
    remove: (b) => {
      const old = this.byBlock.get(b);
      if (!old) return;
      this.byBlock.delete(b);
      if (this.byNode.get(old.nodeName) === old) this.byNode.delete(old.nodeName);
      this.version++;
    },
    getCursor: () => this.cursor,
    setCursor: (p) => {
      this.cursor = p;
    },
  };

  async getCluster(): Promise<ClusterRecord | null> {
    return this.cluster;
  }

  async putCluster(profile: ClusterRecord['profile'], expectedGeneration: number): Promise<ClusterRecord> {
    this.cluster = nextCluster(this.cluster, profile, expectedGeneration, Date.now());
    this.version++;
    return this.cluster;
  }

  async claimBlock(req: ClaimRequest) {
    return toLease(this.claimSync(req));
  }

  /** The claim without the promise, for the benchmark of the allocation core. */
  claimSync(req: ClaimRequest): StoredBlock {
    validateClaim(req);
    if (!this.cluster) throw clusterNotFound(this.url);
    return claimIn(this.rows, clusterSpace(this.cluster), req, Date.now(), this.quarantineSeconds);
  }

  async renewBlock(nodeName: string, ttlSeconds: number) {
    return toLease(renewIn(this.rows, nodeName, ttlSeconds, Date.now(), this.quarantineSeconds));
  }

  async releaseBlock(nodeName: string) {
    releaseIn(this.rows, nodeName, Date.now(), this.quarantineSeconds);
  }

  async listBlocks() {
    const now = Date.now();
    return byBlockAddress(
      [...this.byBlock.values()].filter((r) => blockState(r, now) === 'live').map(toLease),
    );
  }

  async listQuarantined() {
    const now = Date.now();
    return byBlockAddress(
      [...this.byBlock.values()].filter((r) => blockState(r, now) === 'quarantined').map(toQuarantined),
    );
  }

  watchBlocks(onChange: Parameters<ClusterStore['watchBlocks']>[0]) {
    return pollWatch(
      { marker: () => this.version, read: () => this.listBlocks(), nextChangeAt: nextExpiry },
      onChange,
      50,
    );
  }

  watchCluster(onChange: Parameters<ClusterStore['watchCluster']>[0]) {
    return pollWatch({ marker: () => this.version, read: () => this.getCluster() }, onChange, 50);
  }

  async close() {}
}

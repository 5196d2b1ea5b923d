/**
 * The cluster store in process memory: the one ClusterStore over a fresh in-memory versioned store. It holds
 * nothing across restarts; it serves tests of the agent and the in-process benchmarks.
 */
import { KvClusterStore } from './cluster-store.js';
import type { StoreOptions } from './records.js';
import { MemoryVersionedStore } from './versioned-memory.js';

export class MemoryStore extends KvClusterStore {
  constructor(opts: StoreOptions = {}) {
    super(new MemoryVersionedStore(), opts);
  }

  /** Ends the watches but keeps the data: an agent restarted in a test finds its lease again. */
  override async close(): Promise<void> {
    await this.stopWatching();
  }
}

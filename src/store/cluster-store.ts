/**
 * The ClusterStore over any versioned store: the cluster record (compare-and-swap on its key `cluster`) and
 * the block leases of src/ipam/leases.ts, written once for memory, sqlite and etcd. Watches are level-based
 * views of the versioned store's ordered watch: the full list after every change, and after every lease
 * expiry (which no write announces).
 */
import {
  BLOCKS_PREFIX,
  BlockLeases,
  type ClusterView,
  liveLeases,
  nextExpiry,
  quarantinedBlocks,
} from '../ipam/leases.js';
import type { ClusterProfile } from '../profile/types.js';
import {
  DEFAULT_QUARANTINE_SECONDS,
  type StoreOptions,
  clusterNotFound,
  clusterSpaces,
  decodeBlock,
  decodeCluster,
  encodeCluster,
  nextCluster,
  parseJson,
} from './records.js';
import type {
  BlockLease,
  ClaimRequest,
  ClusterRecord,
  ClusterStore,
  NodeBlocks,
  QuarantinedBlock,
} from './types.js';
import type { KeyValue, VersionedStore } from './versioned.js';

export const CLUSTER_KEY = 'cluster';

function decodeClusterKv(kv: KeyValue): ClusterRecord {
  return decodeCluster(parseJson(kv.value, `key ${CLUSTER_KEY}`), `key ${CLUSTER_KEY}`);
}

export class KvClusterStore implements ClusterStore {
  readonly url: string;
  private readonly leases: BlockLeases;
  /** The cluster record as last read: claims compare its mod revision in their transaction instead of re-reading it. */
  private view: ClusterView | null = null;
  private readingView: Promise<ClusterView> | null = null;
  private readonly stops = new Set<() => void>();

  constructor(
    readonly kv: VersionedStore,
    opts: StoreOptions = {},
  ) {
    this.url = kv.url;
    this.leases = new BlockLeases(kv, {
      quarantineSeconds: opts.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS,
      cluster: () => this.cachedView(),
      useCluster: (kv) => this.useView(kv),
    });
  }

  private useView(kv: KeyValue | null): ClusterView {
    this.view = kv ? { spaces: clusterSpaces(decodeClusterKv(kv)), modRevision: kv.modRevision } : null;
    if (!this.view) throw clusterNotFound(this.url);
    return this.view;
  }

  /** The first claims of a process share one read of the cluster record (a burst of joins at start-up). */
  private cachedView(): Promise<ClusterView> {
    if (this.view) return Promise.resolve(this.view);
    this.readingView ??= this.kv
      .get(CLUSTER_KEY)
      .then((kv) => this.useView(kv))
      .finally(() => {
        this.readingView = null;
      });
    return this.readingView;
  }

  async getCluster(): Promise<ClusterRecord | null> {
    const kv = await this.kv.get(CLUSTER_KEY);
    return kv ? decodeClusterKv(kv) : null;
  }

  private async requireSpaces() {
    const record = await this.getCluster();
    if (!record) throw clusterNotFound(this.url);
    return clusterSpaces(record);
  }

  async putCluster(profile: ClusterProfile, expectedGeneration: number): Promise<ClusterRecord> {
    const kv = await this.kv.get(CLUSTER_KEY);
    const next = nextCluster(kv ? decodeClusterKv(kv) : null, profile, expectedGeneration, Date.now());
    const res = await this.kv.txn(
      [{ key: CLUSTER_KEY, modRevision: kv?.modRevision ?? 0 }],
      [{ type: 'put', key: CLUSTER_KEY, value: encodeCluster(next) }],
    );
    if (!res.succeeded) {
      const now = res.current[0];
      return nextCluster(now ? decodeClusterKv(now) : null, profile, expectedGeneration, Date.now()); // throws the conflict
    }
    return next;
  }

  claimBlock(req: ClaimRequest): Promise<NodeBlocks> {
    return this.leases.claim(req);
  }

  async renewBlock(nodeName: string, ttlSeconds: number): Promise<NodeBlocks> {
    return this.leases.renew(nodeName, ttlSeconds, await this.requireSpaces());
  }

  async releaseBlock(nodeName: string): Promise<void> {
    await this.leases.release(nodeName, await this.requireSpaces());
  }

  private async rows() {
    const record = await this.getCluster();
    return this.leases.rows(record ? clusterSpaces(record) : null);
  }

  async listBlocks(): Promise<BlockLease[]> {
    return liveLeases(await this.rows(), Date.now());
  }

  async listQuarantined(): Promise<QuarantinedBlock[]> {
    return quarantinedBlocks(await this.rows(), Date.now());
  }

  /** Keeps the stop function so close() ends every watch this store started. */
  private track(stop: () => void): () => void {
    const once = () => {
      this.stops.delete(once);
      stop();
    };
    this.stops.add(once);
    return once;
  }

  async watchBlocks(onChange: (leases: BlockLease[]) => void): Promise<() => void> {
    const rows = new Map<string, string>();
    let last = '';
    let timer: NodeJS.Timeout | null = null;
    const report = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      const now = Date.now();
      const decoded = [];
      for (const [key, value] of rows) {
        try {
          decoded.push(decodeBlock(parseJson(value, `key ${key}`), `key ${key}`, null));
        } catch {
          // A corrupt row is no lease: listBlocks names it, the watch goes on with the others.
        }
      }
      const leases = liveLeases(decoded, now);
      const sig = JSON.stringify(leases);
      if (sig !== last) {
        last = sig;
        onChange(leases);
      }
      // An expiry changes the list though nobody writes: report again when the first lease runs out.
      const at = nextExpiry(leases);
      if (Number.isFinite(at)) {
        timer = setTimeout(report, Math.max(0, at - now) + 5);
        timer.unref();
      }
    };
    const stop = await this.kv.watch(BLOCKS_PREFIX, (u) => {
      if (u.type === 'snapshot') {
        rows.clear();
        for (const kv of u.items) rows.set(kv.key, kv.value);
      } else {
        for (const e of u.events) {
          if (e.type === 'put') rows.set(e.kv.key, e.kv.value);
          else rows.delete(e.key);
        }
      }
      report();
    });
    return this.track(() => {
      stop();
      if (timer) clearTimeout(timer);
    });
  }

  async watchCluster(onChange: (record: ClusterRecord | null) => void): Promise<() => void> {
    let last = -1;
    const stop = await this.kv.watch(CLUSTER_KEY, (u) => {
      let kv: KeyValue | null | undefined;
      if (u.type === 'snapshot') kv = u.items.find((i) => i.key === CLUSTER_KEY) ?? null;
      else {
        for (const e of u.events) {
          if (e.type === 'put' && e.kv.key === CLUSTER_KEY) kv = e.kv;
          else if (e.type === 'delete' && e.key === CLUSTER_KEY) kv = null;
        }
      }
      if (kv === undefined || (kv?.modRevision ?? 0) === last) return;
      let record: ClusterRecord | null;
      try {
        record = kv ? decodeClusterKv(kv) : null;
      } catch {
        return; // a corrupt record is not reported as a change; getCluster names it
      }
      last = kv?.modRevision ?? 0;
      onChange(record);
    });
    return this.track(stop);
  }

  /** Ends this store's watches (its own and those it handed out) but leaves the versioned store open. */
  protected async stopWatching(): Promise<void> {
    for (const stop of [...this.stops]) stop();
    await this.leases.close();
  }

  async close(): Promise<void> {
    await this.stopWatching();
    await this.kv.close();
  }
}

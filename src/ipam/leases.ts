/**
 * Block leases over the versioned store, written once for every backend (IPAM owns the lease rules; the
 * store owns storage). Keys (etcd's layout of the first release, so its stores read as they are):
 *
 *   blocks/<a.b.c.0-24>  the block row (StoredBlock JSON), on a store lease that ends with its quarantine
 *                        (shared with rows that end up to a minute later: store/etcd-leases.ts)
 *   nodes/<nodeName>     {block}, on the same store lease: the node -> block index that makes claims idempotent
 *
 * A row is live until its `expiresAt`, then in quarantine until `quarantineUntil`, then free; the store lease
 * deletes both keys about then, and a claim overwrites a free row that is still there (guarded by its mod
 * revision), so no clock agreement beyond the rows' own times is needed and no sweeper runs.
 *
 * A join is one transaction: create the block key and the node key, if the cluster record is unchanged.
 * When it fails, the transaction's `current` says why (the node holds a block already, the cluster changed,
 * another node won the block), so the next step needs no extra read. Free blocks come from a cache of the
 * block keys kept by a watch (flannel's list + watch), so a claim never lists thousands of blocks.
 */
import { PodnetError } from '../errors/index.js';
import { LeaseReuse } from '../store/etcd-leases.js';
import {
  type StoredBlock,
  blockState,
  byBlockAddress,
  decodeBlock,
  leaseRow,
  parseJson,
  releasedRow,
  storeCorrupt,
  toLease,
  toQuarantined,
  validateClaim,
} from '../store/records.js';
import type { BlockLease, ClaimRequest, QuarantinedBlock } from '../store/types.js';
import type { KeyValue, TxnOp, VersionedStore } from '../store/versioned.js';
import { type BlockSpace, chooseBlockIn } from './blocks.js';

export const BLOCKS_PREFIX = 'blocks/';
export const NODES_PREFIX = 'nodes/';

/** `10.244.3.0/24` -> `blocks/10.244.3.0-24` (flannel's and Calico's spelling). */
export function blockKey(block: string): string {
  return `${BLOCKS_PREFIX}${block.replace('/', '-')}`;
}

export function nodeKey(nodeName: string): string {
  return `${NODES_PREFIX}${nodeName}`;
}

/** Compare-and-swap attempts before a claim gives up with a retryable error. */
const MAX_ATTEMPTS = 30;
/**
 * After a lost race a claimer picks at random among this many free blocks after its cursor, doubling after
 * each loss, so hosts joining at once without a lock rarely race twice (flannel picks among 100). A lone
 * claimer takes the next free block.
 */
export const spreadAfter = (lostRaces: number) => (lostRaces === 0 ? 1 : 64 * 2 ** Math.min(4, lostRaces));

/** The cluster record as the lease rules need it: the block space, and its mod revision to guard claims. */
export interface ClusterView {
  space: BlockSpace;
  modRevision: number;
}

export interface BlockLeaseOptions {
  quarantineSeconds: number;
  /** The cluster record as last read (a cached one is fine: claims compare its revision). */
  cluster(): Promise<ClusterView>;
  /** Decodes the cluster key a failed claim returned (null = absent: ClusterNotFound). */
  useCluster(kv: KeyValue | null): ClusterView;
}

/** A block row with the mod revision of its key, as read. */
interface Row {
  row: StoredBlock;
  modRevision: number;
}

function decodeRow(kv: KeyValue, space: BlockSpace | null): StoredBlock {
  const where = `key ${kv.key}`;
  const row = decodeBlock(parseJson(kv.value, where), where, space);
  if (blockKey(row.block) !== kv.key) throw storeCorrupt(where, `it holds block ${row.block}`);
  return row;
}

export function leaseNotFound(nodeName: string): PodnetError {
  return new PodnetError(
    'LeaseNotFound',
    `node ${nodeName} holds no live block lease (it expired or was released)`,
    {
      field: 'nodeName',
      hint: 'claim the block again (the agent does this on its own); the node gets its old block back while it is in quarantine',
    },
  );
}

function contention(what: string): PodnetError {
  return new PodnetError('BlockClaimContention', `could not ${what} in ${MAX_ATTEMPTS} attempts`, {
    field: 'nodeName',
    hint: 'many nodes are joining at once; retry in a moment',
    retryable: true,
  });
}

export class BlockLeases {
  /** Blocks by key, as the cache watch last saw them (null: a row that did not decode; taken). */
  private taken: Map<string, Row | null> | null = null;
  private loading: Promise<Map<string, Row | null>> | null = null;
  private stopCache: (() => void) | null = null;
  /** Blocks this process is claiming right now, so its own concurrent claims pick different ones. */
  private readonly pending = new Set<string>();
  private readonly leases: LeaseReuse;
  /** The round-robin cursor: the scan position after the last block this process handed out. */
  private cursor = 0n;

  constructor(
    private readonly kv: VersionedStore,
    private readonly opts: BlockLeaseOptions,
  ) {
    this.leases = new LeaseReuse(async (ttl) => (await kv.grantLease(ttl)).id);
  }

  /** The store lease a row's keys go on: one that ends with the row's quarantine; none for a reservation. */
  private leaseOf(row: StoredBlock): Promise<string | null> {
    return row.quarantineUntil === null ? Promise.resolve(null) : this.leases.leaseUntil(row.quarantineUntil);
  }

  private async writes(row: StoredBlock): Promise<TxnOp[]> {
    const lease = await this.leaseOf(row);
    return [
      { type: 'put', key: blockKey(row.block), value: JSON.stringify(row), lease },
      { type: 'put', key: nodeKey(row.nodeName), value: JSON.stringify({ block: row.block }), lease },
    ];
  }

  /** The node's index key and the row it points at (when that row is still the node's). */
  private async readOwn(nodeName: string, space: BlockSpace) {
    const node = await this.kv.get(nodeKey(nodeName));
    if (!node) return { node: null, own: null };
    const block = (parseJson(node.value, `key ${node.key}`) as { block?: unknown } | null)?.block;
    if (typeof block !== 'string') throw storeCorrupt(`key ${node.key}`, 'it is not a node record ({block})');
    const kv = await this.kv.get(blockKey(block));
    const row = kv ? decodeRow(kv, space) : null;
    return {
      node,
      own: kv && row && row.nodeName === nodeName ? { row, modRevision: kv.modRevision } : null,
    };
  }

  /** Rewrites the node's own row (renewal, reclaim, release), guarded by both keys' mod revisions. */
  private async rewriteOwn(node: KeyValue, own: Row, next: StoredBlock): Promise<boolean> {
    const res = await this.kv.txn(
      [
        { key: node.key, modRevision: node.modRevision },
        { key: blockKey(next.block), modRevision: own.modRevision },
      ],
      await this.writes(next),
    );
    return res.succeeded;
  }

  /** Lists the block keys once and keeps the map current with a watch; a new snapshot replaces it. */
  private loadTaken(): Promise<Map<string, Row | null>> {
    this.loading ??= (async () => {
      const taken = new Map<string, Row | null>();
      this.stopCache = await this.kv.watch(BLOCKS_PREFIX, (u) => {
        if (u.type === 'snapshot') {
          taken.clear();
          for (const kv of u.items) noteRow(taken, kv);
        } else {
          for (const e of u.events) {
            if (e.type === 'put') noteRow(taken, e.kv);
            else if (e.modRevision > (taken.get(e.key)?.modRevision ?? 0)) taken.delete(e.key);
          }
        }
      });
      this.taken = taken;
      return taken;
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /**
   * Claims a block for a node, idempotently (see ClusterStore.claimBlock): one transaction in the common
   * case, plus a store lease grant when no recent one can be shared.
   */
  async claim(req: ClaimRequest): Promise<BlockLease> {
    validateClaim(req);
    let cluster = await this.opts.cluster();
    /** The node key's mod revision once known to exist (it may point at a row that is free by now). */
    let nodeRevision = 0;
    let refreshed = false;
    let lost = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const taken = this.taken ?? (await this.loadTaken());
      let choice: { block: string; position: bigint | null };
      try {
        choice = chooseBlockIn(
          cluster.space,
          {
            blockOf: () => undefined,
            isTaken: (b) => {
              const t = taken.get(blockKey(b));
              return (
                this.pending.has(b) || t === null || (t !== undefined && blockState(t.row, now) !== 'free')
              );
            },
            counts: () => countStates([...taken.values()], now),
          },
          req.nodeName,
          { cursor: this.cursor, spread: spreadAfter(lost) },
        );
      } catch (e) {
        if (!(e instanceof PodnetError) || e.code !== 'PodCidrExhausted') throw e;
        // No free block: the node may hold one, or have its own back from quarantine.
        const own = await this.reclaimOwn(req, cluster.space);
        if (own.lease) return own.lease;
        if (refreshed) throw e;
        // The cache may lag behind blocks freed since, or the cluster may have grown: decide again on
        // fresh data.
        cluster = this.opts.useCluster(await this.kv.get('cluster'));
        await this.relist(taken);
        refreshed = true;
        continue;
      }
      // Marked as soon as chosen, so this process's other claims never pick it; unmarked when decided.
      this.pending.add(choice.block);
      const key = blockKey(choice.block);
      const row = leaseRow(choice.block, req, now, this.opts.quarantineSeconds);
      let res: Awaited<ReturnType<VersionedStore['txn']>>;
      try {
        res = await this.kv.txn(
          [
            { key, modRevision: taken.get(key)?.modRevision ?? 0 },
            { key: nodeKey(req.nodeName), modRevision: nodeRevision },
            { key: 'cluster', modRevision: cluster.modRevision },
          ],
          await this.writes(row),
        );
      } finally {
        this.pending.delete(choice.block);
      }
      if (res.succeeded) {
        taken.set(key, { row, modRevision: res.revision });
        if (choice.position !== null) this.cursor = choice.position + 1n;
        return toLease(row);
      }
      const [blockKv, nodeKv, clusterKv] = res.current;
      if ((clusterKv?.modRevision ?? 0) !== cluster.modRevision) {
        cluster = this.opts.useCluster(clusterKv);
      } else if ((nodeKv?.modRevision ?? 0) !== nodeRevision) {
        const own = await this.reclaimOwn(req, cluster.space);
        if (own.lease) return own.lease;
        nodeRevision = own.nodeRevision;
      } else {
        // Another node won the block: note its row now rather than wait for the watch.
        if (blockKv) noteRow(taken, blockKv);
        // Losing again and again means the cache lags far behind (a sqlite store's watch polls only between
        // claims): read the blocks afresh.
        if (++lost % 3 === 0) await this.relist(taken);
      }
    }
    throw contention(`claim a block for ${req.nodeName}`);
  }

  /** Brings the cache up to a fresh list of the block keys. */
  private async relist(taken: Map<string, Row | null>): Promise<void> {
    const fresh = await this.kv.list(BLOCKS_PREFIX);
    const listed = new Set(fresh.items.map((kv) => kv.key));
    for (const [key, t] of taken) {
      if (!listed.has(key) && (t?.modRevision ?? 0) <= fresh.revision) taken.delete(key);
    }
    for (const kv of fresh.items) noteRow(taken, kv);
  }

  /**
   * The node has a node key: renew its live block or take back its quarantined one (claimedAt restarts
   * then). When the key points at nothing usable, returns its revision so the next create replaces it.
   */
  private async reclaimOwn(
    req: ClaimRequest,
    space: BlockSpace,
  ): Promise<{ lease?: BlockLease; nodeRevision: number }> {
    const now = Date.now();
    const { node, own } = await this.readOwn(req.nodeName, space);
    const state = own ? blockState(own.row, now) : 'free';
    if (node && own && state !== 'free') {
      const claimedAt = state === 'live' ? own.row.claimedAt : now;
      const next = leaseRow(own.row.block, req, now, this.opts.quarantineSeconds, claimedAt);
      if (await this.rewriteOwn(node, own, next))
        return { lease: toLease(next), nodeRevision: node.modRevision };
    }
    return { nodeRevision: node?.modRevision ?? 0 };
  }

  /** Extends the node's live lease by `ttlSeconds`; LeaseNotFound when it holds none. */
  async renew(nodeName: string, ttlSeconds: number, space: BlockSpace): Promise<BlockLease> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const { node, own } = await this.readOwn(nodeName, space);
      if (!node || !own || blockState(own.row, now) !== 'live') throw leaseNotFound(nodeName);
      const next = leaseRow(
        own.row.block,
        { ...own.row, ttlSeconds },
        now,
        this.opts.quarantineSeconds,
        own.row.claimedAt,
      );
      if (await this.rewriteOwn(node, own, next)) return toLease(next);
    }
    throw contention(`renew the lease of ${nodeName}`);
  }

  /** Puts the node's live block in quarantine; nothing when it holds none. */
  async release(nodeName: string, space: BlockSpace): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const { node, own } = await this.readOwn(nodeName, space);
      if (!node || !own || blockState(own.row, now) !== 'live') return;
      if (await this.rewriteOwn(node, own, releasedRow(own.row, now, this.opts.quarantineSeconds))) return;
    }
    throw contention(`release the block of ${nodeName}`);
  }

  /** Every stored row, checked against the pod CIDR (a foreign row is reported, never skipped). */
  async rows(space: BlockSpace | null): Promise<StoredBlock[]> {
    return (await this.kv.list(BLOCKS_PREFIX)).items.map((kv) => decodeRow(kv, space));
  }

  async close(): Promise<void> {
    this.stopCache?.();
    this.stopCache = null;
    this.taken = null;
  }
}

/**
 * Notes a block key in the cache unless it holds a newer version already: the watch, a fresh list and a
 * failed claim's answer all feed it, and they may arrive out of order.
 */
function noteRow(taken: Map<string, Row | null>, kv: KeyValue): void {
  const have = taken.get(kv.key);
  if (have && have.modRevision > kv.modRevision) return;
  try {
    taken.set(kv.key, { row: decodeRow(kv, null), modRevision: kv.modRevision });
  } catch {
    taken.set(kv.key, null); // corrupt: never handed out; listBlocks names it
  }
}

function countStates(rows: (Row | null)[], now: number): { leased: number; quarantined: number } {
  let leased = 0;
  let quarantined = 0;
  for (const r of rows) {
    const s = r ? blockState(r.row, now) : 'live';
    if (s === 'live') leased++;
    else if (s === 'quarantined') quarantined++;
  }
  return { leased, quarantined };
}

/** The live leases among rows, by block address. */
export function liveLeases(rows: StoredBlock[], now: number): BlockLease[] {
  return byBlockAddress(rows.filter((r) => blockState(r, now) === 'live').map(toLease));
}

export function quarantinedBlocks(rows: StoredBlock[], now: number): QuarantinedBlock[] {
  return byBlockAddress(rows.filter((r) => blockState(r, now) === 'quarantined').map(toQuarantined));
}

/** When the first of these leases expires: a block watch must report the expiry though nobody wrote. */
export function nextExpiry(leases: { expiresAt: string | null }[]): number {
  return Math.min(...leases.map((l) => (l.expiresAt ? Date.parse(l.expiresAt) : Number.POSITIVE_INFINITY)));
}

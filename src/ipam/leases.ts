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
  requireNodeIp6,
  storeCorrupt,
  toLease,
  toQuarantined,
  validateClaim,
} from '../store/records.js';
import type { BlockLease, ClaimRequest, NodeBlocks, QuarantinedBlock } from '../store/types.js';
import type { KeyValue, TxnOp, VersionedStore } from '../store/versioned.js';
import { type BlockChoice, type BlockSpace, chooseBlockIn, spaceOf } from './blocks.js';

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

/**
 * The cluster record as the lease rules need it: one block space per pod CIDR (family), and its mod revision
 * to guard claims.
 */
export interface ClusterView {
  spaces: BlockSpace[];
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

function decodeRow(kv: KeyValue, spaces: BlockSpace[] | null): StoredBlock {
  const where = `key ${kv.key}`;
  const row = decodeBlock(parseJson(kv.value, where), where, spaces);
  if (blockKey(row.block) !== kv.key) throw storeCorrupt(where, `it holds block ${row.block}`);
  return row;
}

const familyOf = (block: string) => (block.includes(':') ? 6 : 4);
const familyNames = (fams: number[]) => fams.map((f) => `IPv${f}`).join(' and ');

/** The node's rows in the order of the spaces, one a family; null when it holds blocks of other families. */
function inSpaceOrder(own: Row[], spaces: BlockSpace[]): Row[] | null {
  const ordered = spaces.map((s) => own.find((o) => familyOf(o.row.block) === s.podCidr.family));
  return own.length === spaces.length && ordered.every((o) => o !== undefined) ? (ordered as Row[]) : null;
}

/**
 * The node's live rows in the order of the spaces; `LeaseFamiliesMismatch` when they are of other families
 * (a store leased under another profile), so nothing is renewed or claimed half.
 */
function liveInSpaceOrder(nodeName: string, own: Row[], spaces: BlockSpace[]): Row[] {
  const ordered = inSpaceOrder(own, spaces);
  if (!ordered) {
    const held = own.map((o) => familyOf(o.row.block));
    const want = spaces.map((s) => s.podCidr.family);
    throw new PodnetError(
      'LeaseFamiliesMismatch',
      `node ${nodeName} holds ${own.map((o) => o.row.block).join(', ')} (${familyNames(held)}), but the cluster's pod CIDRs are ${familyNames(want)}`,
      {
        field: 'nodeName',
        hint: `the profile changed under leases made before; drain the node and release its blocks (\`podnet ipam release --node ${nodeName}\`), or restore the profile`,
        details: { held: own.map((o) => o.row.block), families: want },
      },
    );
  }
  return ordered;
}

/** The state of a node's rows (written together, so alike): free as soon as one is. */
function rowsState(rows: Row[], now: number): 'live' | 'quarantined' | 'free' {
  const states = rows.map((r) => blockState(r.row, now));
  if (states.length === 0 || states.includes('free')) return 'free';
  return states.includes('quarantined') ? 'quarantined' : 'live';
}

function nodeBlocks(rows: StoredBlock[]): NodeBlocks {
  return { ...toLease(rows[0]), blocks: rows.map(toLease) };
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
  /** The round-robin cursor of each family: the scan position after the last block this process handed out. */
  private readonly cursors = new Map<number, bigint>();

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

  /** The node's rows (one a family, same times) and its index key `{block, blocks}`, on one store lease. */
  private async writes(rows: StoredBlock[]): Promise<TxnOp[]> {
    const lease = await this.leaseOf(rows[0]);
    const index = { block: rows[0].block, blocks: rows.map((r) => r.block) };
    return [
      ...rows.map(
        (row): TxnOp => ({ type: 'put', key: blockKey(row.block), value: JSON.stringify(row), lease }),
      ),
      { type: 'put', key: nodeKey(rows[0].nodeName), value: JSON.stringify(index), lease },
    ];
  }

  /**
   * The node's index key and the rows it points at (when they are all still the node's). Rows of a family
   * the cluster no longer has are returned (a release frees them, a claim names them); a row of a current
   * family outside its pod CIDR is corrupt.
   */
  private async readOwn(nodeName: string, spaces: BlockSpace[]) {
    const node = await this.kv.get(nodeKey(nodeName));
    if (!node) return { node: null, own: null };
    const where = `key ${node.key}`;
    const v = parseJson(node.value, where) as { block?: unknown; blocks?: unknown } | null;
    // Stores written before dual-stack hold `{block}` only.
    const blocks = Array.isArray(v?.blocks) ? v.blocks : [v?.block];
    if (blocks.length === 0 || blocks.some((b) => typeof b !== 'string')) {
      throw storeCorrupt(where, 'it is not a node record ({block, blocks})');
    }
    const own: Row[] = [];
    for (const block of blocks as string[]) {
      const kv = await this.kv.get(blockKey(block));
      const row = kv ? decodeRow(kv, null) : null;
      if (!kv || !row || row.nodeName !== nodeName) return { node, own: null };
      const current = spaces.some((s) => s.podCidr.family === familyOf(row.block));
      if (current && !spaceOf(spaces, row.block)) decodeRow(kv, spaces); // throws StoreCorrupt, naming it
      own.push({ row, modRevision: kv.modRevision });
    }
    return { node, own };
  }

  /** Rewrites the node's own rows (renewal, reclaim, release), guarded by every key's mod revision. */
  private async rewriteOwn(node: KeyValue, own: Row[], next: StoredBlock[]): Promise<boolean> {
    const res = await this.kv.txn(
      [
        { key: node.key, modRevision: node.modRevision },
        ...own.map((o) => ({ key: blockKey(o.row.block), modRevision: o.modRevision })),
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
   * Claims a block of each family for a node, together and idempotently (see ClusterStore.claimBlock): one
   * transaction in the common case, plus a store lease grant when no recent one can be shared.
   */
  async claim(req: ClaimRequest): Promise<NodeBlocks> {
    validateClaim(req);
    let cluster = await this.opts.cluster();
    if (cluster.spaces.some((s) => s.podCidr.family === 6)) requireNodeIp6(req);
    /** The node key's mod revision once known to exist (it may point at a row that is free by now). */
    let nodeRevision = 0;
    let refreshed = false;
    let lost = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const taken = this.taken ?? (await this.loadTaken());
      let choices: BlockChoice[];
      try {
        choices = cluster.spaces.map((space) =>
          chooseBlockIn(
            space,
            {
              blockOf: () => undefined,
              isTaken: (b) => {
                const t = taken.get(blockKey(b));
                return (
                  this.pending.has(b) || t === null || (t !== undefined && blockState(t.row, now) !== 'free')
                );
              },
              counts: () =>
                countStates(
                  [...taken.values()].filter((t) => inSpace(t, space)),
                  now,
                ),
            },
            req.nodeName,
            { cursor: this.cursors.get(space.podCidr.family) ?? 0n, spread: spreadAfter(lost) },
          ),
        );
      } catch (e) {
        if (!(e instanceof PodnetError) || e.code !== 'PodCidrExhausted') throw e;
        // No free block: the node may hold one, or have its own back from quarantine.
        const own = await this.reclaimOwn(req, cluster.spaces);
        if (own.lease) return own.lease;
        if (refreshed) throw e;
        // The cache may lag behind blocks freed since, or the cluster may have grown: decide again on
        // fresh data.
        cluster = this.opts.useCluster(await this.kv.get('cluster'));
        await this.relist(taken);
        refreshed = true;
        continue;
      }
      // Marked as soon as chosen, so this process's other claims never pick them; unmarked when decided.
      for (const c of choices) this.pending.add(c.block);
      const keys = choices.map((c) => blockKey(c.block));
      const rows = choices.map((c) => leaseRow(c.block, req, now, this.opts.quarantineSeconds));
      let res: Awaited<ReturnType<VersionedStore['txn']>>;
      try {
        res = await this.kv.txn(
          [
            ...keys.map((key) => ({ key, modRevision: taken.get(key)?.modRevision ?? 0 })),
            { key: nodeKey(req.nodeName), modRevision: nodeRevision },
            { key: 'cluster', modRevision: cluster.modRevision },
          ],
          await this.writes(rows),
        );
      } finally {
        for (const c of choices) this.pending.delete(c.block);
      }
      if (res.succeeded) {
        keys.forEach((key, i) => taken.set(key, { row: rows[i], modRevision: res.revision }));
        choices.forEach((c, i) => {
          if (c.position !== null) this.cursors.set(cluster.spaces[i].podCidr.family, c.position + 1n);
        });
        return nodeBlocks(rows);
      }
      const blockKvs = res.current.slice(0, keys.length);
      const [nodeKv, clusterKv] = res.current.slice(keys.length);
      if ((clusterKv?.modRevision ?? 0) !== cluster.modRevision) {
        cluster = this.opts.useCluster(clusterKv);
      } else if ((nodeKv?.modRevision ?? 0) !== nodeRevision) {
        const own = await this.reclaimOwn(req, cluster.spaces);
        if (own.lease) return own.lease;
        nodeRevision = own.nodeRevision;
      } else {
        // Another node won a block: note its row now rather than wait for the watch.
        for (const kv of blockKvs) if (kv) noteRow(taken, kv);
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
   * The node has a node key: renew its live blocks or take back its quarantined ones (claimedAt restarts
   * then). When the key points at nothing usable, returns its revision so the next create replaces it.
   */
  private async reclaimOwn(
    req: ClaimRequest,
    spaces: BlockSpace[],
  ): Promise<{ lease?: NodeBlocks; nodeRevision: number }> {
    const now = Date.now();
    const { node, own } = await this.readOwn(req.nodeName, spaces);
    const state = own ? rowsState(own, now) : 'free';
    // Released blocks of other families stay in quarantine: the node claims a fresh set instead.
    const ordered =
      node && own && state !== 'free'
        ? state === 'live'
          ? liveInSpaceOrder(req.nodeName, own, spaces)
          : inSpaceOrder(own, spaces)
        : null;
    if (node && ordered) {
      const next = ordered.map((o) =>
        leaseRow(
          o.row.block,
          req,
          now,
          this.opts.quarantineSeconds,
          state === 'live' ? o.row.claimedAt : now,
        ),
      );
      if (await this.rewriteOwn(node, ordered, next))
        return { lease: nodeBlocks(next), nodeRevision: node.modRevision };
    }
    return { nodeRevision: node?.modRevision ?? 0 };
  }

  /** Extends the node's live lease by `ttlSeconds`; LeaseNotFound when it holds none. */
  async renew(nodeName: string, ttlSeconds: number, spaces: BlockSpace[]): Promise<NodeBlocks> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const { node, own } = await this.readOwn(nodeName, spaces);
      if (!node || !own || rowsState(own, now) !== 'live') throw leaseNotFound(nodeName);
      const ordered = liveInSpaceOrder(nodeName, own, spaces);
      const next = ordered.map((o) =>
        leaseRow(o.row.block, { ...o.row, ttlSeconds }, now, this.opts.quarantineSeconds, o.row.claimedAt),
      );
      if (await this.rewriteOwn(node, ordered, next)) return nodeBlocks(next);
    }
    throw contention(`renew the lease of ${nodeName}`);
  }

  /** Puts the node's live blocks (of whatever family) in quarantine; nothing when it holds none. */
  async release(nodeName: string, spaces: BlockSpace[]): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now();
      const { node, own } = await this.readOwn(nodeName, spaces);
      if (!node || !own || rowsState(own, now) !== 'live') return;
      const next = own.map((o) => releasedRow(o.row, now, this.opts.quarantineSeconds));
      if (await this.rewriteOwn(node, own, next)) return;
    }
    throw contention(`release the block of ${nodeName}`);
  }

  /** Every stored row, checked against the pod CIDRs (a foreign row is reported, never skipped). */
  async rows(spaces: BlockSpace[] | null): Promise<StoredBlock[]> {
    return (await this.kv.list(BLOCKS_PREFIX)).items.map((kv) => decodeRow(kv, spaces));
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

/** A cached row of the space's family (a corrupt one counts for every family: it is never handed out). */
function inSpace(t: Row | null, space: BlockSpace): boolean {
  return t === null || familyOf(t.row.block) === space.podCidr.family;
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

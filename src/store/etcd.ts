/**
 * The cluster store for many hosts: etcd v3 (npm etcd3 against etcd 3.4). Every write is compare-and-swap in
 * one transaction; there is no lock. Keys (under the prefix, default `/podnet/v1/`; blocks `a.b.c.0-24` as
 * flannel and Calico write them):
 *
 *   cluster             the cluster record (JSON with schemaVersion), CAS on its mod revision
 *   blocks/<block>      the block row (StoredBlock JSON), on an etcd lease that ends with its quarantine
 *                       (shared with keys that end up to a minute later, so a join is one round trip:
 *                       etcd-leases.ts)
 *   nodes/<nodeName>    {block}, on the same etcd lease: the node -> block index that makes claims idempotent
 *
 * A block row stays live until its `expiresAt`, then waits in quarantine until the etcd lease deletes both
 * keys, so expiry and quarantine need no sweeper and no clock agreement beyond the lease.
 */
import { Etcd3, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import { PodnetError } from '../errors/index.js';
import { type BlockSpace, chooseBlockIn } from '../ipam/blocks.js';
import type { ClusterProfile } from '../profile/types.js';
import { leaseNotFound } from './block-table.js';
import { LeaseReuse } from './etcd-leases.js';
import {
  DEFAULT_QUARANTINE_SECONDS,
  type StoreOptions,
  type StoredBlock,
  blockState,
  byBlockAddress,
  clusterNotFound,
  clusterSpace,
  decodeBlock,
  decodeCluster,
  encodeCluster,
  leaseRow,
  nextCluster,
  parseJson,
  releasedRow,
  storeCorrupt,
  toLease,
  toQuarantined,
  validateClaim,
} from './records.js';
import type { BlockLease, ClaimRequest, ClusterRecord, ClusterStore, QuarantinedBlock } from './types.js';
import { type PollSource, nextExpiry, pollWatch } from './watch.js';

/** Compare-and-swap attempts before a claim gives up with a retryable error. */
const MAX_ATTEMPTS = 30;
/**
 * A claimer picks at random among this many free blocks after its cursor, doubling after each lost race, so
 * hosts joining at once without a lock rarely race for the same block (flannel picks among 100).
 */
const spreadAfter = (lostRaces: number) => Math.min(1024, 64 << lostRaces);
/** Deadline of one etcd call: a dead member must fail the call, not hang the agent. */
const CALL_TIMEOUT_MS = 5_000;

export function blockKey(block: string): string {
  return `blocks/${block.replace('/', '-')}`;
}

const nodeKey = (nodeName: string) => `nodes/${nodeName}`;
/** `blocks/10.244.3.0-24` -> `10.244.3.0/24` */
const blockOfKey = (key: string) => {
  const b = key.slice('blocks/'.length);
  const dash = b.lastIndexOf('-');
  return `${b.slice(0, dash)}/${b.slice(dash + 1)}`;
};

interface Read<T> {
  value: T;
  kv: IKeyValue;
}

export class EtcdStore implements ClusterStore {
  readonly url: string;
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private readonly quarantineSeconds: number;
  /** Blocks seen taken (a key exists); stale entries only cost a skipped block until the next re-list. */
  private taken: Map<string, StoredBlock | null> | null = null;
  private loading: Promise<Map<string, StoredBlock | null>> | null = null;
  private cacheWatcher: Watcher | null = null;
  /** Blocks this process is claiming right now, so its own concurrent claims pick different ones. */
  private readonly pending = new Set<string>();
  private readonly leases = new LeaseReuse(
    async (ttlSeconds) => (await this.ns.leaseClient.leaseGrant({ TTL: ttlSeconds })).ID,
  );
  private cursor = 0n;

  constructor(url: string, hosts: string[], prefix: string, opts: StoreOptions = {}) {
    this.url = url;
    this.quarantineSeconds = opts.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS;
    this.client = new Etcd3({
      hosts,
      dialTimeout: CALL_TIMEOUT_MS,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    });
    this.ns = this.client.namespace(prefix);
  }

  /** Maps client failures (member down, deadline) to StoreUnreachable; PodnetErrors pass through. */
  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PodnetError) throw e;
      throw new PodnetError(
        'StoreUnreachable',
        `etcd store ${this.url}: ${what} failed: ${(e as Error).message}`,
        {
          field: '--store',
          hint: 'check that the etcd members are running and reachable; the request is safe to retry',
          retryable: true,
          cause: e,
        },
      );
    }
  }

  /** Verifies the etcd endpoints answer (openStore fails fast instead of at the first real call). */
  async ping(): Promise<void> {
    await this.guard('connecting', () => this.ns.get('cluster').exec());
  }

  private async read<T>(key: string, decode: (value: unknown, where: string) => T): Promise<Read<T> | null> {
    const res = await this.ns.get(key).exec();
    const kv = res.kvs[0];
    if (!kv) return null;
    return { value: decode(parseJson(kv.value.toString(), `key ${key}`), `key ${key}`), kv };
  }

  private readCluster(): Promise<Read<ClusterRecord> | null> {
    return this.read('cluster', decodeCluster);
  }

  private async requireCluster(): Promise<BlockSpace> {
    return this.useCluster(await this.readCluster()).space;
  }

  async getCluster(): Promise<ClusterRecord | null> {
    return this.guard('reading the cluster record', async () => (await this.readCluster())?.value ?? null);
  }

  async putCluster(profile: ClusterProfile, expectedGeneration: number): Promise<ClusterRecord> {
    return this.guard('writing the cluster record', async () => {
      const current = await this.readCluster();
      const next = nextCluster(current?.value ?? null, profile, expectedGeneration, Date.now());
      const res = await this.ns
        .if('cluster', current ? 'Mod' : 'Create', '==', current ? current.kv.mod_revision : 0)
        .then(this.ns.put('cluster').value(encodeCluster(next)))
        .commit();
      if (!res.succeeded) {
        const now = await this.readCluster();
        return nextCluster(now?.value ?? null, profile, expectedGeneration, Date.now()); // throws the conflict
      }
      return next;
    });
  }

  /** A put for a transaction, on `lease` when there is one. */
  private putOn(lease: string | null) {
    return (key: string, value: string) => {
      const p = this.ns.put(key).value(value);
      return lease ? p.lease(lease) : p;
    };
  }

  /** The etcd lease a row's keys go on: one that ends with the row's quarantine (shared; see etcd-leases.ts). */
  private async leaseOf(row: StoredBlock): Promise<string | null> {
    if (row.quarantineUntil === null) return null; // a reservation lives without a lease
    return this.leases.leaseUntil(row.quarantineUntil);
  }

  private async readOwn(nodeName: string, space: BlockSpace) {
    const node = await this.read(nodeKey(nodeName), (v, where) => {
      const block = (v as { block?: unknown } | null)?.block;
      if (typeof block !== 'string') throw storeCorrupt(where, 'it is not a node record ({block})');
      return block;
    });
    if (!node) return { node: null, row: null };
    const row = await this.read(blockKey(node.value), (v, where) => decodeBlock(v, where, space));
    return { node, row: row && row.value.nodeName === nodeName ? row : null };
  }

  /**
   * Rewrites the node's own block row (renewal, reclaim, release) onto a lease that ends with its new
   * quarantine, guarded by both keys' mod revisions. The old lease is left to expire: it may carry other keys.
   */
  private async rewriteOwn(node: Read<string>, row: Read<StoredBlock>, next: StoredBlock): Promise<boolean> {
    const put = this.putOn(await this.leaseOf(next));
    const res = await this.ns
      .if(nodeKey(next.nodeName), 'Mod', '==', node.kv.mod_revision)
      .and(blockKey(next.block), 'Mod', '==', row.kv.mod_revision)
      .then(
        put(blockKey(next.block), JSON.stringify(next)),
        put(nodeKey(next.nodeName), JSON.stringify({ block: next.block })),
      )
      .commit();
    return res.succeeded;
  }

  /**
   * Lists the blocks once and keeps the list current with a watch from the next revision (flannel's list +
   * watch), so concurrent joiners see each other's claims. A broken watch drops the cache; the next claim
   * lists again. A stale cache is safe: a taken block only fails its create-if-absent, a freed one is skipped.
   */
  private loadTaken(): Promise<Map<string, StoredBlock | null>> {
    this.loading ??= this.listTaken().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async listTaken(): Promise<Map<string, StoredBlock | null>> {
    const res = await this.ns.getAll().prefix('blocks/').exec();
    const taken = new Map<string, StoredBlock | null>();
    for (const kv of res.kvs) {
      const key = this.relativeKey(kv);
      taken.set(
        blockOfKey(key),
        decodeBlock(parseJson(kv.value.toString(), `key ${key}`), `key ${key}`, null),
      );
    }
    this.cacheWatcher?.removeAllListeners();
    this.cacheWatcher?.cancel().catch(() => {});
    const watcher = await this.ns
      .watch()
      .prefix('blocks/')
      .startRevision(String(BigInt(res.header.revision) + 1n))
      .create();
    watcher.on('put', (kv) => taken.set(blockOfKey(this.relativeKey(kv)), null));
    watcher.on('delete', (kv) => taken.delete(blockOfKey(this.relativeKey(kv))));
    const drop = () => {
      if (this.taken === taken) this.taken = null;
    };
    watcher.on('disconnected', drop);
    watcher.on('error', drop);
    this.cacheWatcher = watcher;
    this.taken = taken;
    return taken;
  }

  /** The key without the namespace prefix (range results carry full keys). */
  private relativeKey(kv: IKeyValue): string {
    const key = kv.key.toString();
    const prefix = this.ns.prefix.toString();
    return key.startsWith(prefix) ? key.slice(prefix.length) : key;
  }

  /** The cluster record as last read: claims compare its mod revision in their transaction instead of re-reading it. */
  private cluster: { space: BlockSpace; modRevision: string } | null = null;

  private readingCluster: Promise<{ space: BlockSpace; modRevision: string }> | null = null;

  /** The first claims of a process share one read of the cluster record (a burst of joins at start-up). */
  private firstCluster() {
    this.readingCluster ??= this.readCluster()
      .then((c) => this.useCluster(c))
      .finally(() => {
        this.readingCluster = null;
      });
    return this.readingCluster;
  }

  private useCluster(c: Read<ClusterRecord> | null) {
    this.cluster = c ? { space: clusterSpace(c.value), modRevision: c.kv.mod_revision } : null;
    if (!this.cluster) throw clusterNotFound(this.url);
    return this.cluster;
  }

  /**
   * A join is one transaction (plus a lease grant when no recent lease can be shared) that creates the block
   * and node keys if both are absent and the cluster record is unchanged. When it fails, the same transaction
   * returns the node key and the cluster record, which says why: the node already holds a block (take the
   * idempotent path), the cluster changed (re-check against the new record), or another node won the block
   * (pick again).
   */
  async claimBlock(req: ClaimRequest): Promise<BlockLease> {
    validateClaim(req);
    return this.guard(`claiming a block for ${req.nodeName}`, async () => {
      let cluster = this.cluster ?? (await this.firstCluster());
      let nodeRevision: string | null = null;
      let refreshed = false;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const now = Date.now();
        const choice = await this.pickFree(req.nodeName, cluster, now, attempt, !refreshed).catch(
          async (e) => {
            // With no free block left the node may still hold one, or have its own back from quarantine.
            const own =
              e instanceof PodnetError && e.code === 'PodCidrExhausted'
                ? await this.reclaimOwn(req, cluster.space)
                : null;
            if (own?.lease) return { own: own.lease };
            throw e;
          },
        );
        if ('own' in choice) return choice.own;
        if ('refreshed' in choice) {
          cluster = choice.refreshed;
          refreshed = true;
          continue;
        }
        const row = leaseRow(choice.block, req, now, this.quarantineSeconds);
        let res: Awaited<ReturnType<ReturnType<Namespace['if']>['commit']>>;
        try {
          const put = this.putOn(await this.leaseOf(row));
          res = await this.ns
            .if(blockKey(choice.block), 'Create', '==', 0)
            .and(nodeKey(req.nodeName), nodeRevision ? 'Mod' : 'Create', '==', nodeRevision ?? 0)
            .and('cluster', 'Mod', '==', cluster.modRevision)
            .then(
              put(blockKey(choice.block), JSON.stringify(row)),
              put(nodeKey(req.nodeName), JSON.stringify({ block: choice.block })),
            )
            .else(this.ns.get(nodeKey(req.nodeName)), this.ns.get('cluster'))
            .commit();
        } finally {
          this.pending.delete(choice.block);
        }
        if (res.succeeded) {
          this.taken?.set(choice.block, row);
          if (choice.position !== null) this.cursor = choice.position + 1n;
          return toLease(row);
        }
        const [nodeKv] = res.responses[0].response_range.kvs;
        const [clusterKv] = res.responses[1].response_range.kvs;
        if (!clusterKv || clusterKv.mod_revision !== cluster.modRevision) {
          cluster = this.useCluster(clusterKv ? this.decodeClusterKv(clusterKv) : null);
        } else if (nodeKv && nodeKv.mod_revision !== nodeRevision) {
          const own = await this.reclaimOwn(req, cluster.space);
          if (own.lease) return own.lease;
          nodeRevision = own.nodeRevision;
        } else {
          this.taken?.set(choice.block, null); // another node won it; the watch brings its row
        }
      }
      throw new PodnetError(
        'BlockClaimContention',
        `could not claim a block for ${req.nodeName} in ${MAX_ATTEMPTS} attempts`,
        { field: 'nodeName', hint: 'many nodes are joining at once; retry in a moment', retryable: true },
      );
    });
  }

  private decodeClusterKv(kv: IKeyValue): Read<ClusterRecord> {
    return { value: decodeCluster(parseJson(kv.value.toString(), 'key cluster'), 'key cluster'), kv };
  }

  /**
   * The node already has a node key: renew its live block or take back its quarantined one. When the key
   * points at nothing usable (its block is gone or free), returns the key's revision so the next create
   * replaces it.
   */
  private async reclaimOwn(
    req: ClaimRequest,
    space: BlockSpace,
  ): Promise<{ lease?: BlockLease; nodeRevision: string | null }> {
    const now = Date.now();
    const { node, row } = await this.readOwn(req.nodeName, space);
    const state = row ? blockState(row.value, now) : 'free';
    if (node && row && state !== 'free') {
      const claimedAt = state === 'live' ? row.value.claimedAt : now;
      const next = leaseRow(row.value.block, req, now, this.quarantineSeconds, claimedAt);
      if (await this.rewriteOwn(node, row, next))
        return { lease: toLease(next), nodeRevision: node.kv.mod_revision };
    }
    return { nodeRevision: node?.kv.mod_revision ?? null };
  }

  /** The next free block by the policy, from the watched cache; on exhaustion decides again on fresh data. */
  private async pickFree(
    nodeName: string,
    cluster: { space: BlockSpace },
    now: number,
    attempt: number,
    mayRefresh: boolean,
  ): Promise<
    { block: string; position: bigint | null } | { refreshed: { space: BlockSpace; modRevision: string } }
  > {
    const fresh = this.taken === null || !mayRefresh;
    const taken = this.taken ?? (await this.loadTaken());
    const table = {
      blockOf: () => undefined,
      isTaken: (b: string) => taken.has(b) || this.pending.has(b),
      counts: () => {
        const states = [...taken.values()]
          .filter((r): r is StoredBlock => r !== null)
          .map((r) => blockState(r, now));
        return {
          leased: states.filter((s) => s === 'live').length,
          quarantined: states.filter((s) => s !== 'live').length,
        };
      },
    };
    try {
      const choice = chooseBlockIn(cluster.space, table, nodeName, {
        cursor: this.cursor,
        spread: spreadAfter(attempt),
      });
      // Marked as soon as chosen, so this process's other claims never pick it; the claim unmarks it.
      this.pending.add(choice.block);
      return choice;
    } catch (e) {
      if (fresh || !(e instanceof PodnetError) || e.code !== 'PodCidrExhausted') throw e;
      // The cache may hold blocks freed since, or the pod CIDR may have grown: decide again on fresh data.
      this.taken = null;
      await this.loadTaken();
      return { refreshed: this.useCluster(await this.readCluster()) };
    }
  }

  async renewBlock(nodeName: string, ttlSeconds: number): Promise<BlockLease> {
    return this.guard(`renewing the lease of ${nodeName}`, async () => {
      const space = await this.requireCluster();
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const now = Date.now();
        const { node, row } = await this.readOwn(nodeName, space);
        if (!node || !row || blockState(row.value, now) !== 'live') throw leaseNotFound(nodeName);
        const next = leaseRow(
          row.value.block,
          { ...row.value, ttlSeconds },
          now,
          this.quarantineSeconds,
          row.value.claimedAt,
        );
        if (await this.rewriteOwn(node, row, next)) return toLease(next);
      }
      throw new PodnetError(
        'BlockClaimContention',
        `could not renew the lease of ${nodeName}: it kept changing`,
        {
          field: 'nodeName',
          hint: 'retry in a moment',
          retryable: true,
        },
      );
    });
  }

  async releaseBlock(nodeName: string): Promise<void> {
    await this.guard(`releasing the block of ${nodeName}`, async () => {
      const space = await this.requireCluster();
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const now = Date.now();
        const { node, row } = await this.readOwn(nodeName, space);
        if (!node || !row || blockState(row.value, now) !== 'live') return;
        if (await this.rewriteOwn(node, row, releasedRow(row.value, now, this.quarantineSeconds))) return;
      }
    });
  }

  private async snapshot(): Promise<StoredBlock[]> {
    const cluster = await this.readCluster();
    const space = cluster ? clusterSpace(cluster.value) : null;
    const res = await this.ns.getAll().prefix('blocks/').exec();
    return res.kvs.map((kv) => {
      const key = this.relativeKey(kv);
      const row = decodeBlock(parseJson(kv.value.toString(), `key ${key}`), `key ${key}`, space);
      if (blockKey(row.block) !== key) throw storeCorrupt(`key ${key}`, `it holds block ${row.block}`);
      return row;
    });
  }

  async listBlocks(): Promise<BlockLease[]> {
    return this.guard('listing blocks', async () => {
      const now = Date.now();
      return byBlockAddress(
        (await this.snapshot()).filter((r) => blockState(r, now) === 'live').map(toLease),
      );
    });
  }

  async listQuarantined(): Promise<QuarantinedBlock[]> {
    return this.guard('listing blocks', async () => {
      const now = Date.now();
      return byBlockAddress(
        (await this.snapshot()).filter((r) => blockState(r, now) === 'quarantined').map(toQuarantined),
      );
    });
  }

  async watchBlocks(onChange: (leases: BlockLease[]) => void): Promise<() => void> {
    return this.watchKeys(
      'watching blocks',
      () => this.ns.watch().prefix('blocks/').create(),
      { read: () => this.listBlocks(), nextChangeAt: nextExpiry },
      onChange,
    );
  }

  async watchCluster(onChange: (record: ClusterRecord | null) => void): Promise<() => void> {
    return this.watchKeys(
      'watching the cluster record',
      () => this.ns.watch().key('cluster').create(),
      { read: () => this.getCluster() },
      onChange,
    );
  }

  /**
   * Level-based: every watch event (and a reconnect, and a 10 s tick) only marks the snapshot dirty and it is
   * read again in full, so a compacted or broken watch can lose no change.
   */
  private async watchKeys<T>(
    what: string,
    create: () => Promise<Watcher>,
    source: Omit<PollSource<T>, 'marker'>,
    onChange: (snapshot: T) => void,
  ): Promise<() => void> {
    const watcher = await this.guard(what, create);
    let events = 0;
    const bump = () => {
      events++;
    };
    for (const ev of ['put', 'delete', 'connected', 'disconnected', 'error']) watcher.on(ev as 'put', bump);
    const stop = await pollWatch(
      { ...source, marker: () => `${events}:${Math.floor(Date.now() / 10_000)}` },
      onChange,
      100,
    );
    return () => {
      stop();
      watcher.cancel().catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.cacheWatcher?.removeAllListeners();
    await this.cacheWatcher?.cancel().catch(() => {});
    this.client.close();
  }
}

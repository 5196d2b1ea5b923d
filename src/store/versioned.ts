/**
 * The versioned store: the one small storage contract every podnet backend implements (memory, sqlite,
 * etcd), in the spirit of flannel's registry and the Kubernetes storage interface. Everything podnet keeps in
 * the cluster store (the cluster record, block leases, cluster objects, pod endpoints) is written over it, so
 * a new kind of data never means new methods in three backends.
 *
 * - Keys are text relative to the store's prefix (`blocks/10.244.3.0-24`, `objects/v1/pods/default/web`);
 *   values are JSON text. Listing is by key prefix, sorted by key.
 * - One revision counter per store, bumped by every successful write transaction (etcd's main revision).
 *   Each key carries the revision that created it and the one that last changed it.
 * - Writes are transactions guarded by compare-and-swap on keys' mod revisions (0 = the key must not exist):
 *   all of the transaction's operations take effect, or none does.
 * - Leases (etcd's model): a key put on a lease is deleted when the lease expires or is revoked; the holder
 *   keeps it alive. A node's block lease and its pod endpoints live on leases, so a dead node's data goes
 *   away by itself.
 * - Watch by prefix from a revision: the changes after that revision in order; when that revision is too old
 *   for the backend's history (compacted), a fresh snapshot instead, so a watcher can never miss a change.
 *   Expiries of leases show up as deletes like any other change.
 */

/** One stored key. Revisions are store-wide counters (numbers: etcd's int64 stays below 2^53 in practice). */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** The lease the key lives on, or null when it lives until deleted. */
  lease: string | null;
}

/** A transaction's guard: the key's mod revision must equal `modRevision` (0 = the key must not exist). */
export interface Compare {
  key: string;
  modRevision: number;
}

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string | null }
  | { type: 'delete'; key: string };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction (or when it was evaluated, when it failed). */
  revision: number;
  /**
   * When the guard failed: the current state of every compared key, in the order given (null = absent),
   * so the caller can tell why without another read.
   */
  current: (KeyValue | null)[];
}

export interface Lease {
  id: string;
  ttlSeconds: number;
}

export type WatchUpdate =
  /** The whole prefix as of `revision`: at the start, and again when the asked revision was compacted away. */
  | { type: 'snapshot'; revision: number; items: KeyValue[] }
  /** Changes in revision order; a delete carries the key only. */
  | {
      type: 'events';
      revision: number;
      events: ({ type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number })[];
    };

export interface WatchOptions {
  /** Report the changes after this revision first; omitted = start with a snapshot. */
  afterRevision?: number;
}

export interface VersionedStore {
  /** `memory:`, `sqlite:PATH`, `etcd:URL[,URL...]`, for messages. */
  readonly url: string;
  get(key: string): Promise<KeyValue | null>;
  /** Every key under `prefix`, sorted by key, and the revision the list was read at. */
  list(prefix: string): Promise<{ revision: number; items: KeyValue[] }>;
  /** Applies `ops` if every compare holds, atomically. */
  txn(compares: Compare[], ops: TxnOp[]): Promise<TxnResult>;
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Restarts the lease's time to live; `LeaseNotFound` when it expired or was revoked. */
  keepAlive(lease: string): Promise<void>;
  /** Ends the lease now and deletes its keys; a lease that is already gone is fine. */
  revokeLease(lease: string): Promise<void>;
  /**
   * Calls `onUpdate` with a snapshot (or, with `afterRevision`, the changes after it) and then with every
   * change under `prefix`, in order. Returns a function that stops watching.
   */
  watch(prefix: string, onUpdate: (u: WatchUpdate) => void, opts?: WatchOptions): Promise<() => void>;
  close(): Promise<void>;
}

/** Creates `key` if it does not exist; false when it does. */
export async function createKey(
  store: VersionedStore,
  key: string,
  value: string,
  lease?: string | null,
): Promise<boolean> {
  return (await store.txn([{ key, modRevision: 0 }], [{ type: 'put', key, value, lease }])).succeeded;
}

/**
 * The versioned store in process memory: the contract of versioned.ts over plain maps, with the same
 * revisions, leases and watch semantics as the sqlite and etcd backends. Nothing survives the process; it
 * serves tests of the rules written over the contract and the in-process benchmarks.
 */
import { leaseNotFound, storeClosed } from './versioned-errors.js';
import type {
  Compare,
  KeyValue,
  Lease,
  TxnOp,
  TxnResult,
  VersionedStore,
  WatchOptions,
  WatchUpdate,
} from './versioned.js';

type Event = { type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number };

interface Watcher {
  prefix: string;
  onUpdate: (u: WatchUpdate) => void;
}

/** How many past events a watcher may ask for; older revisions get a snapshot (as after a compaction). */
const HISTORY = 10_000;

export class MemoryVersionedStore implements VersionedStore {
  readonly url = 'memory:';
  private readonly kvs = new Map<string, KeyValue>();
  private readonly leases = new Map<string, { ttlSeconds: number; timer: NodeJS.Timeout }>();
  private readonly history: { revision: number; event: Event }[] = [];
  private readonly watchers = new Set<Watcher>();
  private revision = 0;
  private nextLease = 1;
  private closed = false;

  async get(key: string): Promise<KeyValue | null> {
    return this.kvs.get(key) ?? null;
  }

  async list(prefix: string): Promise<{ revision: number; items: KeyValue[] }> {
    return { revision: this.revision, items: this.under(prefix) };
  }

  private under(prefix: string): KeyValue[] {
    return [...this.kvs.values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async txn(compares: Compare[], ops: TxnOp[]): Promise<TxnResult> {
    this.open();
    const current = compares.map((c) => this.kvs.get(c.key) ?? null);
    const holds = compares.every((c, i) => (current[i]?.modRevision ?? 0) === c.modRevision);
    if (!holds) return { succeeded: false, revision: this.revision, current };
    for (const op of ops) {
      if (op.type === 'put' && op.lease && !this.leases.has(op.lease)) throw leaseNotFound(op.lease);
    }
    if (ops.length > 0) this.commit(ops);
    return { succeeded: true, revision: this.revision, current: [] };
  }

  private commit(ops: TxnOp[]): void {
    const revision = ++this.revision;
    const events: Event[] = [];
    for (const op of ops) {
      if (op.type === 'put') {
        const old = this.kvs.get(op.key);
        const kv: KeyValue = {
          key: op.key,
          value: op.value,
          createRevision: old?.createRevision ?? revision,
          modRevision: revision,
          lease: op.lease ?? null,
        };
        this.kvs.set(op.key, kv);
        events.push({ type: 'put', kv });
      } else if (this.kvs.delete(op.key)) {
        events.push({ type: 'delete', key: op.key, modRevision: revision });
      }
    }
    for (const event of events) this.history.push({ revision, event });
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    this.emit(revision, events);
  }

  private emit(revision: number, events: Event[]): void {
    for (const w of this.watchers) {
      const mine = events.filter((e) => (e.type === 'put' ? e.kv.key : e.key).startsWith(w.prefix));
      if (mine.length > 0) w.onUpdate({ type: 'events', revision, events: mine });
    }
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.open();
    const id = String(this.nextLease++);
    this.leases.set(id, { ttlSeconds, timer: this.expiryTimer(id, ttlSeconds) });
    return { id, ttlSeconds };
  }

  private expiryTimer(id: string, ttlSeconds: number): NodeJS.Timeout {
    const t = setTimeout(() => this.endLease(id), ttlSeconds * 1000);
    t.unref();
    return t;
  }

  async keepAlive(lease: string): Promise<void> {
    const l = this.leases.get(lease);
    if (!l) throw leaseNotFound(lease);
    clearTimeout(l.timer);
    l.timer = this.expiryTimer(lease, l.ttlSeconds);
  }

  async revokeLease(lease: string): Promise<void> {
    this.endLease(lease);
  }

  private endLease(id: string): void {
    const l = this.leases.get(id);
    if (!l) return;
    clearTimeout(l.timer);
    this.leases.delete(id);
    const keys = [...this.kvs.values()].filter((kv) => kv.lease === id).map((kv) => kv.key);
    if (keys.length > 0 && !this.closed) this.commit(keys.map((key) => ({ type: 'delete', key })));
  }

  async watch(
    prefix: string,
    onUpdate: (u: WatchUpdate) => void,
    opts: WatchOptions = {},
  ): Promise<() => void> {
    this.open();
    const after = opts.afterRevision;
    const oldest = this.history[0]?.revision ?? this.revision + 1;
    if (after === undefined || after + 1 < oldest) {
      onUpdate({ type: 'snapshot', revision: this.revision, items: this.under(prefix) });
    } else {
      // Replay what happened after `after`, one update per revision, as the backends deliver it.
      let batch: Event[] = [];
      let at = 0;
      for (const h of this.history) {
        if (h.revision <= after) continue;
        const key = h.event.type === 'put' ? h.event.kv.key : h.event.key;
        if (!key.startsWith(prefix)) continue;
        if (h.revision !== at && batch.length > 0) {
          onUpdate({ type: 'events', revision: at, events: batch });
          batch = [];
        }
        at = h.revision;
        batch.push(h.event);
      }
      if (batch.length > 0) onUpdate({ type: 'events', revision: at, events: batch });
    }
    const w: Watcher = { prefix, onUpdate };
    this.watchers.add(w);
    return () => {
      this.watchers.delete(w);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    for (const l of this.leases.values()) clearTimeout(l.timer);
  }

  private open(): void {
    if (this.closed) throw storeClosed(this.url);
  }
}

export { leaseNotFound } from './versioned-errors.js';

/**
 * The agent's endpoint publisher: keeps the node's keys under `endpoints/<node>/` equal to its pod address
 * list (the truth), with the labels of each pod's `Pod` object, on a store lease of the node's own that the
 * publisher keeps alive, so a dead node's endpoints go when the lease runs out.
 *
 * Level-based and off the CNI path: a CNI ADD/DEL/GC only asks for a pass (`podsChanged`), which runs in the
 * background; a failed pass (store unreachable) is retried with backoff and recomputes everything, so the
 * pod network never waits for, or depends on, the store. Labels follow a watch of each local pod's object.
 */
import {
  type NamedPort,
  type PodHost,
  type PublishedKey,
  batches,
  desiredEndpoints,
  endpointChanges,
  nodeEndpointsPrefix,
  podObjectFacts,
  podObjectKey,
  podOf,
} from '../endpoints/record.js';
import { asPodnetError } from '../errors/index.js';
import type { PodAddress } from '../ipam/types.js';
import type { KeyValue, VersionedStore, WatchUpdate } from '../store/versioned.js';
import { CoalescedPass } from './coalesce.js';
import { type Logger, errFields } from './log.js';

/** A dead node's endpoints outlive it by at most this long; renewed every third of it. */
export const ENDPOINT_LEASE_TTL_S = 30;
/** Operations per transaction: below etcd's default limit of 128. */
const TXN_OPS = 64;
/** The published keys are listed again this often, so a key changed behind the publisher's back is fixed. */
const RELIST_MS = 300_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;

export interface EndpointPublisherOptions {
  store: VersionedStore;
  node: string;
  nodeIp: string;
  /** The node's pod address list. */
  addresses(): PodAddress[];
  log: Logger;
  leaseTtlSeconds?: number;
}

export interface EndpointPublisherStatus {
  published: number;
  lease: string | null;
  passes: number;
  failures: number;
  lastError: { code: string; message: string } | null;
}

interface LabelWatch {
  labels: Record<string, string> | undefined;
  /** Its named container ports, which a Service's targetPort may name. */
  ports: NamedPort[] | undefined;
  /** Its spec.hostname and spec.subdomain, which name it in DNS. */
  host: PodHost | undefined;
  stop: (() => void) | null;
}

type PodFacts = Pick<LabelWatch, 'labels' | 'ports' | 'host'>;
const NO_FACTS: PodFacts = { labels: undefined, ports: undefined, host: undefined };

export class EndpointPublisher {
  private lease: string | null = null;
  /** The node's keys in the store as last listed or written; null = list them again first. */
  private published: Map<string, PublishedKey> | null = null;
  private readonly watches = new Map<string, LabelWatch>();
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private passes = 0;
  private failures = 0;
  private lastError: { code: string; message: string } | null = null;
  private readonly ttl: number;

  constructor(private readonly o: EndpointPublisherOptions) {
    this.ttl = o.leaseTtlSeconds ?? ENDPOINT_LEASE_TTL_S;
  }

  start(): void {
    this.timers.push(setInterval(() => void this.renew(), (this.ttl * 1000) / 3));
    this.timers.push(
      setInterval(() => {
        this.published = null;
        this.podsChanged();
      }, RELIST_MS),
    );
    for (const t of this.timers) t.unref();
    this.podsChanged();
  }

  /** Asks for a pass; passes asked for while one runs coalesce into one more. Never blocks. */
  podsChanged(): void {
    this.runner.request();
  }

  /** Resolves when no pass runs or is pending. */
  settled(): Promise<void> {
    return this.runner.settled();
  }

  /**
   * Stops publishing and watching. The keys and their lease stay: an agent restarting within the TTL adopts
   * them without a gap, and a node that does not come back loses them when the lease runs out.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.runner.settled();
    for (const w of this.watches.values()) w.stop?.();
    this.watches.clear();
  }

  status(): EndpointPublisherStatus {
    return {
      published: this.published?.size ?? 0,
      lease: this.lease,
      passes: this.passes,
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  /** One pass; a failure ends the series and is retried with backoff (`fail`). */
  private readonly runner = new CoalescedPass(
    async () => {
      try {
        await this.pass();
        this.retryMs = RETRY_MIN_MS;
        this.lastError = null;
        return undefined;
      } catch (err) {
        this.fail(err);
        return 'stop' as const;
      }
    },
    () => this.stopped,
  );

  private fail(err: unknown): void {
    const e = asPodnetError(err);
    this.failures++;
    this.published = null;
    if (e.code === 'StoreLeaseNotFound') this.lease = null;
    if (this.lastError?.message !== e.message)
      this.o.log.warn(errFields(e), 'publishing endpoints failed; will retry');
    this.lastError = { code: e.code, message: e.message };
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.podsChanged();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private async pass(): Promise<void> {
    const { store, node, nodeIp } = this.o;
    this.passes++;
    // Held here: a failed renewal meanwhile resets the fields for the next pass, not this one.
    let published = this.published;
    if (published === null) {
      const { items } = await store.list(nodeEndpointsPrefix(node));
      if (this.lease === null) this.lease = await this.adoptLease(items);
      published = new Map(items.map((kv) => [kv.key, { value: kv.value, lease: kv.lease }]));
      this.published = published;
    }
    this.lease ??= (await store.grantLease(this.ttl)).id;
    const lease = this.lease;
    const addresses = this.o.addresses();
    await this.followLabels(addresses);
    const desired = desiredEndpoints({
      node,
      nodeIp,
      addresses,
      labelsOf: (pod) => this.watches.get(podObjectKey(pod))?.labels,
      portsOf: (pod) => this.watches.get(podObjectKey(pod))?.ports,
      hostOf: (pod) => this.watches.get(podObjectKey(pod))?.host,
    });
    for (const ops of batches(endpointChanges(desired, published, lease), TXN_OPS)) {
      await store.txn([], ops);
      for (const op of ops) {
        if (op.type === 'put') published.set(op.key, { value: op.value, lease });
        else published.delete(op.key);
      }
    }
  }

  /** The lease the node's keys already live on when it is still alive (an agent restart), else none. */
  private async adoptLease(items: KeyValue[]): Promise<string | null> {
    const lease = items.find((kv) => kv.lease !== null)?.lease;
    if (!lease) return null;
    try {
      await this.o.store.keepAlive(lease);
      return lease;
    } catch {
      return null;
    }
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.lease === null) return;
    try {
      await this.o.store.keepAlive(this.lease);
    } catch (err) {
      // A lost lease took the keys with it: the next pass grants a new one and publishes everything again.
      this.fail(err);
    }
  }

  /** Watches the `Pod` object of every local pod (its labels), and stops watching those of gone pods. */
  private async followLabels(addresses: PodAddress[]): Promise<void> {
    const wanted = new Set<string>();
    for (const a of addresses) {
      const pod = podOf(a);
      if (pod) wanted.add(podObjectKey(pod));
    }
    for (const [key, w] of this.watches) {
      if (wanted.has(key)) continue;
      w.stop?.();
      this.watches.delete(key);
    }
    for (const key of wanted) {
      if (this.watches.has(key)) continue;
      const w: LabelWatch = { ...NO_FACTS, stop: null };
      this.watches.set(key, w);
      try {
        w.stop = await this.o.store.watch(key, (u) => this.onPodObject(key, w, u));
      } catch (err) {
        this.watches.delete(key);
        throw err;
      }
    }
  }

  private onPodObject(key: string, w: LabelWatch, u: WatchUpdate): void {
    // The prefix also matches longer names (`web` and `web-2`): only the exact key counts.
    const known: PodFacts = { labels: w.labels, ports: w.ports, host: w.host };
    let facts = known;
    if (u.type === 'snapshot') facts = this.factsIn(u.items.find((kv) => kv.key === key));
    else {
      for (const e of u.events) {
        if (e.type === 'put' && e.kv.key === key) facts = this.factsIn(e.kv);
        else if (e.type === 'delete' && e.key === key) facts = NO_FACTS;
      }
    }
    if (JSON.stringify(facts) === JSON.stringify(known)) return;
    Object.assign(w, facts);
    if (!this.stopped) this.podsChanged();
  }

  /** The labels, named ports and DNS host fields of a Pod object. */
  private factsIn(kv: KeyValue | undefined): PodFacts {
    if (!kv) return NO_FACTS;
    try {
      return podObjectFacts(kv);
    } catch (err) {
      this.o.log.warn(
        { key: kv.key, ...errFields(err) },
        'pod object unreadable; its endpoint has no labels',
      );
      return NO_FACTS;
    }
  }
}

/**
 * The node's block lease over its life: claimed at start (idempotent: the same block after a restart), renewed
 * every third of its TTL (at most hourly), claimed again when the store has lost it (expired or released by
 * hand). The agent learns only what it must act on: which block the node holds, and that a re-claim happened.
 */
import type { Counter } from 'prom-client';
import type { ClaimRequest, ClusterStore, NodeBlocks } from '../store/types.js';
import { type Logger, errFields } from './log.js';
import type { StoreHealth } from './store-health.js';

const MAX_RENEW_INTERVAL_S = 3600;

export interface NodeLeaseDeps {
  store: ClusterStore;
  log: Logger;
  health: StoreHealth;
  /** `podnet_store_lease_renewals_total{result}`: ok, reclaimed, error. */
  renewals: Counter<'result'>;
  /** The claim as of now: the pool's max pods can change with the profile between claims. */
  request(): ClaimRequest;
  /**
   * The node holds `lease`, after a claim. `previous` is the lease it held before, if any: a different block
   * there means the old lease expired and another node took the block, so its pods lost their addresses' route.
   */
  held(lease: NodeBlocks, previous: NodeBlocks | null): void;
  /** A lost lease was claimed again: peers and the store may have moved on, so reconcile. */
  reclaimed(): void;
}

/** The renewal period for a TTL: a third of it, so two renewals can fail before the lease runs out. */
export function renewIntervalSeconds(ttlSeconds: number): number {
  return Math.max(1, Math.min(ttlSeconds / 3, MAX_RENEW_INTERVAL_S));
}

export class NodeLease {
  private lease: NodeBlocks | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: NodeLeaseDeps) {}

  get current(): NodeBlocks | null {
    return this.lease;
  }

  /** Claims the block; errors (exhausted pod CIDR, unreachable store) are the caller's to report. */
  async claim(): Promise<NodeBlocks> {
    const lease = await this.deps.store.claimBlock(this.deps.request());
    const previous = this.lease;
    if (previous && previous.block !== lease.block) {
      // Loud, because it means the agent was away longer than the lease TTL.
      this.deps.log.error(
        { old: previous.block, block: lease.block, code: 'BlockChanged' },
        'node block changed',
      );
    }
    this.lease = lease;
    this.deps.held(lease, previous);
    return lease;
  }

  /** Starts renewing; the first claim must have happened. */
  startRenewing(): void {
    const { ttlSeconds } = this.deps.request();
    this.timer = setInterval(() => void this.renew(), renewIntervalSeconds(ttlSeconds) * 1000);
  }

  /** Stops renewing. The lease stays in the store, so the next start gets the same block back. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Renews the lease; a lease the store no longer has is claimed again. */
  async renew(): Promise<void> {
    const { store, log, health, renewals } = this.deps;
    const { nodeName, ttlSeconds } = this.deps.request();
    try {
      this.lease = await store.renewBlock(nodeName, ttlSeconds);
      renewals.inc({ result: 'ok' });
      health.ok();
    } catch (err) {
      if ((err as { code?: string }).code === 'LeaseNotFound' && (await this.reclaim())) return;
      renewals.inc({ result: 'error' });
      health.failed(err);
      log.warn(errFields(err), 'lease renewal failed');
    }
  }

  private async reclaim(): Promise<boolean> {
    try {
      await this.claim();
    } catch (err) {
      this.deps.log.warn(errFields(err), 'claiming the block again failed');
      return false;
    }
    this.deps.renewals.inc({ result: 'reclaimed' });
    this.deps.health.ok();
    this.deps.log.warn({ block: this.lease?.block }, 'lease was gone; claimed again');
    this.deps.reclaimed();
    return true;
  }
}

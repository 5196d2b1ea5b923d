/**
 * Store lease reuse for block keys (on every backend; the trick matters for etcd). Every block row lives on a
 * store lease that ends with its quarantine, so a key outlives its row's own timestamps only by a bounded
 * margin and the store deletes it with no sweeper. A
 * fresh lease per claim would make a join two round trips (grant, then the transaction); instead, keys whose
 * lifetimes end close together share one lease, as the Kubernetes API server does for its etcd leases: a
 * lease is granted a little longer than asked (5% of the TTL, at most 60 s) and then serves every key that
 * must live at least until the lease's end and at most that margin less.
 *
 * What that costs: a block's quarantine can last up to the margin longer than configured, never shorter.
 * A shared lease is never revoked (it may carry other nodes' keys); one whose keys have all moved to newer
 * leases simply expires. Short TTLs (under 20 s, as in tests) get a margin of 0: keys share a lease only
 * within etcd's whole-second rounding, so expiry is as precise as with a lease per key.
 */

/** Longest a key may outlive its own end by sharing a lease. */
export const MAX_REUSE_MARGIN_SECONDS = 60;
/** Share of a TTL a key may outlive its end by (the margin grows with the TTL up to the cap). */
export const REUSE_MARGIN_SHARE = 0.05;
/** Keys per shared lease, so one lease ending never deletes an unbounded number of keys at once. */
export const MAX_KEYS_PER_LEASE = 1000;

export interface GrantedLease {
  id: string;
  /** Earliest the lease can end (ms, local clock at grant request time; etcd counts from later). */
  endsAt: number;
  /** Keys attached to it by this process. */
  keys: number;
}

/** How long past its own end a key with this TTL may live on a shared lease. */
export function reuseMarginSeconds(ttlSeconds: number): number {
  return Math.min(MAX_REUSE_MARGIN_SECONDS, Math.floor(ttlSeconds * REUSE_MARGIN_SHARE));
}

/** etcd TTLs are whole seconds: a lease is granted up to this much past the end it was asked for. */
const ROUNDING_MS = 2000;

/** The TTL to grant for a key that must live until `until`, leaving room for keys to share it. */
export function grantSeconds(until: number, now: number): number {
  const seconds = (until - now) / 1000;
  return Math.ceil(seconds) + 1 + reuseMarginSeconds(seconds);
}

/**
 * True when `lease` can carry a key that must live until `until` (ms): it does not end before that, ends no
 * more than the key's margin (plus TTL rounding) after, and has room for one more key.
 */
export function canReuse(lease: GrantedLease | null, until: number, now: number): boolean {
  if (!lease || lease.keys >= MAX_KEYS_PER_LEASE) return false;
  const margin = reuseMarginSeconds((until - now) / 1000) * 1000;
  return lease.endsAt >= until && lease.endsAt <= until + margin + ROUNDING_MS;
}

/**
 * Hands out leases for keys that must live until a given time, granting a new one only when the current
 * cannot serve; callers arriving while a grant is in flight wait for it before granting their own.
 */
export class LeaseReuse {
  private current: GrantedLease | null = null;
  private granting: Promise<GrantedLease> | null = null;

  constructor(private readonly grant: (ttlSeconds: number) => Promise<string>) {}

  /** A lease id for a key that must live until `until` (ms since the epoch, local clock). */
  async leaseUntil(until: number): Promise<string> {
    const reuse = () => {
      const lease = this.current;
      if (!lease || !canReuse(lease, until, Date.now())) return null;
      lease.keys++;
      return lease.id;
    };
    const shared = reuse() ?? (this.granting && (await this.granting) && reuse());
    if (shared) return shared;
    const lease = await this.startGrant(until);
    lease.keys++;
    return lease.id;
  }

  private startGrant(until: number): Promise<GrantedLease> {
    const now = Date.now();
    const ttl = grantSeconds(until, now);
    const granting = this.grant(ttl)
      .then((id) => {
        const lease = { id, endsAt: now + ttl * 1000, keys: 0 };
        this.current = lease;
        return lease;
      })
      .finally(() => {
        if (this.granting === granting) this.granting = null;
      });
    this.granting = granting;
    return granting;
  }
}

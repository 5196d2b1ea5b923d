import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type GrantedLease,
  LeaseReuse,
  MAX_KEYS_PER_LEASE,
  canReuse,
  grantSeconds,
  reuseMarginSeconds,
} from './etcd-leases.js';

const HOUR = 3600_000;

describe('etcd lease reuse', () => {
  it('lets a key outlive its end by 5% of its TTL, at most a minute, and short TTLs by nothing', () => {
    assert.equal(reuseMarginSeconds(10), 0);
    assert.equal(reuseMarginSeconds(19.9), 0);
    assert.equal(reuseMarginSeconds(600), 30);
    assert.equal(reuseMarginSeconds(4200), 60);
  });

  it('grants a lease that ends after the key must, by rounding and the margin', () => {
    const now = 1_000_000;
    assert.equal(grantSeconds(now + 1500, now), 2 + 1 + 0);
    assert.equal(grantSeconds(now + 600_000, now), 600 + 1 + 30);
  });

  it('shares a lease only when it ends no earlier than the key and within its margin', () => {
    const now = 1_000_000;
    const until = now + HOUR;
    const lease = (endsAt: number, keys = 0): GrantedLease => ({ id: '1', endsAt, keys });
    assert.equal(canReuse(lease(until), until, now), true);
    assert.equal(canReuse(lease(until - 1), until, now), false, 'would delete the key early');
    assert.equal(canReuse(lease(until + 62_000), until, now), true, '60 s margin + rounding');
    assert.equal(canReuse(lease(until + 62_001), until, now), false, 'would hold the key too long');
    assert.equal(canReuse(lease(until, MAX_KEYS_PER_LEASE), until, now), false, 'full');
    assert.equal(canReuse(null, until, now), false);
  });

  it('grants once for keys ending close together, also when they ask at the same time', async () => {
    const grants: number[] = [];
    const reuse = new LeaseReuse(async (ttl) => {
      grants.push(ttl);
      await new Promise((r) => setTimeout(r, 5));
      return String(grants.length);
    });
    const now = Date.now();
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => reuse.leaseUntil(now + HOUR + i)));
    assert.deepEqual(new Set(ids), new Set(['1']));
    assert.equal(grants.length, 1);
    assert.ok(grants[0] >= 3600 + 60, `granted ${grants[0]} s`);
    // A key that must live longer than the lease, or far shorter, gets a lease of its own.
    assert.equal(await reuse.leaseUntil(now + 2 * HOUR), '2');
    assert.equal(await reuse.leaseUntil(now + 10_000), '3');
  });

  it('passes a failed grant to its waiters and grants afresh next time', async () => {
    let fail = true;
    const reuse = new LeaseReuse(async () => {
      if (fail) throw new Error('etcd down');
      return '7';
    });
    const until = Date.now() + HOUR;
    const results = await Promise.allSettled([reuse.leaseUntil(until), reuse.leaseUntil(until)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal(await reuse.leaseUntil(until), '7');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { PodnetError } from '../errors/index.js';
import { MemoryStore } from '../store/memory.js';
import type { BlockLease } from '../store/types.js';
import { NodeLease, renewIntervalSeconds } from './lease.js';
import { agentLogger } from './log.js';
import { StoreHealth } from './store-health.js';
import { testProfile } from './test-fixtures.js';

async function leaseOn(store: MemoryStore) {
  const registry = new Registry();
  const renewals = new Counter({
    name: 'renewals_total',
    help: 'test',
    labelNames: ['result'],
    registers: [registry],
  });
  const held: [string, string | null][] = [];
  let reclaims = 0;
  const lines: string[] = [];
  const log = agentLogger('info', {
    write: (l: string) => lines.push(l),
  } as unknown as NodeJS.WritableStream);
  const health = new StoreHealth();
  const lease = new NodeLease({
    store,
    log,
    health,
    renewals,
    request: () => ({ nodeName: 'n1', nodeIp: '10.224.0.4', pool: 'system', maxPods: 30, ttlSeconds: 60 }),
    held: (l: BlockLease, previous: BlockLease | null) => held.push([l.block, previous?.block ?? null]),
    reclaimed: () => reclaims++,
  });
  const count = async (result: string) =>
    (await renewals.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { lease, held, reclaims: () => reclaims, lines, health, count };
}

async function clusterStore(): Promise<MemoryStore> {
  // No quarantine: a block given back may be claimed at once by anyone.
  const store = new MemoryStore({ quarantineSeconds: 0 });
  await store.putCluster(testProfile(), 0);
  return store;
}

describe('node lease', () => {
  it('renews every third of the TTL, at least every second and at most hourly', () => {
    assert.equal(renewIntervalSeconds(60), 20);
    assert.equal(renewIntervalSeconds(2), 1);
    assert.equal(renewIntervalSeconds(86_400), 3600);
  });

  it('claims the block, hands it to the agent, and renews it', async () => {
    const store = await clusterStore();
    const t = await leaseOn(store);
    const first = await t.lease.claim();
    assert.deepEqual(t.held, [[first.block, null]]);
    await t.lease.renew();
    assert.equal(await t.count('ok'), 1);
    assert.equal(t.lease.current?.block, first.block);
    assert.equal(t.health.problem, null);
  });

  it('claims again when the store lost the lease; a block taken meanwhile is a loud BlockChanged', async () => {
    const store = await clusterStore();
    const t = await leaseOn(store);
    const first = await t.lease.claim();
    await store.releaseBlock('n1');
    // Another node takes the block while n1's lease is gone.
    await store.claimBlock({
      nodeName: 'n2',
      nodeIp: '10.224.0.5',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    await t.lease.renew();
    const now = t.lease.current?.block ?? '';
    assert.notEqual(now, first.block);
    assert.deepEqual(t.held, [
      [first.block, null],
      [now, first.block],
    ]);
    assert.equal(t.reclaims(), 1);
    assert.equal(await t.count('reclaimed'), 1);
    const changed = t.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'node block changed');
    assert.deepEqual([changed?.level, changed?.old, changed?.block], ['error', first.block, now]);
  });

  it('reports a failed renewal as a store problem, cleared by the next renewal that works', async () => {
    const store = await clusterStore();
    let down = true;
    const flaky = Object.assign(Object.create(store), {
      renewBlock: async (node: string, ttl: number) => {
        if (down) throw new PodnetError('StoreUnreachable', 'etcd: connection refused', { retryable: true });
        return store.renewBlock(node, ttl);
      },
    });
    const t = await leaseOn(flaky);
    await t.lease.claim();
    await t.lease.renew();
    assert.equal(t.health.problem, 'etcd: connection refused');
    assert.equal(await t.count('error'), 1);
    assert.equal(t.reclaims(), 0);
    down = false;
    await t.lease.renew();
    assert.equal(t.health.problem, null);
    assert.equal(await t.count('ok'), 1);
  });
});

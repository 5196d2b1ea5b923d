import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { openStore } from './open.js';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';
import { testProfile } from './testing/profile.js';
import type { BlockLease, ClusterStore } from './types.js';

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd({ members: 3 });
});
after(async () => {
  await etcd?.stop();
});

it('etcd with 3 members, one stopped in the middle of 100 concurrent joins: no duplicate block, joins finish or fail retryably', async () => {
  const url = etcd.storeUrl();
  const admin = await openStore(url);
  await admin.putCluster(testProfile('10.244.0.0/16'), 0);
  // Each node its own client, as separate hosts would have.
  const nodes: ClusterStore[] = await Promise.all(Array.from({ length: 100 }, () => openStore(url)));
  try {
    let done = 0;
    let stopped: Promise<void> | null = null;
    const outcomes = await Promise.all(
      nodes.map(async (store, i) => {
        try {
          const lease = await store.claimBlock({
            nodeName: `node-${i}`,
            nodeIp: '10.0.0.4',
            pool: 'p',
            maxPods: 30,
            ttlSeconds: 3600,
          });
          return { node: `node-${i}`, lease };
        } catch (e) {
          return { node: `node-${i}`, error: e };
        } finally {
          if (++done === 20) stopped = etcd.stopMember(0, true); // kill -9 a member while 80 joins are in flight
        }
      }),
    );
    assert.ok(stopped, 'a member was stopped during the joins');
    await stopped;
    const joined = outcomes.filter((o) => o.lease) as { node: string; lease: BlockLease }[];
    const failed = outcomes.filter((o) => o.error);
    for (const f of failed) {
      assert.ok(f.error instanceof PodnetError, `a failed join is a PodnetError: ${f.error}`);
      assert.ok(f.error.retryable, `${f.error.code} is retryable: ${f.error.message}`);
    }
    assert.equal(new Set(joined.map((j) => j.lease.block)).size, joined.length, 'no block handed out twice');
    assert.ok(joined.length >= 20, `at least the joins before the stop finished (${joined.length})`);

    // The failed nodes retry against the two members left; every node ends with exactly one block.
    for (const f of failed) {
      const i = Number(f.node.slice('node-'.length));
      await nodes[i].claimBlock({
        nodeName: f.node,
        nodeIp: '10.0.0.4',
        pool: 'p',
        maxPods: 30,
        ttlSeconds: 3600,
      });
    }
    const listed = await admin.listBlocks();
    assert.equal(listed.length, 100, 'one block per node');
    assert.equal(new Set(listed.map((l) => l.block)).size, 100, 'no duplicate block');
    assert.equal(new Set(listed.map((l) => l.nodeName)).size, 100, 'no node with two blocks');
    for (const j of joined)
      assert.equal(
        listed.find((l) => l.nodeName === j.node)?.block,
        j.lease.block,
        `${j.node} kept its block`,
      );
    process.stderr.write(
      `etcd 3-member join: ${joined.length} joined during the fault, ${failed.length} failed retryably and rejoined\n`,
    );
  } finally {
    await Promise.all([admin, ...nodes].map((s) => s.close()));
  }
});

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { blockKey } from '../ipam/leases.js';
import { reuseMarginSeconds } from './etcd-leases.js';
import { openStore, parseStoreUrl } from './open.js';
import { storeContract } from './testing/contract.js';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';
import { testProfile } from './testing/profile.js';

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

storeContract('etcd', {
  open: async (opts) => openStore(etcd.storeUrl(), opts),
  corrupt: async (store, kind) => {
    const { prefix } = parseStoreUrl(store.url);
    const client = new Etcd3({ hosts: etcd.urls });
    try {
      const ns = client.namespace(prefix as string);
      if (kind === 'foreign-block') {
        const key = blockKey('192.168.9.0/24');
        const row = {
          block: '192.168.9.0/24',
          nodeName: 'foreign',
          nodeIp: '10.0.0.9',
          pool: 'p',
          maxPods: 30,
        };
        await ns
          .put(key)
          .value(
            JSON.stringify({ ...row, claimedAt: 0, renewedAt: 0, expiresAt: null, quarantineUntil: null }),
          );
        return `key ${key}`;
      }
      const rec = JSON.parse((await ns.get('cluster').string()) as string);
      await ns
        .put('cluster')
        .value(kind === 'bad-json' ? '{"schemaVersion":1,' : JSON.stringify({ ...rec, schemaVersion: 99 }));
      return 'key cluster';
    } finally {
      client.close();
    }
  },
  // etcd frees a block when its lease ends, which etcd checks about every 500 ms after the TTL.
  lowestFirst: false,
  quarantineSlackMs: 2500,
});

/** Requests etcd has answered, by gRPC method (from its /metrics). */
async function handled(): Promise<Record<string, number>> {
  const text = await (await fetch(`${etcd.urls[0]}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\d+)$/gm))
    counts[m[1]] = (counts[m[1]] ?? 0) + Number(m[2]);
  return counts;
}

it("a burst of joins is one transaction each, on a shared lease that ends with each block's quarantine", async () => {
  const store = await openStore(etcd.storeUrl(), { quarantineSeconds: 600 });
  const client = new Etcd3({ hosts: etcd.urls });
  try {
    await store.putCluster(testProfile('10.64.0.0/16'), 0);
    await store.getCluster(); // connected, so the counts below are the joins' own
    const before = await handled();
    const leases = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        store.claimBlock({ nodeName: `n${i}`, nodeIp: '10.0.0.4', pool: 'p', maxPods: 30, ttlSeconds: 3600 }),
      ),
    );
    const after = await handled();
    assert.equal(new Set(leases.map((l) => l.block)).size, 100);
    assert.equal(after.Txn - before.Txn, 100, 'one transaction per join');
    assert.equal((after.LeaseGrant ?? 0) - (before.LeaseGrant ?? 0), 1, 'one lease for the whole burst');

    const { prefix } = parseStoreUrl(store.url);
    const ns = client.namespace(prefix as string);
    const kv = (await ns.get(blockKey(leases[0].block)).exec()).kvs[0];
    const row = JSON.parse(kv.value.toString()) as { quarantineUntil: number };
    const ttl = Number((await client.leaseClient.leaseTimeToLive({ ID: kv.lease })).TTL);
    const keyEndsIn = (row.quarantineUntil - Date.now()) / 1000;
    assert.ok(ttl >= keyEndsIn - 1, `lease ends in ${ttl} s, before the quarantine (${keyEndsIn} s)`);
    assert.ok(
      ttl <= keyEndsIn + reuseMarginSeconds(4200) + 2,
      `lease ends in ${ttl} s, far after ${keyEndsIn} s`,
    );
  } finally {
    client.close();
    await store.close();
  }
});

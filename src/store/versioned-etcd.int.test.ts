import { after, before } from 'node:test';
import { Etcd3 } from 'etcd3';
import { openVersionedStore } from './open.js';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';
import { versionedContract } from './testing/versioned-contract.js';

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

versionedContract('etcd', {
  open: async () => openVersionedStore(etcd.storeUrl()),
  openSecond: async (store) => openVersionedStore(store.url),
  compact: async (_store, revision) => {
    // etcd compacts its whole keyspace, which is why each test's store has its own prefix but no own history.
    const client = new Etcd3({ hosts: etcd.urls });
    try {
      await client.kv.compact({ revision, physical: true });
    } finally {
      client.close();
    }
  },
  // etcd checks for expired leases about every 500 ms.
  expirySlackMs: 1500,
});

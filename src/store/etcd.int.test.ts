import { after, before } from 'node:test';
import { Etcd3 } from 'etcd3';
import { blockKey } from './etcd.js';
import { openStore, parseStoreUrl } from './open.js';
import { storeContract } from './testing/contract.js';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';

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

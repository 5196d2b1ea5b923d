import { after, before, it } from 'node:test';
import { type EtcdCluster, startEtcd } from './testing/etcd-server.js';
import { claimAtOnce } from './testing/procs.js';

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

it('200 processes claiming blocks at once through etcd: every block handed out exactly once', async () => {
  await claimAtOnce(etcd.storeUrl());
});

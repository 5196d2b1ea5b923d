/** `podnet apply|get|delete` on a real etcd (the contract the memory and sqlite runs pass in objects.test.ts). */
import { after, before } from 'node:test';
import { type EtcdCluster, startEtcd } from '../../store/testing/etcd-server.js';
import { objectsCliContract } from './testing/objects-contract.js';

let etcd: EtcdCluster;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});
// Each store is its own key prefix in the one etcd.
objectsCliContract('etcd', () => etcd.storeUrl());

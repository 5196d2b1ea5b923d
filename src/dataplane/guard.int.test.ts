/**
 * The node table's guard in a real kernel (issue 14, fault 1: from inside a pod, one HTTP PUT to the lab etcd
 * rewrote another node's lease): a pod cannot open a connection to the store's endpoint, the node itself can,
 * and the pod still reaches the same host on other ports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipBatch } from '../kernel/ip.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { sourceSeenBy } from '../testing/tcp-probe.js';
import { ensureIpForwarding } from './forwarding.js';
import { NodeRuleset } from './node-ruleset.js';
import { addPodNetwork } from './pod-network.js';
import { nodeTableInput } from './ruleset.js';

const STORE_PORT = 2379;
let scope: NetnsScope;
let node: string;
let pod: string;
let store: string;

describe('pods never reach the cluster store', () => {
  before(async () => {
    scope = netnsScope('gd');
    [node, pod, store] = [await scope.add('node'), await scope.add('pod'), await scope.add('store')];
    await ipBatch(
      [
        `link add gd0 type veth peer name eth0 netns ${store}`,
        'addr add 10.99.0.1/24 dev gd0',
        'link set gd0 up',
      ],
      node,
    );
    await ipBatch(
      ['addr add 10.99.0.2/24 dev eth0', 'link set eth0 up', 'route add 10.244.0.0/24 via 10.99.0.1'],
      store,
    );
    await ensureIpForwarding({ netns: node });
    await addPodNetwork(
      { containerId: 'guard1', ifname: 'eth0', netns: `/run/netns/${pod}`, ip: '10.244.0.5', mtu: 1500 },
      node,
    );
    const table = nodeTableInput({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: [] }, [
      { family: 4, ip: '10.99.0.2', port: STORE_PORT },
    ]);
    assert.equal(await new NodeRuleset({ netns: node }).ensure(table), 'applied');
  });
  after(async () => {
    await scope.cleanup();
  });

  it('drops a pod connecting to the store endpoint', async () => {
    assert.equal(await sourceSeenBy(pod, store, '10.99.0.2', { port: STORE_PORT, listenS: 4 }), 'nothing');
  });

  it('lets the node reach the store, and the pod reach the same host on another port', async () => {
    assert.equal(await sourceSeenBy(node, store, '10.99.0.2', { port: STORE_PORT }), '10.99.0.1');
    assert.equal(
      await sourceSeenBy(pod, store, '10.99.0.2', { port: STORE_PORT + 1 }),
      '10.99.0.1',
      'SNATed to the node',
    );
  });
});

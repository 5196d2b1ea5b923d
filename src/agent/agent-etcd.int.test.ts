/**
 * The agent over the etcd store (a real Debian etcd on loopback): two in-process agents driving the kernel of
 * two node namespaces; peer routes follow etcd's watch; an etcd outage makes /healthz-level health fail
 * without touching the node's dataplane, and health comes back with etcd.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { kernelDataplane } from '../dataplane/node-dataplane.js';
import { ipBatch } from '../kernel/ip.js';
import { type PeerRoute, readPodnetRoutes } from '../routing/routes.js';
import { openStore } from '../store/open.js';
import { type EtcdCluster, startEtcd } from '../store/testing/etcd-server.js';
import type { ClusterStore } from '../store/types.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { parseAgentFlags } from './config.js';
import { agentLogger } from './log.js';
import { NodeAgent } from './node-agent.js';
import { MemoryPodIpam, testProfile } from './test-fixtures.js';

const r = 150 + (randomBytes(1)[0] % 50);
const nodeIp = (i: number) => `192.168.${r}.${i}`;

let etcd: EtcdCluster;
let url: string;
let scope: NetnsScope;
let admin: ClusterStore;
const agents: NodeAgent[] = [];
const netns: string[] = [];

async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function startNodeAgent(i: number): Promise<NodeAgent> {
  const cfg = parseAgentFlags({
    store: url,
    node: `node${i}`,
    nodeIp: nodeIp(i),
    resync: '1',
    leaseTtl: '60',
  });
  const agent = new NodeAgent(cfg, {
    store: await openStore(url),
    openIpam: (block, maxPods) => new MemoryPodIpam(block, maxPods),
    dataplane: kernelDataplane({ netns: netns[i - 1] }),
    log: agentLogger('silent'),
    nodeNetns: netns[i - 1],
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

const routes = (i: number): Promise<PeerRoute[]> => readPodnetRoutes({ netns: netns[i - 1] });

describe('podnet agent over etcd', () => {
  before(async () => {
    etcd = await startEtcd();
    url = etcd.storeUrl();
    admin = await openStore(url);
    await admin.putCluster(testProfile({ podCidrs: [`10.${r}.0.0/16`] }), 0);
    scope = netnsScope('pe');
    const lan = await scope.add('lan');
    await ipBatch(['link add br0 type bridge', 'link set br0 up'], lan);
    for (const i of [1, 2]) {
      const ns = await scope.add(`n${i}`);
      netns.push(ns);
      const end = `${scope.prefix}u${i}`;
      await ipBatch([`link add ${end} type veth peer name uplink netns /run/netns/${ns}`]);
      await ipBatch([`link set ${end} netns /run/netns/${lan}`]);
      await ipBatch([`link set ${end} master br0 up`], lan);
      await ipBatch([`addr add ${nodeIp(i)}/24 dev uplink`, 'link set uplink up'], ns);
    }
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    await admin?.close();
    await etcd?.stop();
    await scope?.cleanup();
  });

  it('installs peer routes from etcd leases in both nodes', async () => {
    const [a1, a2] = [await startNodeAgent(1), await startNodeAgent(2)];
    await eventually(
      'routes both ways',
      async () => (await routes(1)).length === 1 && (await routes(2)).length === 1,
    );
    assert.deepEqual(await routes(1), [{ dst: a2.status().block, via: nodeIp(2) }]);
    assert.deepEqual(await routes(2), [{ dst: a1.status().block, via: nodeIp(1) }]);
    assert.equal(a1.ready && a2.ready, true);
  });

  it('removes the route when a peer releases its block', async () => {
    const extra = await admin.claimBlock({
      nodeName: 'node3',
      nodeIp: nodeIp(3),
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    await eventually('the new peer route', async () => (await routes(1)).some((x) => x.dst === extra.block));
    await admin.releaseBlock('node3');
    await eventually(
      'the peer route to go',
      async () => !(await routes(1)).some((x) => x.dst === extra.block),
    );
  });

  it('reports unhealthy while etcd is down, keeps the dataplane, and recovers', async () => {
    const [a1] = agents;
    const before = await routes(1);
    await etcd.stopMember(0, true);
    try {
      await eventually('health to fail', () => !a1.healthy);
      assert.ok(a1.storeProblem);
      assert.deepEqual(await routes(1), before);
    } finally {
      await etcd.startMember(0);
    }
    await eventually('health to come back', () => a1.healthy, 30_000);
    assert.deepEqual(await routes(1), before);
  });
});

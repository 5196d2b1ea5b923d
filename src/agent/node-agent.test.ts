import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { resolve } from '../dns/records.js';
import type { ServiceWorld } from '../services/proxy.js';
import { MemoryStore } from '../store/memory.js';
import { type AgentConfig, parseAgentFlags } from './config.js';
import { agentLogger } from './log.js';
import { NodeAgent } from './node-agent.js';
import { SERVICES_PREFIX } from './service-world.js';
import { MemoryPodIpam, RecordingDataplane, testProfile } from './test-fixtures.js';

const silent = agentLogger('silent');
const agents: NodeAgent[] = [];

function config(node: string, nodeIp: string, extra: Partial<AgentConfig> = {}): AgentConfig {
  return { ...parseAgentFlags({ store: 'memory:', node, nodeIp, resync: '1' }), ...extra };
}

async function startAgent(store: MemoryStore, cfg: AgentConfig, dp = new RecordingDataplane(cfg.nodeIp)) {
  const ipams: MemoryPodIpam[] = [];
  const agent = new NodeAgent(cfg, {
    // The agent closes the store on stop; a restart in these tests reuses the same memory store.
    store: Object.assign(Object.create(store), { close: async () => {} }),
    openIpam: (block, maxPods) => {
      const i = new MemoryPodIpam(block, maxPods);
      ipams.push(i);
      return i;
    },
    dataplane: dp,
    log: silent,
  });
  agents.push(agent);
  await agent.start();
  return { agent, dp, ipams };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function clusterStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.putCluster(testProfile(), 0);
  return store;
}

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

describe('node agent', () => {
  it('claims a block, opens the pod IPAM with the pool max pods, reconciles and becomes ready', async () => {
    const store = await clusterStore();
    const { agent, dp, ipams } = await startAgent(store, config('n1', '10.224.0.4'));
    const s = agent.status();
    assert.equal(s.block, '10.244.0.0/24');
    assert.equal(s.pool, 'system');
    assert.equal(ipams[0].block, '10.244.0.0/24');
    assert.equal(ipams[0].maxPods, 30);
    assert.equal(agent.ready, true);
    assert.equal(agent.healthy, true);
    assert.deepEqual(dp.ruleset?.snat.families, [
      { family: 4, podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: [] },
    ]);
    assert.equal(dp.forwarding, true);
    assert.equal(agent.runtime().uplinkMtu(), 1450);
    assert.deepEqual(agent.runtime().podCidrs(), ['10.244.0.0/16']);
  });

  it('gets the same block back after a restart and keeps the peer routes', async () => {
    const store = await clusterStore();
    const peer = await startAgent(store, config('n2', '10.224.0.5'));
    const first = await startAgent(store, config('n1', '10.224.0.4'));
    const block = first.agent.status().block;
    await first.agent.stop();
    const again = await startAgent(store, config('n1', '10.224.0.4'), first.dp);
    assert.equal(again.agent.status().block, block);
    assert.deepEqual(again.dp.routes, [{ dst: peer.agent.status().block, via: '10.224.0.5' }]);
  });

  it('adds a route when a peer joins on its subnet and removes it when the peer leaves', async () => {
    const store = await clusterStore();
    const { dp } = await startAgent(store, config('n1', '10.224.0.4'));
    assert.deepEqual(dp.routes, []);
    const peer = await store.claimBlock({
      nodeName: 'n2',
      nodeIp: '10.224.0.5',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    // A peer on another subnet: no direct route (the node has no link to it).
    await store.claimBlock({
      nodeName: 'n3',
      nodeIp: '10.230.0.5',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    await until(() => dp.routes.length === 1, 'the peer route');
    assert.deepEqual(dp.routes, [{ dst: peer.block, via: '10.224.0.5' }]);
    await store.releaseBlock('n2');
    await until(() => dp.routes.length === 0, 'the peer route to go');
  });

  it('follows pod CIDR growth into the SNAT exemption through the store watch', async () => {
    const store = await clusterStore();
    const { dp } = await startAgent(store, config('n1', '10.224.0.4'));
    const rec = await store.getCluster();
    await store.putCluster(testProfile({ podCidrs: ['10.244.0.0/15'] }), rec?.generation ?? 0);
    await until(
      () => dp.ruleset?.snat.families[0].podCidrs[0] === '10.244.0.0/15',
      'the grown pod CIDR',
      4000,
    );
  });

  it('reports every part by name, and counts kernel state changed behind it as drift of that part', async () => {
    const store = await clusterStore();
    await store.claimBlock({
      nodeName: 'n2',
      nodeIp: '10.224.0.5',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    const { agent, dp } = await startAgent(store, config('n1', '10.224.0.4'));
    await until(() => dp.routes.length === 1, 'the peer route');
    assert.deepEqual((await agent.reconcileNow('test'))?.parts, {
      forwarding: { change: 'unchanged' },
      ruleset: { change: 'unchanged' },
      routes: { change: 'unchanged', counts: { added: 0, replaced: 0, removed: 0, held: 1 } },
    });
    // By hand: forwarding off and the peer route deleted.
    dp.forwarding = false;
    dp.routes = [];
    const report = await agent.reconcileNow('test');
    assert.equal(report?.result, 'ok');
    assert.deepEqual(report?.parts.forwarding, { change: 'repaired' });
    assert.deepEqual(report?.parts.routes, {
      change: 'repaired',
      counts: { added: 1, replaced: 0, removed: 0, held: 1 },
    });
    const text = await agent.metrics.registry.metrics();
    assert.match(text, /podnet_reconcile_drift_total\{kind="forwarding"\} 1\n/);
    assert.match(text, /podnet_reconcile_drift_total\{kind="routes"\} 1\n/);
    assert.doesNotMatch(text, /kind="ruleset"/);
  });

  it('counts a failed reconcile, stays unready until one succeeds, and recovers', async () => {
    const store = await clusterStore();
    const dp = new RecordingDataplane('10.224.0.4');
    dp.fail = new Error('nft: Could not process rule');
    const { agent } = await startAgent(store, config('n1', '10.224.0.4'), dp);
    await agent.reconcileNow('test');
    assert.equal(agent.ready, false);
    assert.equal(agent.status().lastReconcile?.result, 'error');
    assert.equal(agent.status().lastReconcile?.error?.code, 'Internal');
    // Only the table failed; the other parts were still reconciled and reported.
    assert.equal(agent.status().lastReconcile?.error?.part, 'ruleset');
    assert.deepEqual(agent.status().lastReconcile?.parts.forwarding, { change: 'unchanged' });
    assert.equal(dp.forwarding, true);
    const failed = agent.status().counts.reconcileErrors;
    assert.ok(failed >= 2);
    dp.fail = null;
    await agent.reconcileNow('test');
    assert.equal(agent.ready, true);
    const text = await agent.metrics.registry.metrics();
    assert.match(text, new RegExp(`podnet_reconcile_errors_total ${failed}\\n`));
    assert.match(text, new RegExp(`podnet_reconcile_total\\{result="error"\\} ${failed}\\n`));
    assert.match(text, /podnet_reconcile_total\{result="ok"\} 1\n/);
  });

  it('exposes block, addresses and routes as metrics', async () => {
    const store = await clusterStore();
    await store.claimBlock({
      nodeName: 'n2',
      nodeIp: '10.224.0.5',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    const { agent, ipams } = await startAgent(store, config('n1', '10.224.0.4'));
    ipams[0].allocate({ containerId: 'c1', ifname: 'eth0' });
    const text = await agent.metrics.registry.metrics();
    assert.match(text, /podnet_ipam_block_addresses\{state="in_use"\} 1/);
    assert.match(text, /podnet_ipam_block_addresses\{state="free"\} 29/);
    assert.match(text, /podnet_node_block_info\{block="10\.244\.1\.0\/24"\} 1/);
    assert.match(text, /podnet_peer_routes 1/);
    assert.match(text, /podnet_build_info\{version="[^"]+"\} 1/);
  });

  it('audits its pod addresses against their plumbing and the store at each resync, reporting what lasts', async () => {
    const store = await clusterStore();
    const { agent, dp, ipams } = await startAgent(store, config('n1', '10.224.0.4'));
    const [ipam] = ipams;
    const kept = ipam.allocate({ containerId: 'c1', ifname: 'eth0' });
    const leaked = ipam.allocate({ containerId: 'c2', ifname: 'eth0' });
    const plumb = (ids: string[]) => {
      dp.plumbing = {
        veths: ids.map((id) => ({ hostVeth: `pnv-${id}`, containerId: id, ifname: 'eth0' })),
        podRoutes: ids.map((id) => ({ ip: id === 'c1' ? kept.ip : leaked.ip, dev: `pnv-${id}` })),
      };
    };
    plumb(['c1']);
    const problems = () => agent.status().ipamProblems.map((f) => `${f.code} ${f.subject}`);
    await until(() => problems().length > 0, 'the leak to be reported', 10_000);
    assert.deepEqual(problems(), [`AddressWithoutInterface ${leaked.ip}`]);
    const metrics = await agent.metrics.registry.metrics();
    assert.match(metrics, /podnet_ipam_problems\{code="AddressWithoutInterface"\} 1/);
    assert.match(metrics, /podnet_ipam_problems\{code="BlockNotLeased"\} 0/);

    plumb(['c1', 'c2']);
    await until(() => problems().length === 0, 'the repaired pod to clear the report', 10_000);
    // The store losing the node's lease is found too.
    await store.releaseBlock('n1');
    await until(() => problems().join() === 'BlockNotLeased 10.244.0.0/24', 'the lost lease', 10_000);
  });

  it('claims again when its lease is gone at renewal', async () => {
    const store = await clusterStore();
    const { agent } = await startAgent(store, config('n1', '10.224.0.4', { leaseTtlSeconds: 3 }));
    await store.releaseBlock('n1');
    assert.equal((await store.listBlocks()).length, 0);
    // Renewal runs every ttl/3 = 1 s; the released block is in quarantine, so the node gets the next one.
    await until(
      async () => (await store.listBlocks()).some((l) => l.nodeName === 'n1'),
      'the reclaimed lease',
    );
    assert.equal(agent.status().block, (await store.listBlocks())[0].block);
    assert.match(
      await agent.metrics.registry.metrics(),
      /podnet_store_lease_renewals_total\{result="reclaimed"\} 1/,
    );
  });

  it('refuses to start without a cluster profile or with an unknown pool', async () => {
    await assert.rejects(startAgent(new MemoryStore(), config('n1', '10.224.0.4')), {
      code: 'ClusterNotFound',
    });
    await assert.rejects(startAgent(await clusterStore(), config('n1', '10.224.0.4', { pool: 'gpu' })), {
      code: 'UnknownNodePool',
      field: '--pool',
    });
  });
});

// NodeLocal DNSCache's shape (https://kubernetes.io/docs/tasks/administer-cluster/nodelocaldns/): the node
// answers the DNS service IP itself, so kube-proxy (here the proxy section) must leave that address alone.
describe('cluster DNS in the agent', () => {
  it('serves the watched Services live, sends the DNS service IP to its server, and keeps kube-dns out of the proxy', async () => {
    const store = new MemoryStore();
    const profile = testProfile();
    await store.putCluster(profile, 0);
    const put = (ns: string, name: string, spec: Record<string, unknown>) =>
      store.kv.txn(
        [],
        [
          {
            type: 'put',
            key: `${SERVICES_PREFIX}${ns}/${name}`,
            value: JSON.stringify({
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name, namespace: ns },
              spec,
            }),
          },
        ],
      );
    const dnsIp = profile.network.dnsServiceIp;
    await put('kube-system', 'kube-dns', {
      type: 'ClusterIP',
      clusterIP: dnsIp,
      clusterIPs: [dnsIp],
      selector: { 'k8s-app': 'kube-dns' },
      ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
    });
    let world: (() => ServiceWorld) | null = null;
    const dns = {
      listenIp: '169.254.20.10',
      start: async (w: () => ServiceWorld) => {
        world = w;
      },
      stop: async () => {},
    };
    const dp = new RecordingDataplane('10.224.0.4');
    const agent = new NodeAgent(config('n1', '10.224.0.4'), {
      store: Object.assign(Object.create(store), { close: async () => {} }),
      openIpam: (block, maxPods) => new MemoryPodIpam(block, maxPods),
      dataplane: dp,
      log: silent,
      objects: store.kv,
      clusterDns: dns,
    });
    agents.push(agent);
    await agent.start();
    const live = world as unknown as () => ServiceWorld;
    assert.deepEqual(data(resolve(live(), 'kube-dns.kube-system.svc.cluster.local', 'A')), [dnsIp]);
    assert.deepEqual(dp.ruleset?.dns, {
      serviceIp: dnsIp,
      listenIp: '169.254.20.10',
      podCidrs: ['10.244.0.0/16'],
    });
    assert.equal(dp.ruleset?.services.families[0].entries.length, 0, 'kube-dns is not proxied');
    await put('default', 'web', {
      type: 'ClusterIP',
      clusterIP: '10.0.5.5',
      clusterIPs: ['10.0.5.5'],
      ports: [{ port: 80 }],
    });
    for (let i = 0; i < 100 && data(resolve(live(), 'web.default.svc.cluster.local', 'A')).length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(data(resolve(live(), 'web.default.svc.cluster.local', 'A')), ['10.0.5.5']);
  });
});

const data = (r: ReturnType<typeof resolve>) => (r.kind === 'answer' ? r.answers.map((a) => a.data) : []);

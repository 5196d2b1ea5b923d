import { numberToIpv4 } from '../src/addr/index.js';
import { parseAgentFlags } from '../src/agent/config.js';
/**
 * The agent's reconcile at full cluster scale, in a throw-away namespace: installing 5,000 peer routes (target
 * under 1 s) and one peer change on top (target: a constant number of kernel operations, not a rewrite).
 * Baselines measured in the same run: the raw `ip -batch` of 5,000 route adds (the kernel's floor) and a full
 * rewrite of all 5,000 routes (what an agent without a diff would do on every change).
 */
import { agentLogger } from '../src/agent/log.js';
import { NodeAgent, type ReconcileReport } from '../src/agent/node-agent.js';
import { MemoryPodIpam, testProfile } from '../src/agent/test-fixtures.js';
import { kernelDataplane } from '../src/dataplane/node-dataplane.js';
import { ipBatch, listRoutes } from '../src/kernel/ip.js';
import { addNetns, deleteNetns } from '../src/kernel/netns.js';
import { PODNET_ROUTE_PROTO } from '../src/routing/routes.js';
import { MemoryStore } from '../src/store/memory.js';
import type { BlockLease } from '../src/store/types.js';
import { uniquePrefix } from '../src/testing/netns-fixture.js';
import { median } from './_net.js';

const PEERS = 5000;
const ROUNDS = 3;
// Nodes on 172.20.0.0/16 (the node is .0.1), pod CIDR 10.64.0.0/11 (8,192 blocks of /24).
const NODE_NET = 0xac140000;
const SELF_IP = '172.20.0.1';

interface Round {
  install: ReconcileReport;
  change: ReconcileReport;
  steady: ReconcileReport;
  rawAddS: number;
  rewriteS: number;
}

function routeOps(r: ReconcileReport): number {
  const routes = r.parts.routes;
  const c = routes && 'counts' in routes ? routes.counts : undefined;
  return (c?.added ?? 0) + (c?.replaced ?? 0) + (c?.removed ?? 0);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function withNode<T>(fn: (netns: string) => Promise<T>): Promise<T> {
  const netns = `${uniquePrefix('pb')}-bench`;
  await addNetns(netns);
  try {
    // A veth pair stands in for the uplink (this kernel has no dummy module): routes need a connected /16.
    await ipBatch(
      [
        'link add uplink type veth peer name uplinkpeer',
        `addr add ${SELF_IP}/16 dev uplink`,
        'link set uplinkpeer up',
        'link set uplink up',
      ],
      netns,
    );
    return await fn(netns);
  } finally {
    await deleteNetns(netns);
  }
}

async function round(): Promise<Round> {
  const store = new MemoryStore();
  await store.putCluster(testProfile({ podCidrs: ['10.64.0.0/11'] }), 0);
  for (let i = 0; i < PEERS; i++) {
    await store.claimBlock({
      nodeName: `peer-${i}`,
      nodeIp: numberToIpv4(NODE_NET + 2 + i),
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 3600,
    });
  }
  let push: (leases: BlockLease[]) => void = () => {};
  const agentRun = await withNode(async (netns) => {
    const agent = new NodeAgent(
      parseAgentFlags({ store: 'memory:', node: 'self', nodeIp: SELF_IP, resync: '3600' }),
      {
        // The benchmark plays the watch itself, so each report is exactly one reconcile.
        store: Object.assign(Object.create(store), {
          watchBlocks: async (cb: (l: BlockLease[]) => void) => {
            push = cb;
            return () => {};
          },
        }),
        openIpam: (block, maxPods) => new MemoryPodIpam(block, maxPods),
        dataplane: kernelDataplane({ netns }),
        log: agentLogger('silent'),
        nodeNetns: netns,
      },
    );
    await agent.start();
    const install = agent.status().lastReconcile as ReconcileReport;
    await store.releaseBlock('peer-17');
    await store.claimBlock({
      nodeName: 'peer-new',
      nodeIp: numberToIpv4(NODE_NET + 2 + PEERS),
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 3600,
    });
    push(await store.listBlocks());
    const change = (await agent.settled()) as ReconcileReport;
    const steady = (await agent.reconcileNow('bench')) as ReconcileReport;
    const kernelRoutes = await listRoutes(['proto', String(PODNET_ROUTE_PROTO)], netns, 4);
    if (kernelRoutes.length !== PEERS)
      throw new Error(`expected ${PEERS} routes in the kernel, found ${kernelRoutes.length}`);
    await agent.stop();
    return { install, change, steady };
  });
  // Baselines on a fresh node: the kernel's floor for 5,000 adds, then a full rewrite of all of them.
  const lines = (verb: string) =>
    Array.from(
      { length: PEERS },
      (_, i) =>
        `route ${verb} 10.${64 + (i >> 8)}.${i & 255}.0/24 via ${numberToIpv4(NODE_NET + 2 + i)} proto ${PODNET_ROUTE_PROTO}`,
    );
  const [rawAddS, rewriteS] = await withNode(async (netns) => [
    await timed(() => ipBatch(lines('add'), netns)),
    await timed(() => ipBatch(lines('replace'), netns)),
  ]);
  return { ...agentRun, rawAddS, rewriteS };
}

const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;

export default {
  name: 'agent',
  async run(): Promise<string> {
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
    const m = (f: (r: Round) => number) => median(rounds.map(f));
    const install = m((r) => r.install.durationSeconds);
    const change = m((r) => r.change.durationSeconds);
    const steady = m((r) => r.steady.durationSeconds);
    const rawAdd = m((r) => r.rawAddS);
    const rewrite = m((r) => r.rewriteS);
    return [
      '### Node agent: peer routes at 5,000 nodes',
      '',
      `Median of ${ROUNDS} rounds, each in a fresh namespace with ${PEERS.toLocaleString('en')} peer leases on the node's subnet. An agent reconcile also reads the interfaces, checks forwarding and checks the SNAT table.`,
      '',
      '| what | time | kernel route operations | vs baseline |',
      '|---|---|---|---|',
      `| agent: first reconcile, installs ${PEERS.toLocaleString('en')} routes (target < 1 s) | ${ms(install)} | ${m((r) => routeOps(r.install))} | ${(install / rawAdd).toFixed(2)}x the raw batch |`,
      `| baseline: raw \`ip -batch\` of ${PEERS.toLocaleString('en')} \`route add\` | ${ms(rawAdd)} | ${PEERS} | 1.00x |`,
      `| agent: one peer leaves, one joins (target: constant ops) | ${ms(change)} | ${m((r) => routeOps(r.change))} | ${(change / rewrite).toFixed(3)}x the full rewrite |`,
      `| baseline: full rewrite (\`route replace\` of all ${PEERS.toLocaleString('en')}) | ${ms(rewrite)} | ${PEERS} | 1.00x |`,
      `| agent: steady-state reconcile, nothing changed | ${ms(steady)} | ${m((r) => routeOps(r.steady))} | ${(steady / rewrite).toFixed(3)}x the full rewrite |`,
      '',
    ].join('\n');
  },
};

/**
 * The node agent end to end, as root: two node namespaces and an "outside" host on a bridge, a real
 * `podnet agent --netns` per node over one SQLite cluster store, pods created by exec'ing the real
 * `bin/podnet-cni`. Checks what an operator would: who sees which source address, which routes exist, that
 * drift converges, that a restart or a kill -9 in the middle of ADDs leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHIM_PATH, execPlugin } from '../cni/testing/exec-plugin.js';
import { podLinkNames } from '../dataplane/pod-network.js';
import { NODE_TABLE } from '../dataplane/ruleset.js';
import { ipBatch, ipJson, ipShow } from '../kernel/ip.js';
import { nftDeleteTable, nftListTable } from '../kernel/nft.js';
import { execInNetns } from '../kernel/process.js';
import { PODNET_ROUTE_PROTO, type PeerRoute, readPodnetRoutes } from '../routing/routes.js';
import { openStore } from '../store/open.js';
import type { ClusterStore } from '../store/types.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { sourceSeenBy } from '../testing/tcp-probe.js';
import type { AgentStatus } from './node-agent.js';
import { testProfile } from './test-fixtures.js';
import { type AgentProcess, agentGet, spawnAgent, stopAgent, waitReady } from './testing/agent-process.js';

const r = 100 + (randomBytes(1)[0] % 50);
const POD_CIDR = `10.${r}.0.0/16`;
const SUBNET = `192.168.${r}.0/24`;
const OUTSIDE_IP = `192.168.${r}.250`;
const nodeIp = (i: number) => `192.168.${r}.${i}`;

interface Node {
  name: string;
  netns: string;
  ip: string;
  socket: string;
  metrics: string;
  agent: AgentProcess;
  config: Record<string, unknown>;
}

let scope: NetnsScope;
let dir: string;
let storeUrl: string;
let store: ClusterStore;
let lan: string;
let outside: string;
const nodes: Node[] = [];
const running = new Set<AgentProcess>();

function agentArgs(n: { name: string; ip: string; netns: string; metrics: string }): string[] {
  return [
    '--store',
    storeUrl,
    '--node',
    n.name,
    '--node-ip',
    n.ip,
    '--netns',
    n.netns,
    '--state-dir',
    join(dir, 'state'),
    '--metrics-socket',
    n.metrics,
    '--resync',
    '1',
    '--lease-ttl',
    '60',
    '--log-level',
    'debug',
  ];
}

async function startAgent(n: Omit<Node, 'agent'>): Promise<AgentProcess> {
  const a = spawnAgent(agentArgs(n), n.socket);
  running.add(a);
  void a.exited.then(() => running.delete(a));
  await waitReady(a);
  return a;
}

/** Plugs a namespace into the bridge with `ip/24` on `ifname`. */
async function plug(netns: string, tag: string, ip: string, ifname: string): Promise<void> {
  const end = `${scope.prefix}${tag}`;
  await ipBatch([`link add ${end} type veth peer name ${ifname} netns /run/netns/${netns}`]);
  await ipBatch([`link set ${end} netns /run/netns/${lan}`]);
  await ipBatch([`link set ${end} master br0 up`], lan);
  await ipBatch([`addr add ${ip}/24 dev ${ifname}`, `link set ${ifname} up`], netns);
}

async function addNode(i: number): Promise<Node> {
  const netns = await scope.add(`n${i}`);
  await plug(netns, `u${i}`, nodeIp(i), 'uplink');
  // The outside host stands in for "the internet": the node's default route.
  await ipBatch([`route add default via ${OUTSIDE_IP} dev uplink`], netns);
  const n = {
    name: `node${i}`,
    netns,
    ip: nodeIp(i),
    socket: join(dir, `n${i}.sock`),
    metrics: join(dir, `n${i}-metrics.sock`),
    config: { cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni', agentSocket: join(dir, `n${i}.sock`) },
  };
  return { ...n, agent: await startAgent(n) };
}

interface Pod {
  netns: string;
  containerId: string;
  ip: string;
}

async function addPod(node: Node, role: string): Promise<Pod> {
  const netns = await scope.add(role);
  const containerId = `${scope.prefix}${role}${randomBytes(4).toString('hex')}`;
  const res = await execPlugin(SHIM_PATH, {
    command: 'ADD',
    containerId,
    netns: `/run/netns/${netns}`,
    config: node.config,
  });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const ip = String((res.json as { ips: { address: string }[] }).ips[0].address).split('/')[0];
  return { netns, containerId, ip };
}

async function status(node: Node): Promise<AgentStatus> {
  return JSON.parse((await agentGet(node.socket, '/v1/status')).body) as AgentStatus;
}

async function routes(node: Node): Promise<PeerRoute[]> {
  return readPodnetRoutes({ netns: node.netns });
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function hostVeths(node: Node): Promise<string[]> {
  const links = await ipJson<{ ifname: string }>(['link', 'show'], node.netns);
  return links.map((l) => l.ifname).filter((n) => n.startsWith('pnv'));
}

describe('podnet agent on two nodes', () => {
  let a1: Pod;
  let a2: Pod;
  let b1: Pod;

  before(async () => {
    scope = netnsScope('pa');
    dir = mkdtempSync(join(tmpdir(), 'podnet-agent-'));
    storeUrl = `sqlite:${join(dir, 'cluster.db')}`;
    store = await openStore(storeUrl);
    const profile = testProfile({ podCidrs: [POD_CIDR] });
    profile.vnet = { name: 'vnet', addressSpaces: [SUBNET], subnets: [{ name: 'nodes', cidr: SUBNET }] };
    await store.putCluster(profile, 0);
    lan = await scope.add('lan');
    await ipBatch(['link add br0 type bridge', 'link set br0 up'], lan);
    outside = await scope.add('out');
    await plug(outside, 'o', OUTSIDE_IP, 'eth0');
    nodes.push(await addNode(1), await addNode(2));
    a1 = await addPod(nodes[0], 'a1');
    a2 = await addPod(nodes[0], 'a2');
    b1 = await addPod(nodes[1], 'b1');
  });

  after(async () => {
    await Promise.all([...running].map((a) => stopAgent(a)));
    await store?.close();
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leases a distinct block per node and reports it in /v1/status', async () => {
    const [s1, s2] = [await status(nodes[0]), await status(nodes[1])];
    assert.notEqual(s1.block, s2.block);
    assert.equal(s1.ready, true);
    assert.equal(s1.lastReconcile?.result, 'ok');
    assert.deepEqual(s1.podCidrs, [POD_CIDR]);
    assert.deepEqual(s1.pods.map((p) => p.ip).sort(), [a1.ip, a2.ip].sort());
    assert.ok(s1.pid !== undefined);
  });

  it('installs direct routes to the peer block, tagged with podnet proto', async () => {
    const [s1, s2] = [await status(nodes[0]), await status(nodes[1])];
    // Node 1 started first and learns of node 2's lease on its next look at the store (sqlite: a 500 ms poll).
    const want0 = JSON.stringify([{ dst: s2.block, via: nodes[1].ip }]);
    await eventually(
      'node 1 to route to the block of node 2',
      async () => JSON.stringify(await routes(nodes[0])) === want0,
    );
    assert.deepEqual(await routes(nodes[1]), [{ dst: s1.block, via: nodes[0].ip }]);
  });

  it('keeps the pod source for pod to pod on the same node and across nodes', async () => {
    assert.equal(await sourceSeenBy(a1.netns, a2.netns, a2.ip), a1.ip);
    assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip), a1.ip);
    assert.equal(await sourceSeenBy(b1.netns, a1.netns, a1.ip), b1.ip);
  });

  it('masquerades pod traffic to a host outside the pod CIDR to the node IP', async () => {
    assert.equal(await sourceSeenBy(a1.netns, outside, OUTSIDE_IP), nodes[0].ip);
    assert.equal(await sourceSeenBy(b1.netns, outside, OUTSIDE_IP), nodes[1].ip);
  });

  it("drops a pod that sends with an address not its own (another pod's, or one outside the pod CIDR)", async () => {
    const counter = async () => {
      const l = (await nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns: nodes[0].netns })) ?? '';
      return Number(/counter packets (\d+) bytes \d+ drop/.exec(l)?.[1] ?? -1);
    };
    const dropped = await counter();
    // a1 claims a2's address and talks to b1 from it.
    await ipBatch([`addr add ${a2.ip}/32 dev eth0`], a1.netns);
    try {
      assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip, { from: a2.ip, listenS: 4 }), 'nothing');
      assert.ok((await counter()) > dropped, 'the anti-spoofing rule counted the packets');
      // Its own address still works.
      assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip, { from: a1.ip }), a1.ip);
    } finally {
      await ipBatch([`addr del ${a2.ip}/32 dev eth0`], a1.netns);
    }
    // An address outside the pod CIDR would slip past SNAT unchanged: the rule drops it as well.
    const fake = `192.168.${r}.77`;
    const before = await counter();
    await ipBatch([`addr add ${fake}/32 dev eth0`], a1.netns);
    try {
      assert.equal(await sourceSeenBy(a1.netns, outside, OUTSIDE_IP, { from: fake, listenS: 4 }), 'nothing');
      assert.ok((await counter()) > before, 'the anti-spoofing rule counted the packets');
    } finally {
      await ipBatch([`addr del ${fake}/32 dev eth0`], a1.netns);
    }
  });

  it('adds and removes routes as peers join and leave, never touching foreign routes', async () => {
    const foreign = `10.${r}.250.0/24`;
    await ipBatch([`route add ${foreign} via ${OUTSIDE_IP} proto static`], nodes[0].netns);
    const far = await store.claimBlock({
      nodeName: 'node3',
      nodeIp: nodeIp(3),
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    // A peer on a subnet node1 has no link to: no direct route (a fabric router's job).
    await store.claimBlock({
      nodeName: 'node9',
      nodeIp: '192.0.2.9',
      pool: 'system',
      maxPods: 30,
      ttlSeconds: 60,
    });
    await eventually('the route to the joining peer', async () =>
      (await routes(nodes[0])).some((x) => x.dst === far.block && x.via === nodeIp(3)),
    );
    assert.equal((await routes(nodes[0])).length, 2);
    await store.releaseBlock('node3');
    await store.releaseBlock('node9');
    await eventually(
      'the route to the leaving peer to go',
      async () => (await routes(nodes[0])).length === 1,
    );
    const out = await ipShow(['-4', 'route', 'show', foreign], nodes[0].netns);
    assert.match(out, /proto static/);
  });

  it('converges a hand-deleted route and a hand-deleted SNAT table back', async () => {
    const s2 = await status(nodes[1]);
    await ipBatch([`route del ${s2.block} proto ${PODNET_ROUTE_PROTO}`], nodes[0].netns);
    await nftDeleteTable(NODE_TABLE.family, NODE_TABLE.name, { netns: nodes[0].netns });
    await eventually('route and table back', async () => {
      const back = (await routes(nodes[0])).some((x) => x.dst === s2.block);
      return (
        back && (await nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns: nodes[0].netns })) !== null
      );
    });
    assert.equal(await sourceSeenBy(a1.netns, outside, OUTSIDE_IP), nodes[0].ip);
    const metrics = await agentGet(nodes[0].metrics, '/metrics');
    assert.match(metrics.body, /podnet_reconcile_drift_total\{kind="ruleset"\} [1-9]/);
  });

  it('serves Prometheus metrics with the block and the addresses in use', async () => {
    const s1 = await status(nodes[0]);
    const m = (await agentGet(nodes[0].metrics, '/metrics')).body;
    assert.match(
      m,
      new RegExp(`podnet_node_block_info\\{block="${String(s1.block).replace(/\./g, '\\.')}"\\} 1`),
    );
    assert.match(m, /podnet_ipam_block_addresses\{state="in_use"\} 2\n/);
    assert.match(m, /podnet_peer_routes 1\n/);
    assert.match(m, /podnet_reconcile_total\{result="ok"\} \d+/);
  });

  it('survives malformed HTTP and a bad CNI body on its socket', async () => {
    await new Promise<void>((resolve) => {
      const c = connect(nodes[0].socket);
      c.resume(); // read the 400 answer so the stream can end
      c.on('close', () => resolve());
      c.on('error', () => resolve());
      c.end('\x00\x01garbage\r\n\r\n');
    });
    const bad = await agentGet(nodes[0].socket, '/v1/cni', { method: 'POST', body: '{"cniVersion":' });
    assert.equal(bad.status, 400);
    assert.equal((await agentGet(nodes[0].socket, '/healthz')).status, 200);
  });

  it('keeps pods working across a graceful restart and gets the same block back', async () => {
    const before = await status(nodes[0]);
    assert.equal(await stopAgent(nodes[0].agent), 0);
    // Stopped agent: the kernel state stays, pods keep talking.
    assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip), a1.ip);
    nodes[0].agent = await startAgent(nodes[0]);
    const after = await status(nodes[0]);
    assert.equal(after.block, before.block);
    assert.deepEqual(after.pods.map((p) => p.ip).sort(), before.pods.map((p) => p.ip).sort());
    assert.deepEqual(await routes(nodes[0]), [{ dst: (await status(nodes[1])).block, via: nodes[1].ip }]);
    assert.equal(await sourceSeenBy(b1.netns, a2.netns, a2.ip), b1.ip);
  });

  it('takes a grown pod CIDR into its SNAT table without a restart', async () => {
    const rec = await store.getCluster();
    assert.ok(rec);
    const grown = `10.${r - (r % 2)}.0.0/15`;
    const profile = structuredClone(rec.profile);
    profile.network.podCidrs = [grown];
    await store.putCluster(profile, rec.generation);
    // Only the agent's watch of the cluster record carries a profile change (the resync does not), so this
    // is the watch at work.
    await eventually('the grown pod CIDR in the node table', async () => {
      const l = (await nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns: nodes[0].netns })) ?? '';
      return l.includes(`elements = { ${grown} }`);
    });
    assert.deepEqual((await status(nodes[0])).podCidrs, [grown]);
    // Pod to pod still keeps its source, pod to outside still takes the node IP.
    assert.equal(await sourceSeenBy(a1.netns, b1.netns, b1.ip), a1.ip);
    assert.equal(await sourceSeenBy(a1.netns, outside, OUTSIDE_IP), nodes[0].ip);
  });

  it('after a kill -9 during a storm of ADDs, restart and GC leave no leaked address, interface or rule', async () => {
    const node = nodes[0];
    const ruleset = await nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns: node.netns });
    const storm = await Promise.all(Array.from({ length: 12 }, (_, i) => scope.add(`s${i}`)));
    const ids = storm.map((_, i) => `${scope.prefix}storm${i}${randomBytes(3).toString('hex')}`);
    const pid = (await status(node)).pid;
    const adds = storm.map((netns, i) =>
      execPlugin(SHIM_PATH, {
        command: 'ADD',
        containerId: ids[i],
        netns: `/run/netns/${netns}`,
        config: node.config,
      }),
    );
    await new Promise((res) => setTimeout(res, 150));
    process.kill(pid, 'SIGKILL');
    const results = await Promise.all(adds);
    await node.agent.exited;
    const ok = ids.filter((_, i) => results[i].code === 0);
    // Every failed ADD is answered with a CNI error, never a half result.
    for (const res of results.filter((x) => x.code !== 0))
      assert.equal(typeof res.json?.code, 'number', res.stdout);
    node.agent = await startAgent(node);
    // The runtime's view: the pods it created before, plus the storm ADDs that succeeded.
    const valid = [a1, a2]
      .map((p) => p.containerId)
      .concat(ok)
      .map((containerID) => ({ containerID, ifname: 'eth0' }));
    const gc = await execPlugin(SHIM_PATH, {
      command: 'GC',
      config: { ...node.config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid },
    });
    assert.equal(gc.code, 0, gc.stdout);
    const s = await status(node);
    assert.deepEqual(s.pods.map((p) => p.containerId).sort(), valid.map((v) => v.containerID).sort());
    assert.equal(new Set(s.pods.map((p) => p.ip)).size, s.pods.length);
    const expectVeths = valid.map((v) => podLinkNames(v.containerID, 'eth0').hostVeth).sort();
    assert.deepEqual((await hostVeths(node)).sort(), expectVeths);
    // No per-pod rules: the node table is the same static table as before the storm.
    assert.equal(
      await nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns: node.netns }).then((l) =>
        l?.replace(/packets \d+ bytes \d+/g, ''),
      ),
      ruleset?.replace(/packets \d+ bytes \d+/g, ''),
    );
    // Storm pods that survived GC work.
    for (const [i, id] of ids.entries()) {
      if (!ok.includes(id)) continue;
      const ip = s.pods.find((p) => p.containerId === id)?.ip as string;
      assert.equal(await sourceSeenBy(storm[i], b1.netns, b1.ip), ip);
      break;
    }
  });

  it('podnet ipam check: clean after the storm, names a leaked address and an orphan interface, clean after repair', async () => {
    const node = nodes[0];
    const stateDir = join(dir, 'state');
    const podnet = (...args: string[]) =>
      execInNetns(null, [
        process.execPath,
        fileURLToPath(new URL('../../../bin/podnet.js', import.meta.url)),
        ...args,
      ]);
    const checkArgs = ['ipam', 'check', '--node', node.name, '--netns', node.netns, '--state-dir', stateDir];
    const check = async () => {
      const r = await podnet(...checkArgs, '--store', storeUrl, '-o', 'json');
      const out = JSON.parse(r.stdout) as {
        lease: string;
        block: string;
        findings: { code: string; subject: string }[];
      };
      return { code: r.code, out, found: out.findings.map((f) => `${f.code} ${f.subject}`) };
    };
    let c = await check();
    assert.deepEqual(c.found, [], 'the node is consistent after the storm and GC');
    assert.equal(c.code, 0);
    assert.equal(c.out.lease, c.out.block, 'the lease was checked against the store');

    // Behind podnet's back: one pod loses its interface (a leak), another its address (an orphan interface).
    const leaked = await addPod(node, 'leak');
    const orphan = await addPod(node, 'orph');
    const orphanVeth = podLinkNames(orphan.containerId, 'eth0').hostVeth;
    await ipBatch([`link del ${podLinkNames(leaked.containerId, 'eth0').hostVeth}`], node.netns);
    const release = ['ipam', 'release', '--node', node.name, '--state-dir', stateDir, '--container'];
    assert.equal((await podnet(...release, orphan.containerId)).code, 0);
    c = await check();
    assert.equal(c.code, 1, 'problems found: exit 1');
    const shown = await podnet(...checkArgs);
    assert.match(
      shown.stdout,
      new RegExp(`AddressWithoutInterface\\s+${leaked.ip.replaceAll('.', '\\.')}\\s`),
    );
    assert.match(shown.stderr, /lease not checked \(no --store\)/);
    assert.match(
      shown.stderr,
      new RegExp(`podnet ipam release --node ${node.name} --container ${leaked.containerId}`),
    );
    assert.deepEqual(c.found, [
      `AddressWithoutInterface ${leaked.ip}`,
      `InterfaceWithoutAddress ${orphanVeth}`,
      `PodRouteStray ${orphan.ip} dev ${orphanVeth}`,
    ]);
    // The agent's own audit (each resync, reported when two in a row agree) finds the same, for alerting.
    const problemsMetric = async () => {
      const m = (await agentGet(node.metrics, '/metrics')).body;
      return [...m.matchAll(/podnet_ipam_problems\{code="(\w+)"\} (\d+)/g)]
        .filter((x) => x[2] !== '0')
        .map((x) => `${x[1]} ${x[2]}`);
    };
    const expected = ['AddressWithoutInterface 1', 'InterfaceWithoutAddress 1', 'PodRouteStray 1'];
    await eventually(
      'the agent to report the leak and the orphan',
      async () => (await problemsMetric()).join() === expected.join(),
    );
    assert.deepEqual(
      (await status(node)).ipamProblems.map((f) => `${f.code} ${f.subject}`),
      c.found,
      'the agent and podnet ipam check agree',
    );

    // The repairs the hints name: release the leaked address; DEL (as GC would) removes the orphan's plumbing.
    assert.equal((await podnet(...release, leaked.containerId)).code, 0);
    const del = await execPlugin(SHIM_PATH, {
      command: 'DEL',
      containerId: orphan.containerId,
      netns: `/run/netns/${orphan.netns}`,
      config: node.config,
    });
    assert.equal(del.code, 0, del.stdout);
    c = await check();
    assert.deepEqual(c.found, []);
    assert.equal(c.code, 0);
    await eventually('the agent to clear its report', async () => (await problemsMetric()).length === 0);
  });

  it('leaves no orphan: the agent inside the namespace stops when its launching command is killed', async () => {
    const node = nodes[1];
    const pid = (await status(node)).pid;
    node.agent.proc.kill('SIGKILL');
    await node.agent.exited;
    await eventually('the agent inside the namespace to stop', async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('runs as one process when started inside the namespace already (nsenter ... podnet agent --netns)', async () => {
    const node = nodes[1];
    const a = spawnAgent(agentArgs(node), node.socket, { underNetns: node.netns });
    running.add(a);
    void a.exited.then(() => running.delete(a));
    await waitReady(a);
    node.agent = a;
    // nsenter execs node, so the spawned pid is the agent itself: no relay in between.
    assert.equal((await status(node)).pid, a.proc.pid);
    assert.deepEqual(await routes(node), [{ dst: (await status(nodes[0])).block, via: nodes[0].ip }]);
  });
});

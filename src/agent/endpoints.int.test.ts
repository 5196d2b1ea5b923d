/**
 * Endpoints end to end, as root: two nodes (namespaces), each with a real node agent (kernel dataplane,
 * pod IPAM file, its API on a unix socket), pods added, deleted and collected by exec'ing the real
 * `bin/podnet-cni`, and node 2 following the cluster's endpoints with a watch, as its agent would.
 *
 * The agents run in this process over one in-memory versioned store: the only cross-process backends
 * (sqlite, etcd) arrive with `ClusterStore.kv`; everything else (the CNI path, the kernel, the publisher)
 * is the real one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHIM_PATH, execPlugin } from '../cni/testing/exec-plugin.js';
import { kernelDataplane } from '../dataplane/node-dataplane.js';
import { ENDPOINTS_PREFIX, type PodEndpoint } from '../endpoints/record.js';
import { FlakyStore } from '../endpoints/testing/flaky-store.js';
import { applyEndpointUpdate, emptyEndpointView } from '../endpoints/view.js';
import { openPodIpam, podIpamPath } from '../ipam/pod-ipam.js';
import { MemoryStore } from '../store/memory.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { parseAgentFlags } from './config.js';
import { agentLogger } from './log.js';
import { NodeAgent } from './node-agent.js';
import { closeServer, serveAgentApi } from './server.js';
import { testProfile } from './test-fixtures.js';

const r = 150 + (randomBytes(1)[0] % 50);
const POD_CIDR = `10.${r}.0.0/16`;

interface Node {
  name: string;
  ip: string;
  netns: string;
  socket: string;
  agent: NodeAgent;
  server: Server;
}

let scope: NetnsScope;
let dir: string;
const kv = new FlakyStore();
const cluster = new MemoryStore();
const nodes: Node[] = [];
/** What node 2 sees of the cluster's endpoints. */
const seen = emptyEndpointView();
let stopWatch: () => void = () => {};

async function addNode(i: number): Promise<Node> {
  const name = `node${i}`;
  const ip = `192.168.${r}.${i}`;
  const netns = await scope.add(`n${i}`);
  const socket = join(dir, `n${i}.sock`);
  const config = parseAgentFlags({
    store: 'memory:',
    node: name,
    nodeIp: ip,
    netns,
    socket,
    stateDir: dir,
    leaseTtl: '60',
    logLevel: 'silent',
  });
  const agent = new NodeAgent(config, {
    store: cluster,
    openIpam: (block, maxPods) => openPodIpam({ path: podIpamPath(dir, name), block, maxPods }),
    dataplane: kernelDataplane({ netns }),
    log: agentLogger('silent'),
    nodeNetns: netns,
    objects: kv,
  });
  const server = await serveAgentApi(agent, socket, agentLogger('silent'));
  await agent.start();
  return { name, ip, netns, socket, agent, server };
}

const netconf = (node: Node) => ({
  cniVersion: '1.1.0',
  name: 'podnet',
  type: 'podnet-cni',
  agentSocket: node.socket,
});

async function cniAdd(node: Node, role: string, args: string): Promise<{ containerId: string; ip: string }> {
  const netns = await scope.add(role);
  const containerId = `${scope.prefix}${role}${randomBytes(4).toString('hex')}`;
  const res = await execPlugin(SHIM_PATH, {
    command: 'ADD',
    containerId,
    netns: `/run/netns/${netns}`,
    args,
    config: netconf(node),
  });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  return {
    containerId,
    ip: String((res.json as { ips: { address: string }[] }).ips[0].address).split('/')[0],
  };
}

async function eventually<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const seenOf = (containerId: string): PodEndpoint | undefined =>
  [...seen.endpoints.values()].find((e) => e.containerId === containerId);

describe('pod endpoints published by real agents', () => {
  before(async () => {
    scope = netnsScope('ept');
    dir = mkdtempSync(join(tmpdir(), 'podnet-ept-'));
    await cluster.putCluster(testProfile({ podCidrs: [POD_CIDR] }), 0);
    nodes.push(await addNode(1), await addNode(2));
    stopWatch = await kv.watch(ENDPOINTS_PREFIX, (u) => applyEndpointUpdate(seen, u));
  });

  after(async () => {
    stopWatch();
    for (const n of nodes) {
      await closeServer(n.server);
      await n.agent.stop();
    }
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes on ADD what node 2 then sees: namespace, name, IP, node, node IP, attachment, labels', async () => {
    await kv.txn(
      [],
      [
        {
          type: 'put',
          key: 'objects/pods/shop/web-0',
          value: JSON.stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web' } },
            spec: { containers: [{ name: 'main' }] },
          }),
        },
      ],
    );
    const pod = await cniAdd(nodes[0], 'w0', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0');
    const e = await eventually('node 2 to see the endpoint', () => seenOf(pod.containerId));
    assert.deepEqual(e, {
      node: 'node1',
      nodeIp: nodes[0].ip,
      containerId: pod.containerId,
      ifname: 'eth0',
      ips: [pod.ip],
      namespace: 'shop',
      name: 'web-0',
      labels: { app: 'web' },
    });
    // podman names only the container: the pod is in "default", with no Pod object and so no labels.
    const ctr = await cniAdd(nodes[0], 'pm', 'IgnoreUnknown=1;K8S_POD_NAME=ctr1');
    const pe = await eventually('the podman pod', () => seenOf(ctr.containerId));
    assert.deepEqual([pe.namespace, pe.name, pe.labels], ['default', 'ctr1', {}]);
  });

  it('keeps labels current when the Pod object changes', async () => {
    const [e] = [...seen.endpoints.values()].filter((x) => x.name === 'web-0');
    const obj = await kv.get('objects/pods/shop/web-0');
    const pod = JSON.parse(obj?.value ?? '{}');
    pod.metadata.labels = { app: 'web', track: 'canary' };
    await kv.txn(
      [{ key: 'objects/pods/shop/web-0', modRevision: obj?.modRevision ?? 0 }],
      [{ type: 'put', key: 'objects/pods/shop/web-0', value: JSON.stringify(pod) }],
    );
    await eventually('the new labels on node 2', () =>
      seenOf(e.containerId)?.labels.track === 'canary' ? true : undefined,
    );
  });

  it('withdraws on DEL', async () => {
    const pod = await cniAdd(nodes[1], 'd0', 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db-0');
    await eventually('db-0 published', () => seenOf(pod.containerId));
    const res = await execPlugin(SHIM_PATH, {
      command: 'DEL',
      containerId: pod.containerId,
      netns: `/run/netns/${scope.prefix}-d0`,
      config: netconf(nodes[1]),
    });
    assert.equal(res.code, 0, res.stdout);
    await eventually('db-0 withdrawn', () => (seenOf(pod.containerId) ? undefined : true));
  });

  it('withdraws what GC collects, and keeps what the runtime still lists', async () => {
    const keep = await cniAdd(nodes[1], 'g0', 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=keep');
    const drop = await cniAdd(nodes[1], 'g1', 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=drop');
    await eventually('both published', () =>
      seenOf(keep.containerId) && seenOf(drop.containerId) ? true : undefined,
    );
    const gc = await execPlugin(SHIM_PATH, {
      command: 'GC',
      config: {
        ...netconf(nodes[1]),
        'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }],
      },
    });
    assert.equal(gc.code, 0, gc.stdout);
    await eventually('drop withdrawn', () => (seenOf(drop.containerId) ? undefined : true));
    assert.ok(seenOf(keep.containerId), 'keep still published');
    assert.deepEqual(
      [...seen.endpoints.values()].filter((e) => e.node === 'node2').map((e) => e.name),
      ['keep'],
      "node 2's endpoints are exactly its pods",
    );
  });

  it('an ADD succeeds while the store is unreachable; the endpoint follows once it is back', async () => {
    kv.down = true;
    let pod: { containerId: string; ip: string };
    try {
      pod = await cniAdd(nodes[0], 'o0', 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=offline');
      assert.equal(seenOf(pod.containerId), undefined, 'not published while the store is down');
    } finally {
      kv.down = false;
    }
    const e = await eventually('the endpoint after the outage', () => seenOf(pod.containerId));
    assert.equal(e.ips[0], pod.ip);
  });
});

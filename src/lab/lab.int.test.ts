/**
 * End to end: real labs (VNet namespace, node namespaces with real agents, pods through the real CNI
 * plugin, external hosts), probed for real. Every lab has a unique name and is torn down in `after`, also
 * when a test fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ipShow } from '../kernel/ip.js';
import { listNetns } from '../kernel/netns.js';
import { readPodnetRoutes } from '../routing/routes.js';
import { vnetNetns } from '../vnet/names.js';
import { type ProbeResult, probePort, runProbes } from './check.js';
import { defaultLabProfile, withNodeCount } from './default-profile.js';
import {
  addLabPod,
  labCheck,
  labDown,
  labRestartAgent,
  labScale,
  labStatus,
  labUp,
  labUpdatePodCidr,
} from './lab.js';
import { clusterDir, vnetStatePath } from './names.js';
import { killAgent } from './node.js';
import { findProcesses } from './processes.js';
import { readLab, readVnet, requireLab } from './state.js';

function labName(tag: string): string {
  return `t${tag}${randomBytes(2).toString('hex')}`;
}

const made: string[] = [];
after(async () => {
  for (const name of made.reverse()) {
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  }
});

function failed(probes: ProbeResult[]): ProbeResult[] {
  return probes.filter((p) => !p.ok);
}

/** Every probe as expected, and every node's IPAM consistent (lab check runs podnet ipam check per node). */
async function assertAllProbes(name: string): Promise<ProbeResult[]> {
  const { probes, ipam } = await labCheck(name);
  assert.deepEqual(failed(probes), [], 'every probe as expected');
  assert.ok(ipam.length > 0, 'the IPAM of the nodes was checked');
  assert.deepEqual(
    ipam.filter((n) => n.findings.length > 0),
    [],
    'every node: pod addresses, pod interfaces and routes, and lease agree',
  );
  return probes;
}

describe('a lab', { concurrency: false }, () => {
  const name = labName('a');

  it('comes up with every promise of the overlay model holding', async () => {
    made.push(name);
    await labUp({ name, nodes: 3, podsPerNode: 2 });
    const probes = await assertAllProbes(name);
    assert.deepEqual([...new Set(probes.map((p) => p.kind))].sort(), [
      'external-pod',
      'node-pod',
      'pod-external',
      'pod-pod-cross-node',
      'pod-pod-cross-pool',
      'pod-pod-same-node',
    ]);
    const status = await labStatus([name]);
    const [c] = status.clusters;
    assert.equal(c.nodes.length, 3);
    const blocks = c.nodes.map((n) => n.block);
    assert.equal(new Set(blocks).size, 3, 'one distinct block per node');
    for (const n of c.nodes) {
      assert.match(n.block ?? '', /^10\.244\.\d+\.0\/24$/);
      assert.equal(n.pods.length, 2);
      for (const p of n.pods)
        assert.ok(p.ip?.startsWith((n.block ?? '').replace(/0\/24$/, '')), `${p.name} in ${n.block}`);
    }
    assert.deepEqual(
      status.externalHosts.map((h) => h.name),
      ['internet', 'onprem'],
    );
    // Azure's model: nodes hold no routes to their peers' blocks; the VNet's routing domain does.
    const node = requireLab(name).nodes[0];
    const nodeRoutes = await ipShow(['-4', 'route', 'show'], node.netns);
    assert.doesNotMatch(nodeRoutes, /10\.244\.\d+\.0\/24 via/);
    assert.equal(
      (await readPodnetRoutes({ netns: vnetNetns(name), table: requireLab(name).table })).length,
      3,
    );
  });

  it('scales out (the new node leases a new block, its pods are probed) and back in (the block is released)', async () => {
    await labScale(name, 'user', 2);
    let c = (await labStatus([name])).clusters[0];
    const added = c.nodes.find((n) => n.name === 'user-1');
    assert.ok(added?.block, 'new node holds a block');
    assert.equal(new Set(c.nodes.map((n) => n.block)).size, 4);
    const probes = await assertAllProbes(name);
    assert.ok(
      probes.some((p) => p.to.startsWith('pod/user-1-')),
      'the new node is probed',
    );

    await labScale(name, 'user', 1);
    c = (await labStatus([name])).clusters[0];
    assert.deepEqual(
      c.nodes.map((n) => n.name),
      ['sys-0', 'sys-1', 'user-0'],
    );
    assert.equal(
      (await readPodnetRoutes({ netns: vnetNetns(name), table: requireLab(name).table })).length,
      3,
    );
    assert.ok(
      !(await listNetns()).some((n) => n === `pl-${name}-user-1` || n.startsWith(`pl-${name}-pod-user-1-`)),
      'removed node namespace and pods are gone',
    );
    await assertAllProbes(name);
  });

  it('recovers from a killed agent: pods keep working, a restart serves new pods again', async () => {
    const node = requireLab(name).nodes[1];
    killAgent(node);
    // The dataplane is the kernel's: with the agent gone, running pods keep talking.
    await assertAllProbes(name);
    const pods = requireLab(name).pods.length;
    await assert.rejects(addLabPod(requireLab(name), node.name), /LabCniFailed|CNI/);
    assert.equal(requireLab(name).pods.length, pods, 'a failed ADD leaves no pod behind');
    assert.ok(!(await listNetns()).some((n) => n === `pl-${name}-pod-${node.name}-p2`), 'nor its namespace');
    await labRestartAgent(name, node.name);
    const pod = await addLabPod(requireLab(name), node.name);
    const block = (await labStatus([name])).clusters[0].nodes.find((n) => n.name === node.name)?.block ?? '';
    assert.ok(pod.ip?.startsWith(block.replace(/0\/24$/, '')), 'same block after the restart');
    await assertAllProbes(name);
  });
});

describe('growing the pod CIDR', () => {
  it('keeps old pods on their addresses and gives new nodes blocks from the new range (etcd store)', async () => {
    const name = labName('g');
    made.push(name);
    const profile = withNodeCount(defaultLabProfile(name), 2);
    profile.network.podCidrs = ['10.244.0.0/23'];
    await labUp({ name, profile, podsPerNode: 1, store: 'etcd' });
    const before = (await labStatus([name])).clusters[0].nodes.flatMap((n) =>
      n.pods.map((p) => [p.name, p.ip]),
    );
    await labUpdatePodCidr(name, '10.244.0.0/22');
    await labScale(name, 'user', 2);
    const after = (await labStatus([name])).clusters[0];
    const kept = after.nodes
      .flatMap((n) => n.pods.map((p) => [p.name, p.ip]))
      .filter(([n]) => before.some(([b]) => b === n));
    assert.deepEqual(kept, before, 'old pods keep their addresses');
    const fresh = after.nodes.find((n) => n.name === 'user-1');
    assert.match(fresh?.block ?? '', /^10\.244\.[23]\.0\/24$/, 'new node block from the grown range');
    await assertAllProbes(name);
  });
});

describe('two clusters with the same pod CIDR in one VNet', () => {
  it('work side by side and do not see each other', async () => {
    const a = labName('x');
    const b = labName('y');
    made.push(a, b);
    await labUp({ name: a, nodes: 2, podsPerNode: 1 });
    await labUp({ name: b, vnet: a, nodes: 2, podsPerNode: 1 });
    const sa = requireLab(a);
    const sb = requireLab(b);
    assert.equal(sa.profile.network.podCidrs[0], sb.profile.network.podCidrs[0]);
    await assertAllProbes(a);
    await assertAllProbes(b);
    // Each cluster has its own routing domain (table) in the shared VNet: every block to its own nodes.
    const ra = await readPodnetRoutes({ netns: vnetNetns(a), table: sa.table });
    const rb = await readPodnetRoutes({ netns: vnetNetns(a), table: sb.table });
    assert.equal(ra.length, 2);
    assert.deepEqual(
      rb.map((r) => r.dst),
      ra.map((r) => r.dst),
      'the same blocks (same pod CIDR, both stores hand out the lowest blocks first)',
    );
    assert.ok(ra.every((r) => sa.nodes.some((n) => n.ip === r.via)));
    assert.ok(rb.every((r) => sb.nodes.some((n) => n.ip === r.via)));
    // A pod of cluster a connecting to the address of a pod of cluster b never reaches that pod.
    const pa = sa.pods[0];
    const pb = sb.pods.find((p) => p.node === sb.nodes[1].name) ?? sb.pods[0];
    const [cross] = await runProbes([
      {
        from: { name: `pod/${pa.name}`, netns: pa.netns, ip: pa.ip as string, at: pa.ip as string },
        to: { name: `pod/${pb.name}`, netns: pb.netns, ip: pb.ip as string, at: pb.ip as string },
        kind: 'pod-pod-cross-node',
        port: probePort(),
        expect: 'deny',
      },
    ]);
    assert.equal(cross.ok, true, 'cluster b pod not reachable from cluster a');
    await labDown(a);
    assert.ok(existsSync(vnetStatePath(a)), 'the VNet stays while cluster b uses it');
    await assertAllProbes(b);
    await labDown(b);
    assert.equal(readVnet(a), null);
    assert.ok(
      !(await listNetns()).some((n) => n.startsWith(`plv-${a}`)),
      'the VNet is gone with its last cluster',
    );
  });
});

describe('lab down after a half-failed up', () => {
  it('leaves no namespace, link, route, rule, process or file behind', async () => {
    const name = labName('h');
    made.push(name);
    const rootLinks = await ipShow(['-o', 'link', 'show']);
    const rootRules = await ipShow(['rule', 'show']);
    const rootRoutes = await ipShow(['route', 'show', 'table', 'all']);
    const bin = fileURLToPath(new URL('../../../bin/podnet.js', import.meta.url));
    const up = spawn(process.execPath, [bin, 'lab', 'up', '--name', name, '--nodes', '3'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Interrupt it hard once the second node's agent was started: VNet, fabric, nodes and agents exist.
    await new Promise<void>((resolve, reject) => {
      let err = '';
      up.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/node sys-1: .*agent pid/.test(err)) {
          up.kill('SIGKILL');
          resolve();
        }
      });
      up.on('exit', () => reject(new Error(`lab up ended before it could be interrupted:\n${err}`)));
    });
    assert.ok(
      (await listNetns()).some((n) => n.startsWith(`pl-${name}-`)),
      'the interrupted up had built something',
    );
    await labDown(name);
    assert.deepEqual(
      (await listNetns()).filter((n) => n.startsWith(`pl-${name}-`) || n.startsWith(`plv-${name}`)),
      [],
    );
    assert.deepEqual(findProcesses(`${clusterDir(name)}/`), []);
    assert.equal(existsSync(clusterDir(name)), false);
    assert.equal(existsSync(vnetStatePath(name)), false);
    // Nothing in the host's own namespace changed: the lab lives only in its namespaces.
    const labLink = /^\d+: (n[0-9a-f]{10}|x-[a-z0-9]+|br\d+)[@:]/;
    const newLinks = (await ipShow(['-o', 'link', 'show']))
      .split('\n')
      .filter((l) => labLink.test(l) && !rootLinks.includes(l.split(':')[1]));
    assert.deepEqual(newLinks, []);
    assert.equal(await ipShow(['rule', 'show']), rootRules);
    const labRoute = /10\.224\.|10\.244\.|203\.0\.113\.|192\.168\.100\./;
    const routes = (t: string) => t.split('\n').filter((l) => labRoute.test(l));
    assert.deepEqual(routes(await ipShow(['route', 'show', 'table', 'all'])), routes(rootRoutes));
  });
});

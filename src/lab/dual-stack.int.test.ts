/**
 * A dual-stack lab end to end (issue 12), one lab for the file: subnets with an IPv6 /64, nodes and outside
 * hosts with IPv6 addresses, every node leasing an IPv4 /24 and an IPv6 /120, pods with one address of each.
 * `lab check` runs every probe in both families; hand-planned probes (expectations from the lab's own
 * addresses, not from trace) show the IPv6 promises directly: pod to pod across nodes keeps the pod's
 * address, egress reaches the outside from the node's IPv6 address, the outside cannot reach a pod.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { execInNetns } from '../kernel/process.js';
import { readPodnetRoutes } from '../routing/routes.js';
import type { Service } from '../services/types.js';
import { openStore, openVersionedStore } from '../store/open.js';
import type { Vnet } from '../vnet/model.js';
import { type Endpoint, type PlannedProbe, probePort, runProbes } from './check.js';
import { defaultLabProfile } from './default-profile.js';
import { labCheck, labDown, labUp, labUpdatePodCidr } from './lab.js';
import type { LabPod, LabState } from './model.js';
import { clusterDir } from './names.js';
import { readLab, readVnet } from './state.js';
import { applyObjects, backendPod, eventually, putPods } from './testing/service-lab.js';

const name = `tds${randomBytes(2).toString('hex')}`;
let state: LabState;
let vnet: Vnet;

before(async () => {
  state = await labUp({ name, profile: defaultLabProfile(name, 0, { dualStack: true }), podsPerNode: 2 });
  vnet = readVnet(state.vnet) as Vnet;
});
after(async () => {
  if (readLab(name) || existsSync(clusterDir(name))) await labDown(name);
});

const pod6 = (p: LabPod): Endpoint => ({
  name: `pod/${p.name}`,
  netns: p.netns,
  ip: p.ip6 as string,
  at: '',
});
const probe = (from: Endpoint, to: Endpoint, p: Pick<PlannedProbe, 'expect' | 'source'>): PlannedProbe => ({
  from,
  to,
  kind: 'pod-external',
  family: 6,
  port: probePort(),
  ...p,
});

describe('a dual-stack lab', { concurrency: false }, () => {
  it('gives nodes, pods and outside hosts an IPv6 address, and routes every IPv6 /120 to its node', async () => {
    assert.ok(state.nodes.length >= 3);
    for (const n of state.nodes) assert.match(n.ip6 ?? '', /^fd00:10:/, `node ${n.name} has an IPv6 address`);
    for (const p of state.pods)
      assert.match(p.ip6 ?? '', /^fd12:3456:789a::/, `pod ${p.name} has an IPv6 address`);
    for (const h of vnet.externalHosts) assert.match(h.ip6 ?? '', /^2001:db8:/, `${h.name} in 2001:db8::/32`);
    const store = await openStore(state.store.url);
    const leases = await store.listBlocks().finally(() => store.close());
    const v6 = leases.filter((l) => l.block.includes(':'));
    assert.equal(v6.length, state.nodes.length, 'one IPv6 block per node');
    const routes = (await readPodnetRoutes({ netns: vnet.netns, table: state.table })).filter((r) =>
      r.dst.includes(':'),
    );
    assert.deepEqual(
      routes.map((r) => `${r.dst} via ${r.via}`).sort(),
      v6.map((l) => `${l.block} via ${state.nodes.find((n) => n.name === l.nodeName)?.ip6}`).sort(),
      "the fabric router keeps each node's IPv6 block via the node's IPv6 address",
    );
  });

  it('lab check: every probe in both families as trace expects, every kind in IPv6 too', async () => {
    const { probes, ipam, agents, outbound } = await labCheck(name);
    assert.deepEqual(
      probes.filter((p) => !p.ok),
      [],
      'every probe as expected',
    );
    const kinds = (family?: 6) =>
      [...new Set(probes.filter((p) => p.family === family).map((p) => p.kind))].sort();
    assert.deepEqual(kinds(6), kinds(undefined), 'the IPv6 matrix has every kind of the IPv4 one');
    assert.ok(kinds(6).includes('pod-pod-cross-node') && kinds(6).includes('external-pod'));
    for (const p of probes.filter((x) => x.family === 6 && x.expect === 'allow'))
      assert.ok(p.sourceSeen?.includes(':'), `${p.from} -> ${p.to} arrived over IPv6`);
    assert.deepEqual(
      ipam.filter((n) => n.findings.length > 0),
      [],
      "every node's IPAM (both families' address files) consistent",
    );
    assert.deepEqual(
      agents.filter((a) => a.problems.length > 0),
      [],
    );
    assert.ok(outbound.ok, `the outbound check passes: ${JSON.stringify(outbound)}`);
  });

  it('IPv6: pod to pod keeps the pod address; egress shows the node, then the IPv6 outbound frontend; the outside is refused', async () => {
    const [a, b] = [
      state.pods.find((p) => p.node === state.nodes[0].name),
      state.pods.find((p) => p.node === state.nodes[1].name),
    ] as LabPod[];
    const nodeA = state.nodes[0];
    const host = (kind: 'internet' | 'connected'): Endpoint => {
      const h = vnet.externalHosts.find((x) => x.kind === kind);
      assert.ok(h?.ip6, `the ${kind} host has an IPv6 address`);
      return { name: `external/${h.name}`, netns: h.netns, ip: h.ip6, at: '' };
    };
    const [outside, onprem] = [host('internet'), host('connected')];
    // The cluster's outbound type is loadBalancer: a dual-stack load balancer has an IPv6 outbound frontend.
    const publicIp6 = vnet.clusters.find((c) => c.name === name)?.outbound?.publicIp6;
    assert.match(publicIp6 ?? '', /^2001:db8:198:51::/);
    const [cross, egress, connected, inbound] = await runProbes([
      probe(pod6(a), pod6(b), { expect: 'allow', source: a.ip6 }),
      probe(pod6(a), outside, { expect: 'allow', source: publicIp6 }),
      probe(pod6(a), onprem, { expect: 'allow', source: nodeA.ip6 }),
      probe(outside, pod6(a), { expect: 'deny' }),
    ]);
    assert.equal(cross.sourceSeen, a.ip6, 'no SNAT between pods: the receiver sees the pod IPv6 address');
    assert.equal(
      connected.sourceSeen,
      nodeA.ip6,
      "a connected network sees the node's IPv6 address (masquerade)",
    );
    assert.equal(
      egress.sourceSeen,
      publicIp6,
      "the internet sees the load balancer's IPv6 outbound frontend",
    );
    assert.equal(inbound.connected, false, 'the outside host cannot open a connection to a pod IPv6 address');
    assert.ok(cross.ok && egress.ok && connected.ok && inbound.ok);
  });

  // A dual-stack LoadBalancer Service gets a frontend of each family, as AKS gives it an IPv4 and an IPv6
  // frontend IP. Found here first: the load balancer took each node's IPv6 lease for another node, and failed
  // every round.
  it('a dual-stack LoadBalancer Service: the outside host reaches both its frontends', async () => {
    const kv = await openVersionedStore(state.store.url);
    try {
      await putPods(kv, backendPod('be-0', state.nodes[0].name));
      await applyObjects(kv, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          type: 'LoadBalancer',
          ipFamilyPolicy: 'PreferDualStack',
          selector: { app: 'be' },
          ports: [{ port: 80, targetPort: 'http' }],
        },
      });
      const frontends = await eventually('a frontend of each family in status.loadBalancer', async () => {
        const svc = JSON.parse((await kv.get('objects/services/default/web'))?.value ?? '{}') as Service;
        const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip as string);
        return ips.length === 2 ? ips : undefined;
      });
      assert.match(frontends[0], /^198\.51\.100\./);
      assert.match(frontends[1], /^2001:db8:198:51::/, 'the IPv6 frontend, from the cluster’s IPv6 range');
      const internet = vnet.externalHosts.find((h) => h.kind === 'internet');
      assert.ok(internet);
      for (const frontend of frontends) {
        const answer = await eventually(`an answer from ${frontend}`, async () => {
          const r = await execInNetns(internet.netns, ['nc', '-N', '-w', '2', frontend, '80'], { input: '' });
          return r.stdout.trim() || undefined;
        });
        assert.equal(answer, 'default/be-0', `through ${frontend}`);
      }
    } finally {
      await kv.close();
    }
  });

  it('growing a dual-stack pod CIDR is refused as AKS refuses it, and nothing changes', async () => {
    await assert.rejects(
      labUpdatePodCidr(name, '10.244.0.0/15'),
      (e: unknown) => e instanceof PodnetError && e.code === 'PodCidrGrowthDualStack',
    );
    const store = await openStore(state.store.url);
    const rec = await store.getCluster().finally(() => store.close());
    assert.deepEqual(rec?.profile.network.podCidrs, ['10.244.0.0/16', 'fd12:3456:789a::/64']);
  });
});

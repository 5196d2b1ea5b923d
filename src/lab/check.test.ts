import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outboundOf } from '../outbound/plan.js';
import { traceWorldFromDocuments } from '../trace/world.js';
import { planVnetJoin } from '../vnet/plan.js';
import { decisionText, judge, judgeOutbound, planProbes } from './check.js';
import { defaultLabProfile } from './default-profile.js';
import type { LabPod, LabState } from './model.js';
import { planPoolNodes } from './topology.js';

function lab(podsPerNode: number): { state: LabState; vnet: ReturnType<typeof planVnetJoin> } {
  const profile = defaultLabProfile('a');
  const vnet = planVnetJoin(null, 'a', 'a', profile);
  const nodes = planPoolNodes(profile, 'a', '/tmp/a', vnet, []);
  const pods: LabPod[] = nodes.flatMap((n, i) =>
    Array.from({ length: podsPerNode }, (_, j) => ({
      name: `${n.name}-p${j}`,
      namespace: 'default',
      node: n.name,
      netns: `pl-a-pod-${n.name}-p${j}`,
      containerId: `c${i}${j}`,
      ip: `10.244.${i}.${j + 4}`,
    })),
  );
  const state: LabState = {
    name: 'a',
    vnet: 'a',
    dir: '/tmp/a',
    profile,
    store: { kind: 'sqlite', url: 'sqlite:/tmp/a/c.db' },
    table: 100,
    podsPerNode,
    nodes,
    pods,
    phase: 'ready',
  };
  return { state, vnet };
}

/** The world `trace --lab` reads for this lab: its pods as their objects report them, plus `extra` objects. */
function worldOf({ state, vnet }: ReturnType<typeof lab>, extra: unknown[] = []) {
  const pods = state.pods.map((p) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace },
    spec: { nodeName: p.node, containers: [{ name: 'c', image: 'x' }] },
    status: { podIP: p.ip, hostIP: state.nodes.find((n) => n.name === p.node)?.ip },
  }));
  const world = traceWorldFromDocuments(
    [...pods, ...extra].map((value, index) => ({ source: { file: 'test', index }, value })),
  );
  world.profile = state.profile;
  world.outbound = outboundOf(vnet, state.name);
  return world;
}

describe('probe plan', () => {
  it('covers every kind the overlay model promises, with the source each receiver must see', () => {
    const l = lab(2);
    const { state, vnet } = l;
    const probes = planProbes(state, vnet, worldOf(l), 20_000);
    const kinds = new Set(probes.map((p) => p.kind));
    assert.deepEqual([...kinds].sort(), [
      'external-pod',
      'node-pod',
      'pod-external',
      'pod-pod-cross-node',
      'pod-pod-cross-pool',
      'pod-pod-same-node',
    ]);
    for (const p of probes.filter((x) => x.kind.startsWith('pod-pod')))
      assert.equal(p.source, p.from.ip, 'pod IP kept');
    const out = probes.filter((x) => x.kind === 'pod-external');
    assert.equal(out.length, 3 * 2, 'each node to each external host');
    for (const p of out) {
      const node = state.nodes.find((n) => p.from.name === `pod/${n.name}-p0`);
      // learn.microsoft.com/azure/aks/egress-outboundtype: loadBalancer (the default) SNATs egress to the
      // load balancer's outbound frontend; a connected network sees the node IP (the overlay's SNAT).
      const internet = p.to.name === 'external/internet';
      assert.equal(p.source, internet ? '198.51.100.62' : node?.ip, p.to.name);
    }
    for (const p of probes.filter((x) => x.kind === 'external-pod')) {
      assert.equal(p.expect, 'deny');
      assert.equal(p.trace && decisionText(p.trace), 'route pod-cidr-not-routed');
    }
    assert.ok(probes.filter((x) => x.kind !== 'external-pod').every((p) => p.expect === 'allow'));
  });

  it("expects what trace decides with the lab's NSGs: denied where a rule blocks the probe's port", () => {
    const l = lab(1);
    const deny = (port: number) => ({
      name: 'user-nsg',
      type: 'Microsoft.Network/networkSecurityGroups',
      securityRules: [
        {
          name: 'no-probes-from-sys',
          priority: 200,
          direction: 'Inbound',
          access: 'Deny',
          protocol: 'Tcp',
          sourceAddressPrefix: '10.244.0.0/23',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRange: String(port),
        },
      ],
      subnets: [{ id: '/s/x/virtualNetworks/lab-vnet/subnets/a-user' }],
    });
    const toUser = (port: number) =>
      planProbes(l.state, l.vnet, worldOf(l, [deny(port)]), 20_000).filter(
        (p) => p.kind === 'pod-pod-cross-pool' && p.to.name.startsWith('pod/user-'),
      );
    const [blocked] = toUser(20_000);
    assert.equal(blocked.expect, 'deny');
    assert.equal(blocked.trace && decisionText(blocked.trace), 'nsg user-nsg no-probes-from-sys');
    const [open] = toUser(20_001);
    assert.equal(open.expect, 'allow');
    assert.equal(open.source, open.from.ip);
  });

  it('reaches every node, so a node added by scale is probed too', () => {
    const l = lab(1);
    const { state } = l;
    const probes = planProbes(state, l.vnet, worldOf(l), 20_000);
    for (const n of state.nodes) {
      assert.ok(
        probes.some((p) => p.to.name === `pod/${n.name}-p0` && p.kind.startsWith('pod-pod')),
        n.name,
      );
    }
  });
});

describe('probe verdict', () => {
  const allow = {
    from: { name: 'pod/a', netns: 'x', ip: '10.244.0.4' },
    to: { name: 'pod/b', netns: 'y', ip: '10.244.1.4' },
    kind: 'pod-pod-cross-node' as const,
    expect: 'allow' as const,
    source: '10.244.0.4',
  };
  it('fails an allowed probe that connects with the wrong source (e.g. SNAT between pods)', () => {
    assert.equal(judge(allow, true, '10.244.0.4'), true);
    assert.equal(judge(allow, true, '10.224.0.4'), false);
    assert.equal(judge(allow, false, null), false);
  });
  it('fails a denied probe that gets through', () => {
    const deny = { ...allow, kind: 'external-pod' as const, expect: 'deny' as const, source: undefined };
    assert.equal(judge(deny, false, null), true);
    assert.equal(judge(deny, true, '203.0.113.10'), false);
  });
});

describe('outbound verdict', () => {
  const l = lab(1);
  const planned = planProbes(l.state, l.vnet, worldOf(l), 20_000);
  const ran = (seen: (p: (typeof planned)[number]) => string | null) =>
    planned.map((p) => ({
      from: p.from.name,
      to: p.to.name,
      kind: p.kind,
      expect: p.expect,
      decidedBy: '-',
      ok: true,
      sourceSeen: seen(p),
      connected: true,
      detail: null,
      durationSeconds: 0,
    }));
  const nodeIp = (pod: string) => l.state.nodes.find((n) => pod === `pod/${n.name}-p0`)?.ip;
  const lb = outboundOf(l.vnet, 'a');

  it("passes when the internet saw the plan's address on every pod's probe, and names what it saw", () => {
    const r = judgeOutbound(
      lb,
      'internet',
      planned,
      ran(() => '198.51.100.62'),
      null,
      nodeIp,
    );
    assert.deepEqual([r.type, r.probes, r.ok, r.logged], ['loadBalancer', 3, true, undefined]);
    const wrong = judgeOutbound(
      lb,
      'internet',
      planned,
      ran((p) => nodeIp(p.from.name) ?? null),
      null,
      nodeIp,
    );
    assert.equal(wrong.ok, false, 'the node IP is not the outbound frontend');
    assert.deepEqual(wrong.seen, ['10.224.0.4', '10.224.0.5', '10.224.1.4']);
  });

  // Found by `podnet demo --dual-stack`: the IPv6 twins of the probes were judged against the IPv4 address.
  it('judges each family against its own outbound address; IPv6 probes only when there is one', () => {
    const v6 = planned.filter((p) => p.kind === 'pod-external').map((p) => ({ ...p, family: 6 as const }));
    const both = [...planned, ...v6];
    const results = [...ran(() => '198.51.100.62'), ...v6.map(() => ({ ...ran(() => 'fd00:10::4')[0] }))];
    const r = judgeOutbound(lb, 'internet', both, results, null, nodeIp);
    assert.deepEqual([r.probes, r.ok], [3, true]);
    // With an IPv6 outbound frontend (a dual-stack loadBalancer cluster), the IPv6 probes are judged against it.
    const lb6 = { ...lb, publicIp6: '2001:db8:198:51::3e' };
    assert.deepEqual(
      [judgeOutbound(lb6, 'internet', both, results, null, nodeIp)].map((x) => [x.probes, x.ok]),
      [[6, false]],
      'seen from the node IPv6 address, not the outbound frontend',
    );
    const right = [
      ...ran(() => '198.51.100.62'),
      ...v6.map(() => ({ ...ran(() => '2001:db8:198:51::3e')[0] })),
    ];
    assert.equal(judgeOutbound(lb6, 'internet', both, right, null, nodeIp).ok, true);
  });

  it('behind a firewall, passes only when the firewall logged every flow as it saw it (from the node)', () => {
    const fw = { ...lb, type: 'userDefinedRouting' as const, publicIp: '198.51.100.253' };
    const internet = planned.filter((p) => p.kind === 'pod-external' && p.to.name === 'external/internet');
    const log = internet.map((p) => ({
      source: nodeIp(p.from.name) as string,
      destination: p.to.ip,
      protocol: 'tcp',
      port: p.port,
    }));
    const seen = ran(() => '198.51.100.253');
    assert.deepEqual(
      [judgeOutbound(fw, 'internet', planned, seen, log, nodeIp)].map((r) => [r.logged, r.ok]),
      [[3, true]],
    );
    const missing = judgeOutbound(fw, 'internet', planned, seen, log.slice(1), nodeIp);
    assert.deepEqual([missing.logged, missing.ok], [2, false]);
    const otherPort = log.map((f) => ({ ...f, port: f.port + 1 }));
    assert.equal(judgeOutbound(fw, 'internet', planned, seen, otherPort, nodeIp).ok, false);
  });
});

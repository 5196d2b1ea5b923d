/**
 * The pure planning of a dual-stack lab (issue 12): the profile's subnet prefixes, the VNet plan (IPv6
 * gateways, outside hosts in 2001:db8::/32, rules and firewall per family), node addresses, and the probe
 * matrix in both families with trace's expectations (SNAT to the node's address of the packet's family).
 * An IPv4-only profile plans exactly as before: no IPv6 anywhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { checkPlan } from '../plan/check.js';
import { profileFromObject } from '../profile/load.js';
import { profileToObject } from '../profile/normalize.js';
import { traceWorldFromDocuments } from '../trace/world.js';
import { renderVnetFirewall, vnetFamilies, vnetFirewallInput } from '../vnet/firewall.js';
import { hostSide6, renderSubnetBridges } from '../vnet/network.js';
import { planVnetJoin } from '../vnet/plan.js';
import { renderClusterRules } from '../vnet/routing-domain.js';
import { labFamilies, planProbes } from './check.js';
import { defaultLabProfile } from './default-profile.js';
import type { LabPod, LabState } from './model.js';
import { probeName } from './report.js';
import { planPoolNodes } from './topology.js';

const dual = () => defaultLabProfile('a', 0, { dualStack: true });

describe('dual-stack profile subnets', () => {
  it('reads cidrs [IPv4, IPv6] as the subnet prefixes and writes them back the same way', () => {
    const p = dual();
    assert.deepEqual(p.vnet.subnets[0], { name: 'a-sys', cidr: '10.224.0.0/24', cidr6: 'fd00:10::/64' });
    assert.deepEqual(profileFromObject(profileToObject(p)), p, 'round trip');
    assert.equal(defaultLabProfile('a').vnet.subnets[0].cidr6, undefined);
  });

  it('refuses prefixes in the wrong order or of one family twice, and cidr beside cidrs', () => {
    const bad = (subnet: Record<string, unknown>) =>
      assert.throws(
        () =>
          profileFromObject({
            vnet: { name: 'v', addressSpaces: ['10.0.0.0/8'], subnets: [{ name: 's', ...subnet }] },
          }),
        (e: unknown) =>
          e instanceof PodnetError && e.code === 'InvalidProfile' && /vnet\.subnets\[0\]/.test(e.field ?? ''),
      );
    bad({ cidrs: ['fd00:10::/64', '10.224.0.0/24'] });
    bad({ cidrs: ['10.224.0.0/24', '10.225.0.0/24'] });
    bad({ cidr: 'fd00:10::/64' });
    bad({ cidr: '10.224.0.0/24', cidrs: ['10.224.0.0/24', 'fd00:10::/64'] });
  });
});

describe('dual-stack subnet planning rules', () => {
  it('the dual-stack lab profile passes; an IPv6 prefix not a /64 or outside the IPv6 address spaces does not', () => {
    assert.deepEqual(checkPlan(dual()).errors, []);
    const p = dual();
    p.vnet.subnets[0].cidr6 = 'fd00:10::/80';
    p.vnet.subnets[1].cidr6 = 'fd00:99::/64';
    assert.deepEqual(
      checkPlan(p).errors.map((e) => [e.code, e.field]),
      [
        ['SubnetIpv6PrefixSize', 'vnet.subnets[0].cidrs[1]'],
        ['SubnetOutsideVnet', 'vnet.subnets[1].cidrs[1]'],
      ],
    );
  });
});

describe('dual-stack VNet plan', () => {
  it('gives subnet bridges an IPv6 gateway and outside hosts IPv6 addresses of 2001:db8::/32', () => {
    const v = planVnetJoin(null, 'net', 'a', dual());
    assert.deepEqual(
      v.subnets.map((s) => [s.cidr6, s.gateway6]),
      [
        ['fd00:10::/64', 'fd00:10::1'],
        ['fd00:10:0:1::/64', 'fd00:10:0:1::1'],
      ],
    );
    assert.deepEqual(
      v.externalHosts.map((h) => [h.name, h.ip6, h.vnetIp6]),
      [
        ['internet', '2001:db8:203:113::a', '2001:db8:203:113::1'],
        ['onprem', '2001:db8:1:1::a', '2001:db8:1:1::1'],
      ],
    );
    assert.deepEqual(vnetFamilies(v), [4, 6]);
    assert.deepEqual(renderSubnetBridges(v, new Set(['br0', 'br1'])), [
      'addr replace fd00:10::1/64 dev br0 nodad',
      'addr replace fd00:10:0:1::1/64 dev br1 nodad',
    ]);
    assert.deepEqual(hostSide6('2001:db8:203:113::10/64', '2001:db8:203:113::1'), [
      'addr replace 2001:db8:203:113::10/64 dev eth0 nodad',
      'route replace default via 2001:db8:203:113::1',
    ]);
    assert.deepEqual(renderClusterRules(v, 'a', 'add', 6), [
      'rule add iif br0 lookup 100 pref 100',
      'rule add iif br1 lookup 100 pref 100',
    ]);
    const fw6 = renderVnetFirewall(vnetFirewallInput(v, 6));
    assert.match(fw6, /iifname \{ "br0", "br1" \} ip6 daddr \{ fd12:3456:789a::\/64 \} accept/);
    assert.match(fw6, /ip6 daddr \{ fd12:3456:789a::\/64 \} counter reject with icmpv6/);
  });

  it('an IPv4-only cluster plans no IPv6: no gateways, no host addresses, one family', () => {
    const v = planVnetJoin(null, 'net', 'a', defaultLabProfile('a'));
    assert.ok(v.subnets.every((s) => s.cidr6 === undefined && s.gateway6 === undefined));
    assert.ok(v.externalHosts.every((h) => h.ip6 === undefined));
    assert.deepEqual(vnetFamilies(v), [4]);
    assert.deepEqual(renderClusterRules(v, 'a', 'add', 6), []);
    assert.deepEqual(renderSubnetBridges(v, new Set(['br0', 'br1'])), []);
  });

  it('a dual-stack cluster joining an IPv4 VNet gives the shared outside hosts their IPv6 addresses', () => {
    const v = planVnetJoin(
      planVnetJoin(null, 'net', 'a', defaultLabProfile('a')),
      'net',
      'b',
      defaultLabProfile('b', 1, { dualStack: true }),
    );
    assert.ok(v.externalHosts.every((h) => h.ip6?.startsWith('2001:db8:')));
    assert.deepEqual(
      v.subnets.map((s) => s.gateway6 ?? null),
      [null, null, 'fd00:10:0:2::1', 'fd00:10:0:3::1'],
    );
    assert.deepEqual(renderClusterRules(v, 'a', 'add', 6), [], 'the IPv4 cluster has no IPv6 rules');
  });

  it('refuses a dual-stack cluster whose node subnet has no IPv6 prefix, before anything is made', () => {
    const p = dual();
    p.vnet.subnets[1] = { name: p.vnet.subnets[1].name, cidr: p.vnet.subnets[1].cidr };
    assert.throws(
      () => planVnetJoin(null, 'net', 'a', p),
      (e: unknown) =>
        e instanceof PodnetError && e.code === 'LabSubnetNoIpv6' && e.field === 'vnet.subnets[1].cidrs',
    );
  });
});

function dualLab(): { state: LabState; vnet: ReturnType<typeof planVnetJoin> } {
  const profile = dual();
  const vnet = planVnetJoin(null, 'a', 'a', profile);
  const nodes = planPoolNodes(profile, 'a', '/tmp/a', vnet, []);
  const pods: LabPod[] = nodes.flatMap((n, i) =>
    [0, 1].map((j) => ({
      name: `${n.name}-p${j}`,
      namespace: 'default',
      node: n.name,
      netns: `pl-a-pod-${n.name}-p${j}`,
      containerId: `c${i}${j}`,
      ip: `10.244.${i}.${j + 1}`,
      ip6: `fd12:3456:789a::${(i * 256 + j + 1).toString(16)}`,
    })),
  );
  const state: LabState = {
    ...{ name: 'a', vnet: 'a', dir: '/tmp/a', profile, table: 100, podsPerNode: 2, phase: 'ready' as const },
    store: { kind: 'sqlite', url: 'sqlite:/tmp/a/c.db' },
    nodes,
    pods,
  };
  return { state, vnet };
}

describe('dual-stack probe plan', () => {
  it("gives each node the IPv6 address at its IPv4 address's offset", () => {
    const { state } = dualLab();
    assert.deepEqual(
      state.nodes.map((n) => [n.ip, n.ip6]),
      [
        ['10.224.0.4', 'fd00:10::4'],
        ['10.224.0.5', 'fd00:10::5'],
        ['10.224.1.4', 'fd00:10:0:1::4'],
      ],
    );
  });

  it('runs every probe again in IPv6, trace expecting SNAT to the node IPv6 address and the outside refused', () => {
    const { state, vnet } = dualLab();
    // The pods' objects as the lab reports them: both families in podIPs and hostIPs.
    const docs = state.pods.map((p, index) => {
      const n = state.nodes.find((x) => x.name === p.node);
      return {
        source: { file: 'test', index },
        value: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: p.name, namespace: p.namespace },
          spec: { nodeName: p.node, containers: [{ name: 'c', image: 'x' }] },
          status: {
            podIP: p.ip,
            podIPs: [{ ip: p.ip }, { ip: p.ip6 }],
            hostIP: n?.ip,
            hostIPs: [{ ip: n?.ip }, { ip: n?.ip6 }],
          },
        },
      };
    });
    const world = traceWorldFromDocuments(docs);
    world.profile = state.profile;
    assert.deepEqual(labFamilies(state), [4, 6]);
    const probes = planProbes(state, vnet, world, 20_000);
    const v4 = probes.filter((p) => !p.family);
    const v6 = probes.filter((p) => p.family === 6);
    assert.equal(v6.length, v4.length, 'the same matrix in both families');
    assert.deepEqual(
      v6.map((p) => p.kind),
      v4.map((p) => p.kind),
    );
    for (const p of v6) {
      assert.ok(p.from.ip.includes(':') && p.to.ip.includes(':'), `${probeName(p)} between IPv6 addresses`);
      assert.match(probeName(p), /^[a-z-]+-ipv6:/);
    }
    const egress = v6.find((p) => p.kind === 'pod-external' && p.to.name === 'external/internet');
    assert.equal(egress?.expect, 'allow');
    assert.equal(egress?.source, 'fd00:10::4', "SNAT to the node's IPv6 address");
    const cross = v6.find((p) => p.kind === 'pod-pod-cross-node');
    assert.equal(cross?.source, cross?.from.ip, 'no SNAT between pods');
    assert.ok(v6.filter((p) => p.kind === 'external-pod').every((p) => p.expect === 'deny'));
    const nodePod = v6.find((p) => p.kind === 'node-pod');
    assert.equal(nodePod?.source, 'fd00:10::4', 'a node reaches pods from its IPv6 address');
  });

  it('an IPv4-only lab probes in IPv4 only, names unchanged', () => {
    const profile = defaultLabProfile('a');
    const vnet = planVnetJoin(null, 'a', 'a', profile);
    const nodes = planPoolNodes(profile, 'a', '/tmp/a', vnet, []);
    assert.ok(nodes.every((n) => n.ip6 === undefined));
    assert.deepEqual(labFamilies({ nodes } as LabState), [4]);
  });
});

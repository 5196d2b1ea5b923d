/**
 * trace follows the outbound type (learn.microsoft.com/azure/aks/egress-outboundtype): after the node's SNAT
 * (AKS overlay: "Traffic from a pod to any destination outside the pod CIDR block uses SNAT to set the source
 * IP to the IP of the node"), a flow to the internet leaves through the load balancer's outbound frontend, the
 * NAT gateway or the UDR's firewall, and the internet sees that hop's public address; the plan is the VNet's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultLabProfile } from '../lab/default-profile.js';
import { outboundOf } from '../outbound/plan.js';
import type { OutboundType } from '../profile/types.js';
import { planVnetJoin } from '../vnet/plan.js';
import { type TraceWorld, trace } from './trace.js';

function labWorld(type: OutboundType, withPlan = true): TraceWorld {
  const base = defaultLabProfile('a', 0);
  const profile = { ...base, network: { ...base.network, outboundType: type } };
  const world: TraceWorld = {
    profile,
    namespaces: new Map([['default', {}]]),
    pods: [
      {
        namespace: 'default',
        name: 'web',
        labels: {},
        ips: ['10.244.0.5'],
        node: 'sys-0',
        hostIP: '10.224.0.4',
        ports: [],
      },
    ],
    policies: [],
    nsgs: [],
    nics: [],
  };
  if (withPlan) world.outbound = outboundOf(planVnetJoin(null, 'net', 'a', profile), 'a');
  return world;
}

const out = (world: TraceWorld, from: string, to: string) =>
  trace(world, { from, to, protocol: 'TCP', port: 443, state: 'new' });

describe('trace: the outbound type', () => {
  const cases: [OutboundType, string, RegExp][] = [
    ['loadBalancer', 'vnet load balancer', /outbound frontend 198\.51\.100\.62/],
    ['managedNATGateway', 'NAT gateway 192.0.2.2', /NAT gateway SNATs to its public IP 198\.51\.100\.62/],
    [
      'userDefinedRouting',
      'firewall 192.0.2.2',
      /0\.0\.0\.0\/0 -> 192\.0\.2\.2 .*firewall, which logs the flow and SNATs to its public IP 198\.51\.100\.62/,
    ],
  ];
  for (const [type, at, detail] of cases) {
    it(`${type}: after the node's masquerade, the hop that SNATs and the address the internet sees`, () => {
      const r = out(labWorld(type), 'default/web', '203.0.113.10');
      assert.equal(r.verdict, 'allow');
      assert.equal(r.sourceSeen, '198.51.100.62');
      const layers = r.hops.map((h) => h.layer);
      assert.ok(layers.indexOf('nat') < layers.indexOf('outbound'), 'the node SNATs first');
      const hop = r.hops.find((h) => h.layer === 'outbound');
      assert.equal(hop?.at, at);
      assert.match(hop?.detail ?? '', detail);
      assert.deepEqual(
        r.decidedBy.filter((d) => d.layer === 'outbound'),
        [{ layer: 'outbound', object: type, rule: '198.51.100.62' }],
      );
      assert.match(r.hops.at(-1)?.detail ?? '', /receives it from 198\.51\.100\.62/);
    });
  }

  it('a node leaves the same way; connected networks and the VNet keep the node address', () => {
    const world = labWorld('managedNATGateway');
    assert.equal(out(world, '10.224.0.4', '203.0.113.10').sourceSeen, '198.51.100.62');
    const onprem = out(world, 'default/web', '192.168.100.10');
    assert.equal(onprem.sourceSeen, '10.224.0.4');
    assert.equal(
      onprem.hops.some((h) => h.layer === 'outbound'),
      false,
    );
    assert.equal(out(world, 'default/web', '10.224.1.4').sourceSeen, '10.224.0.4');
  });

  it('an outside host is not the cluster: nothing of its traffic takes the outbound type', () => {
    const r = out(labWorld('loadBalancer'), '203.0.113.10', '10.224.0.4');
    assert.equal(r.sourceSeen, '203.0.113.10');
    assert.equal(
      r.hops.some((h) => h.layer === 'outbound'),
      false,
    );
  });

  it('without the VNet plan only the outbound type is known, and trace says so rather than guess', () => {
    const r = out(labWorld('userDefinedRouting', false), 'default/web', '203.0.113.10');
    assert.equal(r.sourceSeen, '10.224.0.4');
    const hop = r.hops.find((h) => h.layer === 'outbound');
    assert.match(
      hop?.detail ?? '',
      /outbound type userDefinedRouting: .*do not name \(trace --lab knows the lab's\)/,
    );
    assert.equal(
      r.decidedBy.some((d) => d.layer === 'outbound'),
      false,
    );
  });
});

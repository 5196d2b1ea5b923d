import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { defaultLabProfile } from '../lab/default-profile.js';
import { planVnetJoin, planVnetLeave } from './plan.js';
import { renderClusterRules } from './routing-domain.js';

describe('VNet plan', () => {
  const a = defaultLabProfile('a', 0);
  const b = defaultLabProfile('b', 1);

  it('gives each subnet a bridge with the first usable address as gateway, and each cluster a table', () => {
    const v = planVnetJoin(null, 'net', 'a', a);
    assert.deepEqual(
      v.subnets.map((s) => [s.cidr, s.bridge, s.gateway, s.cluster]),
      [
        ['10.224.0.0/24', 'br0', '10.224.0.1', 'a'],
        ['10.224.1.0/24', 'br1', '10.224.1.1', 'a'],
      ],
    );
    assert.deepEqual(
      v.clusters.map((c) => [c.name, c.table, c.podCidrs, c.outbound.type, c.frontendCidr]),
      [['a', 100, ['10.244.0.0/16'], 'loadBalancer', '198.51.100.0/26']],
    );
    assert.deepEqual(
      v.externalHosts.map((h) => [h.name, h.ip, h.vnetIp, h.netns]),
      [
        ['internet', '203.0.113.10', '203.0.113.1', 'plv-net-inet'],
        ['onprem', '192.168.100.10', '192.168.100.1', 'plv-net-onprem'],
      ],
    );
  });

  it('lets a second cluster with the same pod CIDR join on its own subnets, with its own table', () => {
    const v = planVnetJoin(planVnetJoin(null, 'net', 'a', a), 'net', 'b', b);
    assert.deepEqual(
      v.clusters.map((c) => [c.name, c.table, c.podCidrs[0], c.frontendCidr]),
      [
        ['a', 100, '10.244.0.0/16', '198.51.100.0/26'],
        ['b', 101, '10.244.0.0/16', '198.51.100.64/26'],
      ],
      'each cluster its own load balancer frontends',
    );
    assert.equal(v.externalHosts.length, 2, 'external hosts are shared, not duplicated');
    assert.deepEqual(renderClusterRules(v, 'b', 'add'), [
      'rule add iif br2 lookup 101 pref 101',
      'rule add iif br3 lookup 101 pref 101',
    ]);
  });

  it('refuses a cluster on subnets another cluster already uses, before anything is created', () => {
    const v = planVnetJoin(null, 'net', 'a', a);
    assert.throws(
      () => planVnetJoin(v, 'net', 'c', defaultLabProfile('c', 0)),
      (e: unknown) => e instanceof PodnetError && e.code === 'LabSubnetInUse',
    );
    const clash = structuredClone(b);
    clash.vnet.subnets[0].cidr = '10.224.0.0/23';
    assert.throws(
      () => planVnetJoin(v, 'net', 'c', clash),
      (e: unknown) => e instanceof PodnetError && e.code === 'LabSubnetConflict',
    );
  });

  it('frees the subnets and the table when a cluster leaves', () => {
    const v = planVnetLeave(planVnetJoin(planVnetJoin(null, 'net', 'a', a), 'net', 'b', b), 'a');
    assert.deepEqual(
      v.clusters.map((c) => c.name),
      ['b'],
    );
    assert.equal(v.subnets.filter((s) => s.cluster === 'a').length, 0);
    const c = planVnetJoin(v, 'net', 'c', defaultLabProfile('c', 0)).clusters.at(-1);
    assert.equal(c?.table, 100);
    assert.equal(c?.frontendCidr, '198.51.100.0/26', "the leaver's frontends are free again");
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { checkPlan } from '../plan/check.js';
import { defaultLabProfile, withNodeCount } from './default-profile.js';
import { checkLabName, nodeVnetLink } from './names.js';
import {
  planPoolNodes,
  planVnetJoin,
  planVnetLeave,
  renderClusterRules,
  renderVnetFirewall,
} from './topology.js';

describe('lab default profile', () => {
  it('passes every planning rule, also when shifted to another slot of a shared VNet', () => {
    for (const slot of [0, 1, 5]) assert.equal(checkPlan(defaultLabProfile('a', slot)).valid, true);
  });

  it('spreads --nodes over the pools round-robin', () => {
    const p = withNodeCount(defaultLabProfile('a'), 5);
    assert.deepEqual(
      p.nodePools.map((x) => [x.name, x.count]),
      [
        ['sys', 3],
        ['user', 2],
      ],
    );
  });
});

describe('lab names', () => {
  it('refuses names that cannot prefix namespaces', () => {
    for (const bad of ['', 'Demo', 'a-b', 'x'.repeat(13), '1abc', 'a/b']) {
      assert.throws(
        () => checkLabName(bad),
        (e: unknown) => e instanceof PodnetError && e.code === 'InvalidLabName',
      );
    }
    assert.equal(checkLabName('demo2'), 'demo2');
  });

  it('keeps VNet link names within 15 characters and distinct across clusters', () => {
    const a = nodeVnetLink('aaaaaaaaaaaa', 'sys-10');
    const b = nodeVnetLink('bbbbbbbbbbbb', 'sys-10');
    assert.ok(a.length <= 15 && b.length <= 15);
    assert.notEqual(a, b);
  });
});

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
    assert.deepEqual(v.clusters, [{ name: 'a', table: 100, podCidrs: ['10.244.0.0/16'] }]);
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
      v.clusters.map((c) => [c.name, c.table, c.podCidrs[0]]),
      [
        ['a', 100, '10.244.0.0/16'],
        ['b', 101, '10.244.0.0/16'],
      ],
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
    assert.equal(planVnetJoin(v, 'net', 'c', defaultLabProfile('c', 0)).clusters.at(-1)?.table, 100);
  });
});

describe('VNet firewall', () => {
  it("lets pod traffic in only from the cluster's own subnets and rejects everything else to pods", () => {
    const v = planVnetJoin(
      planVnetJoin(null, 'net', 'a', defaultLabProfile('a', 0)),
      'net',
      'b',
      defaultLabProfile('b', 1),
    );
    const text = renderVnetFirewall(v);
    assert.match(text, /iifname \{ "br0", "br1" \} ip daddr \{ 10\.244\.0\.0\/16 \} accept/);
    assert.match(text, /iifname \{ "br2", "br3" \} ip daddr \{ 10\.244\.0\.0\/16 \} accept/);
    assert.match(text, /ip daddr \{ 10\.244\.0\.0\/16 \} counter reject/);
  });

  it('merges overlapping pod CIDRs of clusters into one set element (nft refuses overlaps)', () => {
    const a = defaultLabProfile('a', 0);
    const b = defaultLabProfile('b', 1);
    b.network.podCidrs = ['10.244.0.0/15'];
    const text = renderVnetFirewall(planVnetJoin(planVnetJoin(null, 'net', 'a', a), 'net', 'b', b));
    assert.match(text, /ip daddr \{ 10\.244\.0\.0\/15 \} counter reject/);
  });
});

describe('node plan', () => {
  it('numbers nodes per pool from the fifth address of their subnet and keeps existing ones', () => {
    const p = defaultLabProfile('a');
    const v = planVnetJoin(null, 'net', 'a', p);
    const nodes = planPoolNodes(p, 'a', '/run/x/a', v, []);
    assert.deepEqual(
      nodes.map((n) => [n.name, n.ip, n.netns]),
      [
        ['sys-0', '10.224.0.4', 'pl-a-sys-0'],
        ['sys-1', '10.224.0.5', 'pl-a-sys-1'],
        ['user-0', '10.224.1.4', 'pl-a-user-0'],
      ],
    );
    const grown = { ...p, nodePools: p.nodePools.map((x) => (x.name === 'user' ? { ...x, count: 2 } : x)) };
    const again = planPoolNodes(grown, 'a', '/run/x/a', v, nodes);
    assert.equal(again[0], nodes[0], 'existing nodes are kept as they are');
    assert.deepEqual(again.at(-1)?.ip, '10.224.1.5');
  });
});

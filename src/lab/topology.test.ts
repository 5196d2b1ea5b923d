import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { checkPlan } from '../plan/check.js';
import { planVnetJoin } from '../vnet/plan.js';
import { defaultLabProfile, withNodeCount } from './default-profile.js';
import { checkLabName, nodeVnetLink } from './names.js';
import { planPoolNodes } from './topology.js';

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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlockLease } from '../store/types.js';
import { desiredPeerRoutes, diffRoutes, renderRouteBatch } from './routes.js';

function lease(nodeName: string, block: string, nodeIp: string): BlockLease {
  const t = '2026-01-01T00:00:00.000Z';
  return {
    block,
    family: 4,
    nodeName,
    nodeIp,
    pool: 'p1',
    maxPods: 250,
    claimedAt: t,
    renewedAt: t,
    expiresAt: null,
  };
}

const leases = [
  lease('n2', '10.244.1.0/24', '10.224.0.5'),
  lease('n1', '10.244.0.0/24', '10.224.0.4'),
  lease('n3', '10.244.2.0/24', '10.225.0.4'),
];

describe('desiredPeerRoutes', () => {
  it('gives a fabric router a route to every block, sorted', () => {
    assert.deepEqual(desiredPeerRoutes(leases), [
      { dst: '10.244.0.0/24', via: '10.224.0.4' },
      { dst: '10.244.1.0/24', via: '10.224.0.5' },
      { dst: '10.244.2.0/24', via: '10.225.0.4' },
    ]);
  });

  it('dual-stack: each block via the node address of its family, direct only over an attached subnet of that family', () => {
    const dual = [
      ...leases.slice(0, 2),
      { ...lease('n2', 'fd12:3456:789a::100/120', 'fd00:10::5'), family: 6 as const },
      { ...lease('n1', 'fd12:3456:789a::/120', 'fd00:10::4'), family: 6 as const },
    ];
    assert.deepEqual(
      desiredPeerRoutes(dual, { selfNode: 'n1', attachedSubnets: ['10.224.0.0/16', 'fd00:10::/64'] }),
      [
        { dst: '10.244.1.0/24', via: '10.224.0.5' },
        { dst: 'fd12:3456:789a::100/120', via: 'fd00:10::5' },
      ],
    );
    assert.deepEqual(desiredPeerRoutes(dual, { selfNode: 'n1', attachedSubnets: ['10.224.0.0/16'] }), [
      { dst: '10.244.1.0/24', via: '10.224.0.5' },
    ]);
    assert.deepEqual(
      renderRouteBatch({
        add: [{ dst: 'fd12:3456:789a::100/120', via: 'fd00:10::5' }],
        replace: [],
        remove: [],
      }),
      ['route add fd12:3456:789a::100/120 via fd00:10::5 proto 147'],
    );
  });

  it('in direct mode routes only to peers on an attached subnet and never to its own block', () => {
    assert.deepEqual(desiredPeerRoutes(leases, { selfNode: 'n1', attachedSubnets: ['10.224.0.0/16'] }), [
      { dst: '10.244.1.0/24', via: '10.224.0.5' },
    ]);
  });

  it('keeps one route per block when two leases name the same block', () => {
    const dup = [...leases, lease('n9', '10.244.1.0/24', '10.224.0.9')];
    assert.equal(desiredPeerRoutes(dup).filter((r) => r.dst === '10.244.1.0/24').length, 1);
  });
});

describe('diffRoutes', () => {
  it('adds missing, replaces changed next hops and removes stale routes', () => {
    const d = diffRoutes(
      [
        { dst: '10.244.0.0/24', via: '10.224.0.4' },
        { dst: '10.244.1.0/24', via: '10.224.0.6' },
      ],
      [
        { dst: '10.244.1.0/24', via: '10.224.0.5' },
        { dst: '10.244.7.0/24', via: '10.224.0.7' },
      ],
    );
    assert.deepEqual(d, {
      add: [{ dst: '10.244.0.0/24', via: '10.224.0.4' }],
      replace: [{ dst: '10.244.1.0/24', via: '10.224.0.6' }],
      remove: [{ dst: '10.244.7.0/24', via: '10.224.0.7' }],
    });
  });

  it('is empty when the kernel already matches', () => {
    const r = [{ dst: '10.244.0.0/24', via: '10.224.0.4' }];
    assert.deepEqual(diffRoutes(r, r), { add: [], replace: [], remove: [] });
  });

  it('renders one batch line per change, all tagged with podnet proto and the table', () => {
    const lines = renderRouteBatch(
      {
        add: [{ dst: '10.244.0.0/24', via: '10.224.0.4' }],
        replace: [],
        remove: [{ dst: '10.244.7.0/24', via: '10.224.0.7' }],
      },
      { table: 100 },
    );
    assert.deepEqual(lines, [
      'route del 10.244.7.0/24 via 10.224.0.7 table 100 proto 147',
      'route add 10.244.0.0/24 via 10.224.0.4 table 100 proto 147',
    ]);
  });
});

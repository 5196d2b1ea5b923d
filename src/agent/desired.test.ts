import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlockLease } from '../store/types.js';
import { type NodeSnapshot, desiredNodeRoutes, desiredNodeTable } from './desired.js';
import { testProfile } from './test-fixtures.js';

function lease(nodeName: string, block: string, nodeIp: string): BlockLease {
  const t = '2026-01-01T00:00:00.000Z';
  return {
    block,
    family: 4,
    nodeName,
    nodeIp,
    pool: 'system',
    maxPods: 30,
    claimedAt: t,
    renewedAt: t,
    expiresAt: null,
  };
}

const leases = [
  lease('n1', '10.244.0.0/24', '10.224.0.4'),
  lease('n2', '10.244.1.0/24', '10.224.0.5'),
  lease('n3', '10.244.2.0/24', '10.226.0.9'),
];

function snapshot(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    profile: testProfile(),
    leases,
    selfNode: 'n1',
    attachedSubnets: ['10.224.0.0/16'],
    peerRoutes: 'direct',
    storeEndpoints: [],
    ...over,
  };
}

describe('desired node state', () => {
  it('routes directly to peers on an attached subnet, never to itself or to peers elsewhere', () => {
    assert.deepEqual(desiredNodeRoutes(snapshot()), [{ dst: '10.244.1.0/24', via: '10.224.0.5' }]);
  });

  it('wants no peer routes in mode off (a fabric router carries pod traffic)', () => {
    const s = snapshot({ attachedSubnets: ['10.224.0.0/16', '10.226.0.0/16'], peerRoutes: 'off' });
    assert.deepEqual(desiredNodeRoutes(s), []);
  });

  it('takes SNAT exemptions from the profile per family: pod CIDRs and nonMasqueradeCidrs', () => {
    const profile = testProfile({ podCidrs: ['10.244.0.0/15'], nonMasqueradeCidrs: ['192.168.0.0/16'] });
    assert.deepEqual(desiredNodeTable(snapshot({ profile, leases: [] })), {
      antiSpoof: { families: [4] },
      guard: { storeEndpoints: [] },
      snat: {
        families: [{ family: 4, podCidrs: ['10.244.0.0/15'], nonMasqueradeCidrs: ['192.168.0.0/16'] }],
      },
      services: { selfNode: '', families: [{ family: 4, podCidrs: ['10.244.0.0/15'], entries: [] }] },
      policy: { families: [4], classes: [], egress: [], ingress: [], self: [] },
    });
  });

  it('keeps each service endpoint in the slot of the table last written, so a change is a few element edits', () => {
    const ep = (name: string, ip: string) => ({
      node: 'n2',
      nodeIp: '10.224.0.5',
      containerId: name,
      ifname: 'eth0',
      ips: [ip],
      namespace: 'shop',
      name,
      labels: { app: 'web' },
    });
    const services = (endpoints: ReturnType<typeof ep>[]) => ({
      services: [
        {
          apiVersion: 'v1' as const,
          kind: 'Service' as const,
          metadata: { name: 'web', namespace: 'shop' },
          spec: { selector: { app: 'web' }, clusterIPs: ['10.0.0.20'], ports: [{ port: 80 }] },
        },
      ],
      endpoints,
    });
    const slots = (t: ReturnType<typeof desiredNodeTable>) =>
      t.services.families[0].entries[0].backends.map((b) => b.ip);
    const all = [ep('a', '10.244.1.5'), ep('b', '10.244.1.6'), ep('c', '10.244.1.7')];
    const first = desiredNodeTable(snapshot({ services: services(all) }));
    assert.deepEqual(slots(first), ['10.244.1.5', '10.244.1.6', '10.244.1.7']);
    const without = services(all.filter((e) => e.name !== 'a'));
    assert.deepEqual(slots(desiredNodeTable(snapshot({ services: without }), first)), [
      '10.244.1.7',
      '10.244.1.6',
    ]);
    assert.deepEqual(slots(desiredNodeTable(snapshot({ services: without }))), ['10.244.1.6', '10.244.1.7']);
  });
});

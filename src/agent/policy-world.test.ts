import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodEndpoint } from '../endpoints/record.js';
import { policyWorld } from './policy-world.js';

const endpoint = (over: Partial<PodEndpoint>): PodEndpoint => ({
  node: 'n1',
  nodeIp: '10.224.0.4',
  containerId: 'c1',
  ifname: 'eth0',
  ips: ['10.244.0.5'],
  namespace: 'shop',
  name: 'web',
  labels: { app: 'stale' },
  ...over,
});

const podObject = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    containers: [
      {
        name: 'main',
        ports: [
          { name: 'http', containerPort: 8080 },
          { containerPort: 53, protocol: 'UDP' },
        ],
      },
    ],
  },
});

describe('the policy world from the store', () => {
  it("takes a running pod's addresses and node from its endpoint, labels and named ports from its Pod object", () => {
    const { world, corrupt } = policyWorld({
      policies: new Map(),
      namespaces: new Map([
        [
          'objects/namespaces/shop',
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: 'shop', labels: { team: 'a' } },
          }),
        ],
      ]),
      pods: new Map([['objects/pods/shop/web', podObject]]),
      endpoints: [
        endpoint({}),
        endpoint({ containerId: 'c2', name: 'db', labels: { app: 'db' }, ips: ['10.244.0.6'] }),
      ],
    });
    assert.deepEqual(corrupt, []);
    assert.deepEqual(world.pods, [
      { namespace: 'shop', name: 'db', labels: { app: 'db' }, ips: ['10.244.0.6'], node: 'n1', ports: [] },
      {
        namespace: 'shop',
        name: 'web',
        labels: { app: 'web' },
        ips: ['10.244.0.5'],
        node: 'n1',
        ports: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
        ],
      },
    ]);
    assert.deepEqual(world.namespaces.get('shop'), { team: 'a', 'kubernetes.io/metadata.name': 'shop' });
  });

  it('leaves out endpoints without a pod name and objects that do not decode, naming them', () => {
    const { world, corrupt } = policyWorld({
      policies: new Map([['objects/networkpolicies.networking.k8s.io/shop/x', '{not json']]),
      namespaces: new Map(),
      pods: new Map(),
      endpoints: [endpoint({ namespace: null, name: null }), endpoint({ namespace: 'other', name: 'p' })],
    });
    assert.deepEqual(corrupt, ['objects/networkpolicies.networking.k8s.io/shop/x']);
    assert.deepEqual(
      world.pods.map((p) => `${p.namespace}/${p.name}`),
      ['other/p'],
    );
    assert.deepEqual(world.namespaces.get('other'), { 'kubernetes.io/metadata.name': 'other' });
    assert.deepEqual(world.policies, []);
  });
});

/**
 * Endpoints derived as the EndpointSlice controller derives them (pkg/controller/endpointslice, the reconciler
 * in staging/src/k8s.io/endpointslice; podutil.FindPort for named targetPorts;
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/: labels kubernetes.io/service-name
 * and endpointslice.kubernetes.io/managed-by, at most 100 endpoints per slice by default, one slice per
 * address type, endpoints with different ports in different slices).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PodEndpoint, encodeEndpoint, endpointKey } from '../endpoints/record.js';
import { resolveResource } from '../objects/registry.js';
import { applyDocuments, getObjects } from '../objects/store.js';
import { MemoryVersionedStore } from '../store/versioned-memory.js';
import { endpointSlices, endpointsObject, serviceBackends } from './endpoints.js';
import type { EndpointSlice, Service } from './types.js';

const ep = (
  name: string,
  ip: string,
  labels: Record<string, string>,
  extra: Partial<PodEndpoint> = {},
): PodEndpoint => ({
  node: 'node-1',
  nodeIp: '10.224.0.4',
  containerId: `c-${name}`,
  ifname: 'eth0',
  ips: [ip],
  namespace: 'shop',
  name,
  labels,
  ...extra,
});

const service = (spec: Partial<Service['spec']>): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
  spec: { selector: { app: 'web' }, ipFamilies: ['IPv4'], ...spec },
});

describe('endpoints of a service', () => {
  it('selects pods of its namespace by every selector pair; numbered targetPorts as given', () => {
    const svc = service({ ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] });
    const eps = [
      ep('a', '10.244.0.5', { app: 'web' }),
      ep('b', '10.244.1.2', { app: 'web', tier: 'x' }, { node: 'node-2' }),
      ep('c', '10.244.0.6', { app: 'db' }),
      ep('d', '10.244.0.7', { app: 'web' }, { namespace: 'other' }),
    ];
    assert.deepEqual(serviceBackends(svc, eps), [
      [
        { ip: '10.244.0.5', port: 8080, node: 'node-1' },
        { ip: '10.244.1.2', port: 8080, node: 'node-2' },
      ],
    ]);
    const [slice] = endpointSlices(svc, eps);
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.metadata.labels, {
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    assert.deepEqual(slice.ports, [{ name: '', protocol: 'TCP', port: 8080 }]);
    assert.deepEqual(slice.endpoints[1], {
      addresses: ['10.244.1.2'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'node-2',
      targetRef: { kind: 'Pod', namespace: 'shop', name: 'b' },
    });
  });

  it('a named targetPort goes to each pod’s port of that name and protocol; pods without it get no port', () => {
    const svc = service({ ports: [{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }] });
    const eps = [
      ep('a', '10.244.0.5', { app: 'web' }, { ports: [{ name: 'web', port: 8080, protocol: 'TCP' }] }),
      ep('b', '10.244.0.6', { app: 'web' }, { ports: [{ name: 'web', port: 9090, protocol: 'TCP' }] }),
      ep('c', '10.244.0.7', { app: 'web' }, { ports: [{ name: 'web', port: 7070, protocol: 'UDP' }] }),
    ];
    assert.deepEqual(
      serviceBackends(svc, eps)[0].map((b) => `${b.ip}:${b.port}`),
      ['10.244.0.5:8080', '10.244.0.6:9090'],
    );
    const slices = endpointSlices(svc, eps);
    assert.equal(slices.length, 3, 'three port sets, three slices');
    const byAddr = Object.fromEntries(slices.map((s) => [s.endpoints[0].addresses[0], s.ports]));
    assert.deepEqual(byAddr['10.244.0.7'], [], 'the UDP port does not match a TCP service port');
    assert.deepEqual(byAddr['10.244.0.6'], [{ name: 'http', protocol: 'TCP', port: 9090 }]);
  });

  it('splits at 100 endpoints per slice; a service without endpoints keeps one empty slice; none without a selector', () => {
    const svc = service({ ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] });
    const eps = Array.from({ length: 250 }, (_, i) =>
      ep(`p${i}`, `10.244.${i >> 8}.${(i % 250) + 1}`, { app: 'web' }),
    );
    assert.deepEqual(
      endpointSlices(svc, eps).map((s) => s.endpoints.length),
      [100, 100, 50],
    );
    const empty = endpointSlices(svc, []);
    assert.deepEqual([empty.length, empty[0].endpoints], [1, []]);
    assert.deepEqual(endpointSlices(service({ selector: undefined, ports: [{ port: 80 }] }), eps), []);
  });

  it('v1 Endpoints: subsets by port set', () => {
    const svc = service({ ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
    const o = endpointsObject(svc, [ep('a', '10.244.0.5', { app: 'web' })]);
    assert.deepEqual(o.subsets, [
      {
        addresses: [
          { ip: '10.244.0.5', nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: 'shop', name: 'a' } },
        ],
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      },
    ]);
  });

  // The endpointslice controller's ShouldSetHostname: hostname only when the pod's subdomain is this service.
  it('an endpoint carries its pod hostname when the pod subdomain is the service name', () => {
    const svc = service({ clusterIP: 'None', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] });
    const pods = [
      ep('web-0', '10.244.0.5', { app: 'web' }, { hostname: 'web-0', subdomain: 'web' }),
      ep('other', '10.244.0.6', { app: 'web' }, { hostname: 'other', subdomain: 'elsewhere' }),
    ];
    const [slice] = endpointSlices(svc, pods);
    assert.deepEqual(
      slice.endpoints.map((e) => [e.addresses[0], e.hostname]),
      [
        ['10.244.0.5', 'web-0'],
        ['10.244.0.6', undefined],
      ],
    );
    assert.deepEqual(
      endpointsObject(svc, pods).subsets[0].addresses.map((a) => (a as { hostname?: string }).hostname),
      ['web-0', undefined],
    );
  });

  it('podnet get endpointslices derives them from the store; an apply of one is refused', async () => {
    const store = new MemoryVersionedStore();
    await applyDocuments(store, {
      problems: [],
      documents: [
        {
          source: { file: 'a.yaml', index: 0 },
          value: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
        },
        {
          source: { file: 'a.yaml', index: 1 },
          value: {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'web', namespace: 'shop' },
            spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
          },
        },
      ],
    });
    const e = ep('a', '10.244.0.5', { app: 'web' });
    await store.txn([], [{ type: 'put', key: endpointKey(e), value: encodeEndpoint(e) }]);
    const kind = resolveResource('endpointslices');
    const { items } = await getObjects(store, kind, { namespace: 'shop', selector: [] });
    assert.deepEqual(
      (items as EndpointSlice[]).map((s) => s.endpoints.map((x) => x.addresses[0])),
      [['10.244.0.5']],
    );
    const eps = await getObjects(store, resolveResource('ep'), {
      name: 'web',
      namespace: 'shop',
      selector: [],
    });
    assert.equal(eps.items.length, 1);
    await assert.rejects(
      applyDocuments(store, {
        problems: [],
        documents: [
          {
            source: { file: 'b.yaml', index: 0 },
            value: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'x' } },
          },
        ],
      }),
      /podnet derives endpoints from Services/,
    );
  });
});

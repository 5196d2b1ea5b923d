import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import type { PodAddress } from '../ipam/types.js';
import {
  type PodEndpoint,
  type PublishedKey,
  batches,
  decodeEndpoint,
  desiredEndpoints,
  encodeEndpoint,
  endpointChanges,
  endpointKey,
  podObjectFacts,
  podObjectKey,
  podOf,
} from './record.js';
import { applyEndpointUpdate, emptyEndpointView } from './view.js';

const ep: PodEndpoint = {
  node: 'sys-0',
  nodeIp: '10.224.0.4',
  containerId: 'c0ffee',
  ifname: 'eth0',
  ips: ['10.244.3.7'],
  namespace: 'shop',
  name: 'web-1',
  labels: { tier: 'front', app: 'web' },
};

const addr = (containerId: string, ip: string, pod?: { ns?: string; name?: string }): PodAddress => ({
  ip,
  block: '10.244.3.0/24',
  containerId,
  ifname: 'eth0',
  ...(pod?.name ? { podName: pod.name } : {}),
  ...(pod?.ns ? { podNamespace: pod.ns } : {}),
  family: 4,
  allocatedAt: '2026-01-01T00:00:00.000Z',
});

function corrupt(key: string, value: string, code = 'StoreCorrupt'): PodnetError {
  try {
    decodeEndpoint({ key, value });
  } catch (e) {
    assert.ok(e instanceof PodnetError);
    assert.equal(e.code, code, e.message);
    assert.equal(e.field, key, 'the error names the key');
    return e;
  }
  assert.fail(`${value} decoded`);
}

describe('endpoint records', () => {
  it('round-trip through the store layout: node and attachment in the key, the rest in the value', () => {
    const key = endpointKey(ep);
    assert.equal(key, 'endpoints/sys-0/c0ffee/eth0');
    const value = encodeEndpoint(ep);
    assert.deepEqual(JSON.parse(value), {
      v: 1,
      namespace: 'shop',
      name: 'web-1',
      ips: ['10.244.3.7'],
      nodeIp: '10.224.0.4',
      labels: { app: 'web', tier: 'front' },
    });
    assert.deepEqual(decodeEndpoint({ key, value }), ep);
    // Labels in another order encode the same: no rewrite when only the order differs.
    assert.equal(encodeEndpoint({ ...ep, labels: { app: 'web', tier: 'front' } }), value);
  });

  it('refuses foreign data with StoreCorrupt, naming the key and what is wrong', () => {
    const good = JSON.parse(encodeEndpoint(ep));
    const key = endpointKey(ep);
    const cases: [string, string, RegExp][] = [
      [key, 'not json', /not valid JSON/],
      [key, '[1]', /JSON object/],
      [key, JSON.stringify({ ...good, v: 0 }), /"v" must be 1/],
      [key, JSON.stringify({ ...good, ips: [] }), /"ips"/],
      [key, JSON.stringify({ ...good, ips: ['10.244.003.7'] }), /canonical/],
      [key, JSON.stringify({ ...good, nodeIp: 'node' }), /"nodeIp"/],
      [key, JSON.stringify({ ...good, labels: { a: 1 } }), /"labels"/],
      [key, JSON.stringify({ ...good, name: '' }), /"name"/],
      ['endpoints/sys-0/c0ffee', JSON.stringify(good), /not an endpoint key/],
      ['endpoints/sys-0/c0ffee/eth0/x', JSON.stringify(good), /not an endpoint key/],
      ['blocks/10.244.3.0-24', JSON.stringify(good), /not an endpoint key/],
    ];
    for (const [k, v, why] of cases) assert.match(corrupt(k, v).message, why, v);
  });

  it('refuses a record a newer podnet wrote with StoreSchemaMismatch, not a misreading', () => {
    const e = corrupt(
      endpointKey(ep),
      JSON.stringify({ ...JSON.parse(encodeEndpoint(ep)), v: 2 }),
      'StoreSchemaMismatch',
    );
    assert.match(e.hint ?? '', /upgrade/);
  });

  it('names the pod as the runtime did; podman gives only a name, which lives in default', () => {
    assert.deepEqual(podOf({ podName: 'web', podNamespace: 'shop' }), { namespace: 'shop', name: 'web' });
    assert.deepEqual(podOf({ podName: 'podman-ctr' }), { namespace: 'default', name: 'podman-ctr' });
    assert.equal(podOf({}), null);
    assert.equal(podObjectKey({ namespace: 'shop', name: 'web' }), 'objects/pods/shop/web');
  });

  it('reads the labels of a Pod object and refuses what is not one', () => {
    const key = 'objects/pods/shop/web';
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } } };
    assert.deepEqual(podObjectFacts({ key, value: JSON.stringify(pod) }).labels, { app: 'web' });
    assert.deepEqual(
      podObjectFacts({ key, value: JSON.stringify({ ...pod, metadata: { name: 'w' } }) }).labels,
      {},
    );
    assert.throws(
      () => podObjectFacts({ key, value: '{"kind":"Service","metadata":{}}' }).labels,
      /StoreCorrupt|not a Pod/,
    );
    assert.throws(
      () =>
        podObjectFacts({ key, value: JSON.stringify({ ...pod, metadata: { labels: { a: [] } } }) }).labels,
      /metadata\.labels/,
    );
  });
});

describe('which endpoints a node publishes', () => {
  const labels: Record<string, Record<string, string>> = { 'shop/web-1': { app: 'web' } };
  const input = (addresses: PodAddress[]) => ({
    node: 'sys-0',
    nodeIp: '10.224.0.4',
    addresses,
    labelsOf: (p: { namespace: string; name: string }) => labels[`${p.namespace}/${p.name}`],
  });

  it('one endpoint per attachment, with the labels of its Pod object when one exists', () => {
    const d = desiredEndpoints(
      input([
        addr('a', '10.244.3.1', { ns: 'shop', name: 'web-1' }),
        addr('b', '10.244.3.2', { name: 'ctr' }),
        addr('c', '10.244.3.3'),
      ]),
    );
    assert.deepEqual(
      d.map((e) => [endpointKey(e), e.namespace, e.name, e.ips, e.labels]),
      [
        ['endpoints/sys-0/a/eth0', 'shop', 'web-1', ['10.244.3.1'], { app: 'web' }],
        ['endpoints/sys-0/b/eth0', 'default', 'ctr', ['10.244.3.2'], {}],
        ['endpoints/sys-0/c/eth0', null, null, ['10.244.3.3'], {}],
      ],
    );
  });

  it('a dual-stack attachment is one endpoint with both addresses, IPv4 first', () => {
    const v6 = { ...addr('a', 'fd12:3456:789a::301', { ns: 'shop', name: 'web-1' }), family: 6 as const };
    const d = desiredEndpoints(input([v6, addr('a', '10.244.3.1', { ns: 'shop', name: 'web-1' })]));
    assert.deepEqual(
      d.map((e) => [endpointKey(e), e.ips]),
      [['endpoints/sys-0/a/eth0', ['10.244.3.1', 'fd12:3456:789a::301']]],
    );
  });

  it('a pod start is one put; nothing changed is no write; a gone pod is one delete', () => {
    const lease = '7';
    const pods = [addr('a', '10.244.3.1', { ns: 'shop', name: 'web-1' })];
    const published = new Map<string, PublishedKey>();
    const ops = endpointChanges(desiredEndpoints(input(pods)), published, lease);
    assert.equal(ops.length, 1);
    assert.deepEqual(
      { ...ops[0], value: undefined },
      {
        type: 'put',
        key: 'endpoints/sys-0/a/eth0',
        value: undefined,
        lease,
      },
    );
    for (const op of ops) if (op.type === 'put') published.set(op.key, { value: op.value, lease });
    assert.deepEqual(endpointChanges(desiredEndpoints(input(pods)), published, lease), []);
    assert.deepEqual(endpointChanges(desiredEndpoints(input([])), published, lease), [
      { type: 'delete', key: 'endpoints/sys-0/a/eth0' },
    ]);
  });

  it('puts again what lives on another lease (an old one would delete it) or carries stale labels', () => {
    const pods = [addr('a', '10.244.3.1', { ns: 'shop', name: 'web-1' })];
    const [e] = desiredEndpoints(input(pods));
    const onOld = new Map([[endpointKey(e), { value: encodeEndpoint(e), lease: '3' }]]);
    assert.equal(endpointChanges([e], onOld, '7').length, 1);
    const stale = new Map([[endpointKey(e), { value: encodeEndpoint({ ...e, labels: {} }), lease: '7' }]]);
    assert.equal(endpointChanges([e], stale, '7').length, 1);
  });

  it('splits work into transactions no larger than etcd accepts', () => {
    assert.deepEqual(
      batches([1, 2, 3, 4, 5], 2).map((b) => b.length),
      [2, 2, 1],
    );
    assert.deepEqual(batches([], 64), []);
  });
});

describe('a watcher view of the endpoints', () => {
  it('takes a snapshot, then events; a corrupt record is set aside, not fatal', () => {
    const view = emptyEndpointView();
    const key = endpointKey(ep);
    const kv = (k: string, value: string, rev: number) => ({
      key: k,
      value,
      createRevision: rev,
      modRevision: rev,
      lease: '1',
    });
    applyEndpointUpdate(view, {
      type: 'snapshot',
      revision: 5,
      items: [kv(key, encodeEndpoint(ep), 4), kv('endpoints/x/y/eth0', 'junk', 5)],
    });
    assert.deepEqual([...view.endpoints.keys()], [key]);
    assert.deepEqual([...view.corrupt.keys()], ['endpoints/x/y/eth0']);
    const relabelled = { ...ep, labels: { app: 'shop' } };
    const changed = applyEndpointUpdate(view, {
      type: 'events',
      revision: 6,
      events: [
        { type: 'put', kv: kv(key, encodeEndpoint(relabelled), 6) },
        { type: 'delete', key: 'endpoints/x/y/eth0', modRevision: 6 },
      ],
    });
    assert.deepEqual(changed, [key, 'endpoints/x/y/eth0']);
    assert.deepEqual(view.endpoints.get(key)?.labels, { app: 'shop' });
    assert.equal(view.corrupt.size, 0);
    assert.equal(view.revision, 6);
    // A resync snapshot drops what is gone.
    const gone = applyEndpointUpdate(view, { type: 'snapshot', revision: 9, items: [] });
    assert.deepEqual(gone, [key]);
    assert.equal(view.endpoints.size, 0);
  });

  it('named container ports: carried for Services (targetPort by name), left out when there are none', () => {
    const key = 'objects/pods/shop/web-1';
    const pod = {
      kind: 'Pod',
      metadata: { name: 'web-1' },
      spec: {
        containers: [
          { name: 'a', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }] },
          { name: 'b', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] },
        ],
      },
    };
    const ports = podObjectFacts({ key, value: JSON.stringify(pod) }).ports;
    assert.deepEqual(ports, [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ]);
    const withPorts = { ...ep, ports };
    const k = endpointKey(ep);
    assert.deepEqual(decodeEndpoint({ key: k, value: encodeEndpoint(withPorts) }).ports, [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
    assert.ok(!encodeEndpoint(ep).includes('ports'), 'a record without named ports is written as before');
    const bad = JSON.stringify({
      ...JSON.parse(encodeEndpoint(ep)),
      ports: [{ name: 'x', port: 0, protocol: 'TCP' }],
    });
    assert.throws(
      () => decodeEndpoint({ key: k, value: bad }),
      (e: unknown) => e instanceof PodnetError && e.code === 'StoreCorrupt',
    );
  });

  // A StatefulSet's pods: spec.hostname and spec.subdomain name them in DNS under the headless Service of that
  // name (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-hostname-and-subdomain-fields).
  it('spec.hostname and spec.subdomain: read from the Pod object, carried in the record, refused when not labels', () => {
    const key = 'objects/pods/shop/db-0';
    const pod = {
      kind: 'Pod',
      metadata: { name: 'db-0' },
      spec: { hostname: 'db-0', subdomain: 'db', containers: [] },
    };
    assert.deepEqual(podObjectFacts({ key, value: JSON.stringify(pod) }).host, {
      hostname: 'db-0',
      subdomain: 'db',
    });
    assert.deepEqual(
      podObjectFacts({ key, value: JSON.stringify({ ...pod, spec: { containers: [] } }) }).host,
      {},
    );
    const [e] = desiredEndpoints({
      node: 'sys-0',
      nodeIp: '10.224.0.4',
      addresses: [addr('a', '10.244.3.1', { ns: 'shop', name: 'db-0' })],
      labelsOf: () => ({}),
      hostOf: () => ({ hostname: 'db-0', subdomain: 'db' }),
    });
    assert.deepEqual([e.hostname, e.subdomain], ['db-0', 'db']);
    const k = endpointKey(e);
    const back = decodeEndpoint({ key: k, value: encodeEndpoint(e) });
    assert.deepEqual([back.hostname, back.subdomain], ['db-0', 'db']);
    assert.ok(!encodeEndpoint(ep).includes('hostname'), 'a record without them is written as before');
    const bad = JSON.stringify({ ...JSON.parse(encodeEndpoint(e)), hostname: 'Not_A.Label' });
    assert.throws(
      () => decodeEndpoint({ key: k, value: bad }),
      (x: unknown) => x instanceof PodnetError && x.code === 'StoreCorrupt' && /hostname/.test(x.message),
    );
  });
});

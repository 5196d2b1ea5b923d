import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { decodeEndpoint, nodeEndpointsPrefix } from '../endpoints/record.js';
import { FlakyStore } from '../endpoints/testing/flaky-store.js';
import type { PodAddress } from '../ipam/types.js';
import type { VersionedStore } from '../store/versioned.js';
import { EndpointPublisher } from './endpoints.js';
import { agentLogger } from './log.js';

const log = agentLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const pod = (containerId: string, ip: string, name: string, ns = 'shop'): PodAddress => ({
  ip,
  block: '10.244.3.0/24',
  containerId,
  ifname: 'eth0',
  podName: name,
  podNamespace: ns,
  family: 4,
  allocatedAt: '2026-01-01T00:00:00.000Z',
});

const podObject = (name: string, labels: Record<string, string>, ns = 'shop') =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: {} });

async function published(store: VersionedStore, node = 'sys-0') {
  const { items } = await store.list(nodeEndpointsPrefix(node));
  return items.map((kv) => ({ ...decodeEndpoint(kv), lease: kv.lease }));
}

describe('the endpoint publisher', () => {
  const open: EndpointPublisher[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) await p.stop();
  });
  function publisher(store: VersionedStore, pods: PodAddress[], leaseTtlSeconds = 30) {
    const p = new EndpointPublisher({
      store,
      node: 'sys-0',
      nodeIp: '10.224.0.4',
      addresses: () => pods,
      log,
      leaseTtlSeconds,
    });
    open.push(p);
    return p;
  }

  it('publishes each pod with its Pod object labels: one store write per pod start', async () => {
    const store = new FlakyStore();
    await store.txn(
      [],
      [{ type: 'put', key: 'objects/pods/shop/web-1', value: podObject('web-1', { app: 'web' }) }],
    );
    const pods: PodAddress[] = [];
    const p = publisher(store, pods);
    p.start();
    await p.settled();
    const base = store.writes;
    pods.push(pod('a', '10.244.3.1', 'web-1'));
    p.podsChanged();
    await p.settled();
    assert.equal(store.writes - base, 1, 'one transaction for the pod start');
    const [e] = await published(store);
    assert.deepEqual(
      { ns: e.namespace, name: e.name, ips: e.ips, node: e.node, nodeIp: e.nodeIp, labels: e.labels },
      {
        ns: 'shop',
        name: 'web-1',
        ips: ['10.244.3.1'],
        node: 'sys-0',
        nodeIp: '10.224.0.4',
        labels: { app: 'web' },
      },
    );
    assert.equal(e.containerId, 'a');
    assert.ok(e.lease, 'on a store lease');
    // A pod without a Pod object is published without labels; a pass with nothing new writes nothing.
    pods.push(pod('b', '10.244.3.2', 'db-0'));
    p.podsChanged();
    await p.settled();
    assert.deepEqual(
      (await published(store)).map((x) => [x.name, x.labels]),
      [
        ['web-1', { app: 'web' }],
        ['db-0', {}],
      ],
    );
    const before = store.writes;
    p.podsChanged();
    await p.settled();
    assert.equal(store.writes, before, 'nothing changed, nothing written');
  });

  it('keeps labels current when the Pod object changes, and withdraws an endpoint when its pod goes', async () => {
    const store = new FlakyStore();
    const pods = [pod('a', '10.244.3.1', 'web'), pod('b', '10.244.3.2', 'web-2')];
    const p = publisher(store, pods);
    p.start();
    await p.settled();
    await store.txn([], [{ type: 'put', key: 'objects/pods/shop/web', value: podObject('web', { v: '2' }) }]);
    await eventually('the new labels', async () =>
      (await published(store)).find((e) => e.name === 'web')?.labels.v === '2' ? true : undefined,
    );
    assert.deepEqual((await published(store)).find((e) => e.name === 'web-2')?.labels, {}, 'web-2 untouched');
    await store.txn([], [{ type: 'delete', key: 'objects/pods/shop/web' }]);
    await eventually('the labels dropped with the object', async () =>
      Object.keys((await published(store)).find((e) => e.name === 'web')?.labels ?? { x: 1 }).length === 0
        ? true
        : undefined,
    );
    pods.splice(0, 1);
    p.podsChanged();
    await p.settled();
    assert.deepEqual(
      (await published(store)).map((e) => e.name),
      ['web-2'],
    );
  });

  it('never blocks the caller on an unreachable store, and publishes once it is back', async () => {
    const store = new FlakyStore();
    const pods: PodAddress[] = [];
    const p = publisher(store, pods);
    p.start();
    await p.settled();
    store.down = true;
    pods.push(pod('a', '10.244.3.1', 'web'));
    const t0 = performance.now();
    p.podsChanged();
    assert.ok(performance.now() - t0 < 5, 'podsChanged returns at once');
    await p.settled();
    assert.equal(p.status().lastError?.code, 'StoreUnreachable');
    store.down = false;
    await eventually('the endpoint after the outage', async () =>
      (await published(store)).length === 1 ? true : undefined,
    );
    assert.equal(p.status().lastError, null);
  });

  it('publishes everything again on a new lease when its lease was lost', async () => {
    const store = new FlakyStore();
    const p = publisher(store, [pod('a', '10.244.3.1', 'web')], 1);
    p.start();
    await p.settled();
    const [first] = await published(store);
    await store.revokeLease(first.lease as string);
    assert.deepEqual(await published(store), [], 'the lease took the keys');
    const [again] = await eventually('the endpoint on a new lease', async () => {
      const now = await published(store);
      return now.length === 1 ? now : undefined;
    });
    assert.notEqual(again.lease, first.lease);
  });

  it('a restarted agent adopts its live lease without rewriting; a dead node loses its endpoints', async () => {
    const store = new FlakyStore();
    const pods = [pod('a', '10.244.3.1', 'web')];
    const p1 = publisher(store, pods, 1);
    p1.start();
    await p1.settled();
    await p1.stop();
    const [before] = await published(store);
    const writes = store.writes;
    const p2 = publisher(store, pods, 1);
    p2.start();
    await p2.settled();
    assert.equal(store.writes, writes, 'no write on restart');
    assert.equal((await published(store))[0].lease, before.lease, 'the same lease');
    await p2.stop();
    await eventually('the dead node to lose its endpoints', async () =>
      (await published(store)).length === 0 ? true : undefined,
    );
  });
});

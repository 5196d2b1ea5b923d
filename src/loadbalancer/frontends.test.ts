/**
 * LoadBalancer frontends: one address per LoadBalancer Service, published in `status.loadBalancer.ingress`
 * (https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer: "Information about the
 * provisioned balancer is published in the Service's .status.loadBalancer field"), `spec.loadBalancerIP`
 * honoured when free ("the load-balancer is created with the user-specified loadBalancerIP"), a Service of
 * another `loadBalancerClass` left to its implementation ("the cloud provider's load balancer implementation
 * ... ignores Services that have this field set"), allocated atomically in the apply's transaction.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlaps, parseCidr } from '../addr/index.js';
import { testProfile } from '../agent/test-fixtures.js';
import { PodnetError } from '../errors/index.js';
import type { Document } from '../objects/decode.js';
import { serviceKind } from '../objects/kinds/service.js';
import { applyDocuments } from '../objects/store.js';
import { fromStored } from '../objects/types.js';
import { OUTBOUND_PUBLIC_CIDR } from '../outbound/plan.js';
import type { Service } from '../services/types.js';
import { KvClusterStore } from '../store/cluster-store.js';
import { MemoryVersionedStore } from '../store/versioned-memory.js';
import { FRONTENDS_CIDR, FRONTEND_RANGE_KEY, allocateFrontend, planFrontendRange } from './frontends.js';

const docs = (...values: unknown[]): { documents: Document[]; problems: [] } => ({
  documents: values.map((value, index) => ({ source: { file: 'lb.yaml', index }, value })),
  problems: [],
});

const lb = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], ...extra },
});

async function labStore(cidr: string | null = '198.51.100.32/27') {
  const kv = new MemoryVersionedStore();
  await new KvClusterStore(kv).putCluster(testProfile({}), 0);
  if (cidr) await kv.txn([], [{ type: 'put', key: FRONTEND_RANGE_KEY, value: JSON.stringify({ cidr }) }]);
  return kv;
}

async function stored(kv: MemoryVersionedStore, name: string): Promise<Service> {
  const got = await kv.get(`objects/services/default/${name}`);
  assert.ok(got, `service ${name} stored`);
  return fromStored(got) as Service;
}

const externalIp = (s: Service) =>
  serviceKind.columns.find((c) => c.header === 'EXTERNAL-IP')?.value(s as never, new Date());

describe('frontend ranges', () => {
  it('gives each cluster of a VNet its own /27 of the lower half of TEST-NET-2, and refuses when none is left', () => {
    assert.equal(planFrontendRange([]), '198.51.100.0/27');
    assert.equal(planFrontendRange(['198.51.100.0/27']), '198.51.100.32/27');
    assert.equal(planFrontendRange(['198.51.100.32/27']), '198.51.100.0/27');
    const all = ['0', '32', '64', '96'].map((o) => `198.51.100.${o}/27`);
    assert.throws(
      () => planFrontendRange(all),
      (e: unknown) => e instanceof PodnetError && e.code === 'LabFrontendsExhausted',
    );
    assert.ok(
      !overlaps(parseCidr(FRONTENDS_CIDR), parseCidr(OUTBOUND_PUBLIC_CIDR)),
      "Service frontends never take the outbound types' public addresses",
    );
  });

  it('gives every usable address of the range, then stays <pending> when it is full', () => {
    const taken = new Map<string, string>();
    for (let i = 1; i <= 29; i++) taken.set(`198.51.100.${32 + i}`, `default/s${i}`);
    const last = allocateFrontend(lb('x') as Service, null, { cidr: '198.51.100.32/27' }, taken);
    assert.deepEqual(last.service.status?.loadBalancer?.ingress, [{ ip: '198.51.100.62', ipMode: 'VIP' }]);
    const full = allocateFrontend(lb('y') as Service, null, { cidr: '198.51.100.32/27' }, taken);
    assert.deepEqual(full.service.status?.loadBalancer, {}, 'not the broadcast address');
  });
});

describe('LoadBalancer frontends through apply', () => {
  it('publishes a frontend in status.loadBalancer.ingress, shown as EXTERNAL-IP', async () => {
    const kv = await labStore();
    await applyDocuments(kv, docs(lb('web'), lb('shop')));
    const web = await stored(kv, 'web');
    const shop = await stored(kv, 'shop');
    assert.deepEqual(web.status?.loadBalancer?.ingress, [{ ip: '198.51.100.33', ipMode: 'VIP' }]);
    assert.deepEqual(shop.status?.loadBalancer?.ingress, [{ ip: '198.51.100.34', ipMode: 'VIP' }]);
    assert.equal(externalIp(web), '198.51.100.33');
    const [again] = await applyDocuments(kv, docs(lb('web')));
    assert.equal(again.action, 'unchanged', 'the same manifest keeps its frontend');
  });

  it('stays <pending> without a load balancer (no range in the store), as without a cloud provider', async () => {
    const kv = await labStore(null);
    await applyDocuments(kv, docs(lb('web')));
    const web = await stored(kv, 'web');
    assert.deepEqual(web.status?.loadBalancer, {});
    assert.equal(externalIp(web), '<pending>');
  });

  it('honours spec.loadBalancerIP when it is in the range and free; else accepted and <pending>', async () => {
    const kv = await labStore();
    await applyDocuments(kv, docs(lb('web', { loadBalancerIP: '198.51.100.50' })));
    assert.equal(externalIp(await stored(kv, 'web')), '198.51.100.50');
    await applyDocuments(
      kv,
      docs(
        lb('taken', { loadBalancerIP: '198.51.100.50' }),
        lb('outside', { loadBalancerIP: '203.0.113.7' }),
      ),
    );
    assert.equal(externalIp(await stored(kv, 'taken')), '<pending>');
    assert.equal(externalIp(await stored(kv, 'outside')), '<pending>');
  });

  it('leaves a Service of another loadBalancerClass to its implementation', async () => {
    const kv = await labStore();
    await applyDocuments(kv, docs(lb('web', { loadBalancerClass: 'example.com/other' })));
    assert.equal(externalIp(await stored(kv, 'web')), '<pending>');
  });

  it('frees the frontend when the Service goes or stops being a LoadBalancer', async () => {
    const kv = await labStore();
    await applyDocuments(kv, docs(lb('web'), lb('shop')));
    await applyDocuments(
      kv,
      docs({ ...lb('web'), spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } }),
    );
    const web = await stored(kv, 'web');
    assert.equal(web.spec.type, 'ClusterIP');
    assert.deepEqual(web.status?.loadBalancer, {}, 'no ingress once it is a ClusterIP');
    await applyDocuments(kv, docs(lb('api')));
    assert.equal(externalIp(await stored(kv, 'api')), '198.51.100.33', "web's frontend is free again");
    await kv.txn([], [{ type: 'delete', key: 'objects/services/default/shop' }]);
    await applyDocuments(kv, docs(lb('db')));
    assert.equal(
      externalIp(await stored(kv, 'db')),
      '198.51.100.34',
      "the deleted shop's frontend is free again",
    );
  });

  it('two applies racing for one frontend: the second commit fails on the frontend lock', async () => {
    const kv = await labStore();
    const a = applyDocuments(kv, docs(lb('a', { loadBalancerIP: '198.51.100.40' })));
    const b = applyDocuments(kv, docs(lb('b', { loadBalancerIP: '198.51.100.40' })));
    const results = await Promise.allSettled([a, b]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one wins');
    const holders = [];
    for (const n of ['a', 'b']) {
      const got = await kv.get(`objects/services/default/${n}`);
      if (got && externalIp(fromStored(got) as Service) === '198.51.100.40') holders.push(n);
    }
    assert.equal(holders.length, 1, 'one Service holds the frontend');
  });
});

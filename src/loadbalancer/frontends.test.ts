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
import { testProfile } from '../agent/test-fixtures.js';
import { PodnetError } from '../errors/index.js';
import type { Document } from '../objects/decode.js';
import { serviceKind } from '../objects/kinds/service.js';
import { applyDocuments } from '../objects/store.js';
import { fromStored } from '../objects/types.js';
import type { Service } from '../services/types.js';
import { KvClusterStore } from '../store/cluster-store.js';
import { MemoryVersionedStore } from '../store/versioned-memory.js';
import {
  FRONTEND_RANGE_KEY,
  allocateFrontend,
  frontendRange6,
  outboundFrontend,
  planFrontendRange,
} from './frontends.js';

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

async function labStore(cidr: string | null = '198.51.100.64/26') {
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
  it('gives each cluster of a VNet its own /26 of TEST-NET-2, and refuses when none is left', () => {
    assert.equal(planFrontendRange([]), '198.51.100.0/26');
    assert.equal(planFrontendRange(['198.51.100.0/26']), '198.51.100.64/26');
    assert.equal(planFrontendRange(['198.51.100.64/26']), '198.51.100.0/26');
    const all = ['0', '64', '128', '192'].map((o) => `198.51.100.${o}/26`);
    assert.throws(
      () => planFrontendRange(all),
      (e: unknown) => e instanceof PodnetError && e.code === 'LabFrontendsExhausted',
    );
  });

  it("keeps the range's last usable address for the outbound frontend", () => {
    assert.equal(outboundFrontend('198.51.100.64/26'), '198.51.100.126');
    const taken = new Map<string, string>();
    for (let i = 1; i <= 61; i++) taken.set(`198.51.100.${64 + i}`, `default/s${i}`);
    const full = allocateFrontend(lb('x') as Service, null, { cidr: '198.51.100.64/26' }, taken);
    assert.deepEqual(
      full.service.status?.loadBalancer,
      {},
      'the outbound frontend is never a Service frontend',
    );
    const asked = allocateFrontend(
      lb('y', { loadBalancerIP: '198.51.100.126' }) as Service,
      null,
      { cidr: '198.51.100.64/26' },
      new Map(),
    );
    assert.deepEqual(asked.service.status?.loadBalancer, {});
  });
});

// A dual-stack Service (spec.ipFamilies both) gets a frontend of each family, in ipFamilies order, as
// cloud-provider-azure gives a dual-stack LoadBalancer an IPv4 and an IPv6 frontend IP.
describe('dual-stack frontends', () => {
  const range = { cidr: '198.51.100.64/26', cidr6: '2001:db8:198:51::100/120' };
  it('pairs the IPv6 range with the IPv4 block: the same index, a /120 of 2001:db8:198:51::/64', () => {
    assert.equal(frontendRange6('198.51.100.0/26'), '2001:db8:198:51::/120');
    assert.equal(frontendRange6('198.51.100.64/26'), '2001:db8:198:51::100/120');
  });

  it('allocates one frontend per family of spec.ipFamilies, in that order; an IPv4-only Service gets IPv4', () => {
    const taken = new Map<string, string>();
    const both = allocateFrontend(lb('a', { ipFamilies: ['IPv6', 'IPv4'] }) as Service, null, range, taken);
    assert.deepEqual(both.service.status?.loadBalancer?.ingress, [
      { ip: '2001:db8:198:51::101', ipMode: 'VIP' },
      { ip: '198.51.100.65', ipMode: 'VIP' },
    ]);
    assert.deepEqual(both.locks.length, 2);
    const v4 = allocateFrontend(lb('b') as Service, null, range, taken);
    assert.deepEqual(v4.service.status?.loadBalancer?.ingress, [{ ip: '198.51.100.66', ipMode: 'VIP' }]);
    // Kept on update: the held frontends of both families.
    const again = allocateFrontend(
      lb('a', { ipFamilies: ['IPv6', 'IPv4'] }) as Service,
      both.service,
      range,
      taken,
    );
    assert.deepEqual(again.service.status?.loadBalancer, both.service.status?.loadBalancer);
    assert.deepEqual(again.locks, []);
    // A cluster without IPv6 frontends: the IPv6 family of a Service is left without one.
    const v4only = allocateFrontend(
      lb('c', { ipFamilies: ['IPv4', 'IPv6'] }) as Service,
      null,
      { cidr: range.cidr },
      taken,
    );
    assert.deepEqual(
      v4only.service.status?.loadBalancer?.ingress?.map((i) => i.ip),
      ['198.51.100.67'],
    );
  });

  it('spec.loadBalancerIP names the frontend of its own family; one no family can have leaves it <pending>', () => {
    const dual = { ipFamilies: ['IPv4', 'IPv6'], loadBalancerIP: '2001:db8:198:51::150' };
    const got = allocateFrontend(lb('d', dual) as Service, null, range, new Map());
    assert.deepEqual(
      got.service.status?.loadBalancer?.ingress?.map((i) => i.ip),
      ['198.51.100.65', '2001:db8:198:51::150'],
    );
    const noV6 = allocateFrontend(lb('e', dual) as Service, null, { cidr: range.cidr }, new Map());
    assert.deepEqual(noV6.service.status?.loadBalancer, {}, 'no IPv6 range here: as asked, it cannot be had');
  });
});

describe('LoadBalancer frontends through apply', () => {
  it('publishes a frontend in status.loadBalancer.ingress, shown as EXTERNAL-IP', async () => {
    const kv = await labStore();
    await applyDocuments(kv, docs(lb('web'), lb('shop')));
    const web = await stored(kv, 'web');
    const shop = await stored(kv, 'shop');
    assert.deepEqual(web.status?.loadBalancer?.ingress, [{ ip: '198.51.100.65', ipMode: 'VIP' }]);
    assert.deepEqual(shop.status?.loadBalancer?.ingress, [{ ip: '198.51.100.66', ipMode: 'VIP' }]);
    assert.equal(externalIp(web), '198.51.100.65');
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
    await applyDocuments(kv, docs(lb('web', { loadBalancerIP: '198.51.100.100' })));
    assert.equal(externalIp(await stored(kv, 'web')), '198.51.100.100');
    await applyDocuments(
      kv,
      docs(
        lb('taken', { loadBalancerIP: '198.51.100.100' }),
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
    assert.equal(externalIp(await stored(kv, 'api')), '198.51.100.65', "web's frontend is free again");
    await kv.txn([], [{ type: 'delete', key: 'objects/services/default/shop' }]);
    await applyDocuments(kv, docs(lb('db')));
    assert.equal(
      externalIp(await stored(kv, 'db')),
      '198.51.100.66',
      "the deleted shop's frontend is free again",
    );
  });

  it('two applies racing for one frontend: the second commit fails on the frontend lock', async () => {
    const kv = await labStore();
    const a = applyDocuments(kv, docs(lb('a', { loadBalancerIP: '198.51.100.70' })));
    const b = applyDocuments(kv, docs(lb('b', { loadBalancerIP: '198.51.100.70' })));
    const results = await Promise.allSettled([a, b]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one wins');
    const holders = [];
    for (const n of ['a', 'b']) {
      const got = await kv.get(`objects/services/default/${n}`);
      if (got && externalIp(fromStored(got) as Service) === '198.51.100.70') holders.push(n);
    }
    assert.equal(holders.length, 1, 'one Service holds the frontend');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipBatch, listRoutes } from '../kernel/ip.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { type PeerRoute, readPodnetRoutes, reconcileRoutes } from './routes.js';

describe('route reconcile in a real namespace', () => {
  let scope: NetnsScope;
  let ns: string;
  before(async () => {
    scope = netnsScope('pnrt');
    ns = await scope.add('node');
    // A veth pair stands in for the uplink (this kernel has no dummy driver).
    await ipBatch(['link add uplink type veth peer name uplink-peer'], ns);
    await ipBatch(['link set uplink-peer up'], ns);
    await ipBatch(['addr add 10.224.0.4/24 dev uplink', 'addr add fd00:10::4/64 dev uplink nodad'], ns);
    await ipBatch(['link set uplink up'], ns);
  });
  after(async () => scope.cleanup());

  const want: PeerRoute[] = [
    { dst: '10.244.1.0/24', via: '10.224.0.5' },
    { dst: '10.244.2.0/24', via: '10.224.0.6' },
  ];

  it('installs the desired routes and a second run changes nothing', async () => {
    assert.deepEqual(await reconcileRoutes(want, { netns: ns }), { added: 2, replaced: 0, removed: 0 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns }), want);
    assert.deepEqual(await reconcileRoutes(want, { netns: ns }), { added: 0, replaced: 0, removed: 0 });
  });

  it('converges after a hand-deleted route and never touches a foreign route', async () => {
    await ipBatch(['route add 10.99.0.0/24 via 10.224.0.9'], ns); // foreign (proto boot)
    await ipBatch(['route del 10.244.1.0/24'], ns);
    assert.deepEqual(await reconcileRoutes(want, { netns: ns }), { added: 1, replaced: 0, removed: 0 });
    assert.deepEqual(await reconcileRoutes([want[1]], { netns: ns }), { added: 0, replaced: 0, removed: 1 });
    const all = await listRoutes([], ns);
    assert.ok(
      all.some((r) => r.dst === '10.99.0.0/24'),
      'foreign route kept',
    );
  });

  it('dual-stack: routes IPv6 blocks via IPv6 next hops beside the IPv4 ones, and reads both back', async () => {
    const dual: PeerRoute[] = [...want, { dst: 'fd12:3456:789a::100/120', via: 'fd00:10::5' }];
    await reconcileRoutes(want, { netns: ns });
    assert.deepEqual(await reconcileRoutes(dual, { netns: ns }), { added: 1, replaced: 0, removed: 0 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns }), dual);
    assert.deepEqual(await reconcileRoutes(dual, { netns: ns }), { added: 0, replaced: 0, removed: 0 });
    assert.deepEqual(await reconcileRoutes(want, { netns: ns }), { added: 0, replaced: 0, removed: 1 });
  });

  it('uses a separate table when asked', async () => {
    await reconcileRoutes(want, { netns: ns, table: 1234 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns, table: 1234 }), want);
    await reconcileRoutes([], { netns: ns, table: 1234 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns, table: 1234 }), []);
  });
});

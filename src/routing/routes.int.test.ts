import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run } from '../kernel/exec.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { type PeerRoute, readPodnetRoutes, reconcileRoutes } from './routes.js';

describe('route reconcile in a real namespace', () => {
  let scope: NetnsScope;
  let ns: string;
  before(async () => {
    scope = netnsScope('pnrt');
    ns = await scope.add('node');
    // A veth pair stands in for the uplink (this kernel has no dummy driver).
    await run('ip', ['-n', ns, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'uplink-peer']);
    await run('ip', ['-n', ns, 'link', 'set', 'uplink-peer', 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', '10.224.0.4/24', 'dev', 'uplink']);
    await run('ip', ['-n', ns, 'link', 'set', 'uplink', 'up']);
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
    await run('ip', ['-n', ns, 'route', 'add', '10.99.0.0/24', 'via', '10.224.0.9']); // foreign (proto boot)
    await run('ip', ['-n', ns, 'route', 'del', '10.244.1.0/24']);
    assert.deepEqual(await reconcileRoutes(want, { netns: ns }), { added: 1, replaced: 0, removed: 0 });
    assert.deepEqual(await reconcileRoutes([want[1]], { netns: ns }), { added: 0, replaced: 0, removed: 1 });
    const all = await run('ip', ['-n', ns, '-json', 'route', 'show']);
    assert.ok(
      JSON.parse(all).some((r: { dst: string }) => r.dst === '10.99.0.0/24'),
      'foreign route kept',
    );
  });

  it('uses a separate table when asked', async () => {
    await reconcileRoutes(want, { netns: ns, table: 1234 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns, table: 1234 }), want);
    await reconcileRoutes([], { netns: ns, table: 1234 });
    assert.deepEqual(await readPodnetRoutes({ netns: ns, table: 1234 }), []);
  });
});

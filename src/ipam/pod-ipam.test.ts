import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { openPodIpam, podIpamPath } from './pod-ipam.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-podipam-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (block = '10.244.3.0/24', maxPods = 250) =>
  openPodIpam({ path: join(dir, `p${n++}`, 'pod-ipam.db'), block, maxPods });
const code = (c: string) => (e: unknown) => e instanceof PodnetError && e.code === c;

describe('node-local pod IPAM', () => {
  it('keeps files at <state-dir>/<node>/pod-ipam.db', () => {
    assert.equal(podIpamPath('/var/lib/podnet', 'node-1'), '/var/lib/podnet/node-1/pod-ipam.db');
  });

  it('returns the same address for a repeated request and different ones for other attachments', () => {
    const ipam = fresh();
    const a = ipam.allocate({
      containerId: 'c1',
      ifname: 'eth0',
      podName: 'web',
      podNamespace: 'default',
      netns: '/run/netns/x',
    });
    assert.equal(a.ip, '10.244.3.1');
    assert.deepEqual(ipam.allocate({ containerId: 'c1', ifname: 'eth0' }), a);
    assert.equal(ipam.allocate({ containerId: 'c1', ifname: 'net1' }).ip, '10.244.3.2');
    assert.equal(ipam.allocate({ containerId: 'c2', ifname: 'eth0' }).ip, '10.244.3.3');
    assert.deepEqual(ipam.get('c1', 'eth0'), a);
    assert.equal(ipam.list().length, 3);
    ipam.close();
  });

  it('releases only what the container holds, idempotently, and does not reuse the address at once', () => {
    const ipam = fresh();
    const a = ipam.allocate({ containerId: 'c1', ifname: 'eth0' });
    assert.equal(ipam.release('other', 'eth0'), null);
    assert.equal(ipam.get('c1', 'eth0')?.ip, a.ip);
    assert.equal(ipam.release('c1', 'eth0')?.ip, a.ip);
    assert.equal(ipam.release('c1', 'eth0'), null);
    assert.equal(ipam.allocate({ containerId: 'c2', ifname: 'eth0' }).ip, '10.244.3.2');
    ipam.close();
  });

  it('hands out .1 to .254 and refuses past max pods with MaxPodsReached', () => {
    const ipam = fresh('10.244.3.0/24', 254);
    const ips = new Set<string>();
    for (let i = 0; i < 254; i++) ips.add(ipam.allocate({ containerId: `c${i}`, ifname: 'eth0' }).ip);
    assert.equal(ips.size, 254);
    assert.ok(!ips.has('10.244.3.0') && !ips.has('10.244.3.255'));
    assert.throws(() => ipam.allocate({ containerId: 'x', ifname: 'eth0' }), code('MaxPodsReached'));
    ipam.close();
    const small = fresh('10.244.4.0/24', 10);
    for (let i = 0; i < 10; i++) small.allocate({ containerId: `c${i}`, ifname: 'eth0' });
    assert.throws(
      () => small.allocate({ containerId: 'c10', ifname: 'eth0' }),
      (e: unknown) => code('MaxPodsReached')(e) && (e as PodnetError).details?.maxPods === 10,
    );
    small.release('c3', 'eth0');
    assert.equal(small.allocate({ containerId: 'c10', ifname: 'eth0' }).ip, '10.244.4.11');
    small.close();
  });

  it('sees existing allocations when re-opened with the same block; refuses another block while addresses are held', () => {
    const path = join(dir, 'reopen', 'pod-ipam.db');
    const first = openPodIpam({ path, block: '10.244.5.0/24', maxPods: 30 });
    const a = first.allocate({ containerId: 'c1', ifname: 'eth0' });
    first.close();
    const again = openPodIpam({ path, block: '10.244.5.0/24', maxPods: 30 });
    assert.deepEqual(again.get('c1', 'eth0'), a);
    assert.equal(again.allocate({ containerId: 'c2', ifname: 'eth0' }).ip, '10.244.5.2');
    again.release('c2', 'eth0');
    again.close();
    assert.throws(
      () => openPodIpam({ path, block: '10.244.6.0/24', maxPods: 30 }),
      code('PodIpamBlockMismatch'),
    );
    const last = openPodIpam({ path, block: '10.244.5.0/24', maxPods: 30 });
    last.release('c1', 'eth0');
    last.close();
    const moved = openPodIpam({ path, block: '10.244.6.0/24', maxPods: 30 });
    assert.equal(moved.allocate({ containerId: 'c3', ifname: 'eth0' }).ip, '10.244.6.1');
    moved.close();
  });

  it('refuses bad input with clear codes', () => {
    assert.throws(() => fresh('10.244.0.0/16'), code('InvalidBlock'));
    assert.throws(() => fresh('10.244.0.0/24', 0), code('InvalidMaxPods'));
    assert.throws(() => fresh('10.244.0.0/24', 255), code('InvalidMaxPods'));
    const ipam = fresh();
    assert.throws(() => ipam.allocate({ containerId: '', ifname: 'eth0' }), code('InvalidAllocation'));
    ipam.close();
  });

  it('allocates from an IPv6 /120 block', () => {
    const ipam = fresh('fd00:10::100/120');
    assert.equal(ipam.allocate({ containerId: 'c1', ifname: 'eth0' }).ip, 'fd00:10::101');
    ipam.close();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NodeIpamObservation, checkNodeIpam, lastingFindings, nodeLease } from './node-check.js';
import type { PodAddress } from './types.js';

const pod = (n: number): PodAddress => ({
  family: 4,
  ip: `10.244.3.${n}`,
  block: '10.244.3.0/24',
  containerId: `c${n}`,
  ifname: 'eth0',
  allocatedAt: '2026-11-25T00:00:00.000Z',
});
const veth = (n: number) => ({ hostVeth: `pnv00000000000${n}`, containerId: `c${n}`, ifname: 'eth0' });
const route = (n: number, dev = veth(n).hostVeth) => ({ ip: `10.244.3.${n}`, dev });

/** Two healthy pods on node-a, which leases its block. */
function healthy(): NodeIpamObservation {
  return {
    node: 'node-a',
    fileBlock: '10.244.3.0/24',
    addresses: [pod(1), pod(2)],
    veths: [veth(1), veth(2)],
    podRoutes: [route(1), route(2)],
    leases: [
      { block: '10.244.3.0/24', nodeName: 'node-a' },
      { block: '10.244.4.0/24', nodeName: 'node-b' },
    ],
  };
}

const codes = (o: NodeIpamObservation) => checkNodeIpam(o).map((f) => `${f.code} ${f.subject}`);

describe('checkNodeIpam', () => {
  it('finds nothing when the file, the kernel and the lease agree', () => {
    assert.deepEqual(checkNodeIpam(healthy()), []);
    assert.deepEqual(checkNodeIpam({ ...healthy(), addresses: [], veths: [], podRoutes: [] }), []);
  });

  it('reports an address whose pod has no interface as a leak, with the release command', () => {
    const o = { ...healthy(), veths: [veth(1)], podRoutes: [route(1)] };
    const [f, ...rest] = checkNodeIpam(o);
    assert.deepEqual(rest, []);
    assert.equal(f.code, 'AddressWithoutInterface');
    assert.equal(f.subject, '10.244.3.2');
    assert.match(f.message, /container c2 \(eth0\)/);
    assert.match(f.hint, /podnet ipam release --node node-a --container c2 --ifname eth0/);
  });

  it('reports a pod interface whose attachment holds no address', () => {
    const o = { ...healthy(), veths: [veth(1), veth(2), veth(3)] };
    assert.deepEqual(codes(o), ['InterfaceWithoutAddress pnv000000000003']);
    assert.match(checkNodeIpam(o)[0].hint, /ip link del pnv000000000003/);
  });

  it('reports a missing pod route, a route to an address nobody holds, and one through the wrong veth', () => {
    assert.deepEqual(codes({ ...healthy(), podRoutes: [route(1)] }), ['PodRouteMissing 10.244.3.2']);
    assert.deepEqual(codes({ ...healthy(), podRoutes: [route(1), route(2), route(9)] }), [
      'PodRouteStray 10.244.3.9 dev pnv000000000009',
    ]);
    assert.deepEqual(codes({ ...healthy(), podRoutes: [route(1), route(2, veth(1).hostVeth)] }), [
      'PodRouteMissing 10.244.3.2',
      'PodRouteStray 10.244.3.2 dev pnv000000000001',
    ]);
  });

  it('reports an address outside the block the file is for', () => {
    const stray = { ...pod(2), ip: '10.244.4.2' };
    const o = {
      ...healthy(),
      addresses: [pod(1), stray],
      podRoutes: [route(1), { ...route(2), ip: '10.244.4.2' }],
    };
    assert.deepEqual(codes(o), ['AddressOutsideBlock 10.244.4.2']);
  });

  it('checks the lease only when the store was asked, and names who holds the block instead', () => {
    assert.deepEqual(checkNodeIpam({ ...healthy(), leases: undefined }), []);
    assert.equal(nodeLease({ ...healthy(), leases: undefined }), undefined, 'not asked');
    const none = checkNodeIpam({ ...healthy(), leases: [{ block: '10.244.4.0/24', nodeName: 'node-b' }] });
    assert.deepEqual(
      none.map((f) => f.code),
      ['BlockNotLeased'],
    );
    assert.match(none[0].message, /holds no lease for the node; nobody leases the block/);
    const taken = checkNodeIpam({
      ...healthy(),
      leases: [
        { block: '10.244.7.0/24', nodeName: 'node-a' },
        { block: '10.244.3.0/24', nodeName: 'node-b' },
      ],
    });
    assert.match(taken[0].message, /leases the node 10.244.7.0\/24; the block is leased to node node-b/);
  });

  // Issue 14, fault 7: after kill -9 of an agent in the middle of ADDs, pods plumbed on the node side only were
  // reported as fine.
  it('reports a pod plumbed on the node but not inside the pod, with what CHECK found', () => {
    const o = {
      ...healthy(),
      podSides: [
        { containerId: 'c1', ifname: 'eth0', problems: [] },
        { containerId: 'c2', ifname: 'eth0', problems: ['interface eth0 lacks address 10.244.3.2/32'] },
      ],
    };
    const [f, ...rest] = checkNodeIpam(o);
    assert.deepEqual(rest, []);
    assert.deepEqual([f.code, f.subject], ['PodSideIncomplete', '10.244.3.2']);
    assert.match(f.message, /lacks address 10\.244\.3\.2\/32/);
    assert.match(f.hint, /CNI DEL or GC/);
  });

  it('lists findings sorted by code, then subject', () => {
    const o = { ...healthy(), veths: [veth(3)], podRoutes: [] };
    assert.deepEqual(codes(o), [
      'AddressWithoutInterface 10.244.3.1',
      'AddressWithoutInterface 10.244.3.2',
      'InterfaceWithoutAddress pnv000000000003',
    ]);
  });
});

describe('lastingFindings', () => {
  it('keeps only what both looks found: a pod midway through ADD or DEL is not a leak', () => {
    const midway = checkNodeIpam({ ...healthy(), veths: [veth(1)], podRoutes: [route(1)] });
    const leak = checkNodeIpam({ ...healthy(), veths: [veth(2)], podRoutes: [route(2)] });
    assert.deepEqual(lastingFindings(midway, checkNodeIpam(healthy())), []);
    assert.deepEqual(lastingFindings(leak, leak), leak);
    assert.deepEqual(lastingFindings(midway, leak), []);
  });
});

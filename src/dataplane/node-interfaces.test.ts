import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachedSubnets, parseNodeInterfaces, uplinkOf } from './node-interfaces.js';

// Shape of `ip -json addr show` on a node with an uplink, a second subnet, and one pod veth.
const IP_ADDR = [
  {
    ifname: 'lo',
    mtu: 65536,
    addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
  },
  {
    ifname: 'eth0',
    mtu: 1450,
    addr_info: [
      { family: 'inet', local: '10.224.0.4', prefixlen: 16, scope: 'global' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ],
  },
  {
    ifname: 'eth1',
    mtu: 1500,
    addr_info: [{ family: 'inet', local: '10.225.3.9', prefixlen: 24, scope: 'global' }],
  },
  {
    ifname: 'pnv0a1b2c3d4e5f',
    mtu: 1450,
    addr_info: [{ family: 'inet', local: '10.225.3.9', prefixlen: 32, scope: 'global' }],
  },
];

describe('node interfaces', () => {
  it('keeps global addresses of real interfaces only (no loopback, no pod veths)', () => {
    const ifs = parseNodeInterfaces(IP_ADDR);
    assert.deepEqual(
      ifs.map((i) => i.ifname),
      ['eth0', 'eth1'],
    );
    assert.deepEqual(ifs[0].addrs, [{ ip: '10.224.0.4', prefix: 16 }]);
  });

  it('derives the attached subnets from the addresses', () => {
    assert.deepEqual(attachedSubnets(parseNodeInterfaces(IP_ADDR)), ['10.224.0.0/16', '10.225.3.0/24']);
  });

  it('finds the uplink (and its MTU) by the node IP', () => {
    assert.equal(uplinkOf(parseNodeInterfaces(IP_ADDR), '10.224.0.4')?.mtu, 1450);
    assert.equal(uplinkOf(parseNodeInterfaces(IP_ADDR), '10.224.0.5'), null);
  });

  it('reads no links as no interfaces', () => {
    assert.deepEqual(parseNodeInterfaces([]), []);
  });
});

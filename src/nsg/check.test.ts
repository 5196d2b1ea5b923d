/**
 * `podnet nsg check` against the flows the AKS overlay documentation requires ("Network security groups":
 * node CIDR to node CIDR, node CIDR to pod CIDR, pod CIDR to pod CIDR, all ports and protocols) and DNS.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileFromObject } from '../profile/load.js';
import { dualStackSubnetsProfile } from '../profile/testing/dual-stack.js';
import { checkNsgs } from './check.js';
import { parseNsg } from './parse.js';
import type { Nsg } from './types.js';

const profile = profileFromObject({
  name: 'c',
  vnet: {
    name: 'v',
    addressSpaces: ['10.224.0.0/12'],
    subnets: [
      { name: 'a', cidr: '10.224.0.0/24' },
      { name: 'b', cidr: '10.224.1.0/24' },
    ],
  },
  networkProfile: { podCidr: '10.244.0.0/16', serviceCidr: '10.0.0.0/16', dnsServiceIP: '10.0.0.10' },
  agentPoolProfiles: [
    { name: 'a', vnetSubnetName: 'a', count: 1 },
    { name: 'b', vnetSubnetName: 'b', count: 1 },
  ],
});

function nsg(subnet: string, ...rules: Record<string, unknown>[]): Nsg {
  const base = {
    sourceAddressPrefix: '*',
    destinationAddressPrefix: '*',
    sourcePortRange: '*',
    destinationPortRange: '*',
    protocol: '*',
    access: 'Deny',
    direction: 'Inbound',
  };
  const r = parseNsg({
    name: `nsg-${subnet}`,
    securityRules: rules.map((x, i) => ({ ...base, name: `r${i}`, priority: 100 + i, ...x })),
    subnets: [
      {
        id: `/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/${subnet}`,
      },
    ],
  });
  assert.deepEqual(r.problems, []);
  return r.nsg as Nsg;
}

describe('podnet nsg check', () => {
  it('default rules block nothing the cluster needs (VirtualNetwork covers nodes and pods)', () => {
    assert.deepEqual(
      checkNsgs(
        profile,
        [nsg('a'), nsg('b')].map((n) => ({ ...n, rules: n.rules.filter((r) => r.default) })),
      ),
      [],
    );
  });

  it('finds a deny rule that catches one port of pod traffic, and proposes an allow that wins', () => {
    const n = nsg('b', {
      name: 'no-redis',
      priority: 300,
      protocol: 'Tcp',
      destinationPortRange: '6379',
      sourceAddressPrefix: '10.244.0.0/24',
    });
    const blocked = checkNsgs(profile, [n]);
    assert.deepEqual(
      blocked.map((b) => [b.flow, b.nsg, b.direction, b.rule, b.priority]),
      [
        ['pod-to-pod a -> b', 'nsg-b', 'Inbound', 'no-redis', 300],
        ['pod-to-pod b -> b', 'nsg-b', 'Inbound', 'no-redis', 300],
      ],
    );
    assert.deepEqual(blocked[0].example, {
      src: '10.244.0.0',
      dst: '10.244.0.0',
      protocol: 'TCP',
      dstPort: 6379,
    });
    assert.deepEqual(blocked[0].fix, {
      name: 'allow-pod-to-pod-in',
      priority: 299,
      direction: 'Inbound',
      access: 'Allow',
      protocol: '*',
      sourceAddressPrefix: '10.244.0.0/16',
      destinationAddressPrefix: '10.244.0.0/16',
      destinationPortRange: '*',
    });
  });

  it('a deny-all inbound at priority 4096 breaks every flow into the subnet; its fix takes a free priority', () => {
    const n = nsg(
      'b',
      { name: 'allow-ssh', priority: 4095, protocol: 'Tcp', destinationPortRange: '22', access: 'Allow' },
      { name: 'deny-all', priority: 4096 },
    );
    const blocked = checkNsgs(profile, [n]);
    assert.deepEqual(
      blocked.map((b) => b.flow),
      [
        'node-to-node a -> b',
        'node-to-pod a -> b',
        'pod-to-pod a -> b',
        'pod-to-dns a -> b',
        'node-to-node b -> b',
        'node-to-pod b -> b',
        'pod-to-pod b -> b',
        'pod-to-dns b -> b',
      ],
    );
    assert.ok(
      blocked.every((b) => b.rule === 'deny-all' && b.fix.priority === 4094),
      'below 4096 and not 4095, which is taken',
    );
  });

  it('DNS: the NSGs see pod to pod on 53 (after the DNAT of the DNS service IP), named on its own', () => {
    const n = nsg('a', {
      name: 'no-udp-53',
      direction: 'Outbound',
      protocol: 'Udp',
      destinationPortRange: '53',
    });
    const blocked = checkNsgs(profile, [n]);
    assert.deepEqual(
      blocked.map((b) => b.flow),
      [
        'node-to-node a -> a',
        'node-to-pod a -> a',
        'pod-to-pod a -> a',
        'pod-to-dns a -> a',
        'node-to-node a -> b',
        'node-to-pod a -> b',
        'pod-to-pod a -> b',
        'pod-to-dns a -> b',
      ],
    );
    assert.ok(
      blocked.every(
        (b) => b.rule === 'no-udp-53' && b.example.protocol === 'UDP' && b.example.dstPort === 53,
      ),
    );
    const dns = blocked.find((b) => b.flow === 'pod-to-dns a -> b');
    assert.deepEqual(
      [dns?.fix.destinationAddressPrefix, dns?.fix.destinationPortRange],
      ['10.244.0.0/16', '53'],
    );
    // A rule on the service IP itself never meets the packets: they carry the DNS pod's address by then.
    assert.deepEqual(
      checkNsgs(profile, [nsg('a', { direction: 'Outbound', destinationAddressPrefix: '10.0.0.10' })]),
      [],
    );
  });

  it("a deny that misses the cluster's ranges blocks nothing", () => {
    assert.deepEqual(
      checkNsgs(profile, [
        nsg('a', { sourceAddressPrefix: '192.168.0.0/16' }),
        nsg('b', { direction: 'Outbound', destinationAddressPrefix: 'Internet' }),
      ]),
      [],
    );
  });

  // Issue 12: a dual-stack cluster needs every flow in IPv6 too (subnets' /64s, the IPv6 pod CIDR); the DNS
  // service IP is IPv4, so DNS is an IPv4 flow only.
  it('dual-stack: the IPv6 twin of every flow but DNS, blocked by IPv6 rules only', () => {
    const dual = dualStackSubnetsProfile(['a', 'b']);
    const defaults = [nsg('a'), nsg('b')].map((n) => ({ ...n, rules: n.rules.filter((r) => r.default) }));
    assert.deepEqual(checkNsgs(dual, defaults), [], 'the defaults pass both families');
    const blocked = checkNsgs(dual, [
      nsg('b', { name: 'no-v6-pods', destinationAddressPrefix: 'fd12:3456:789a::/64' }),
    ]);
    assert.deepEqual(
      blocked.map((b) => b.flow),
      [
        'node-to-pod-ipv6 a -> b',
        'pod-to-pod-ipv6 a -> b',
        'node-to-pod-ipv6 b -> b',
        'pod-to-pod-ipv6 b -> b',
      ],
    );
    assert.deepEqual(blocked[1].example.dst.includes(':'), true);
    assert.deepEqual(
      [blocked[1].fix.sourceAddressPrefix, blocked[1].fix.destinationAddressPrefix],
      ['fd12:3456:789a::/64', 'fd12:3456:789a::/64'],
    );
  });
});

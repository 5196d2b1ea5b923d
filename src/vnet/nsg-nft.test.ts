/**
 * The VNet's NSG table, rendered from the NSG engine's parsed rules (pure). What Azure's documentation fixes
 * (learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works and
 * network-security-groups-overview): rules by priority, lowest first, first match; inbound subnet then NIC,
 * outbound NIC then subnet; stateful; defaults close every list; platform addresses unfiltered unless a rule
 * names their tags. The kernel's behaviour on these tables is the lab's agreement test (src/lab/agreement.int.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNsg } from '../nsg/parse.js';
import type { Nsg } from '../nsg/types.js';
import { type VnetNsgInput, renderNsgRule, renderVnetNsgs } from './nsg-nft.js';

const rule = (r: Record<string, unknown>) => ({
  protocol: '*',
  access: 'Deny',
  direction: 'Inbound',
  sourceAddressPrefix: '*',
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRange: '*',
  ...r,
});

function nsg(name: string, rules: Record<string, unknown>[], assoc: Record<string, unknown> = {}): Nsg {
  const r = parseNsg({ name, securityRules: rules.map(rule), ...assoc });
  assert.deepEqual(r.problems, []);
  return r.nsg as Nsg;
}

const TAGS = { virtualNetwork: ['10.224.0.0/12', '10.244.0.0/16'] };
const input = (over: Partial<VnetNsgInput>): VnetNsgInput => ({
  cluster: 'c1',
  nsgs: [],
  nics: [],
  subnets: [
    { name: 'sys', cidrs: ['10.224.0.0/24'] },
    { name: 'user', cidrs: ['10.224.1.0/24'] },
  ],
  blocks: [
    { node: 'sys-0', nodeIp: '10.224.0.4', block: '10.244.0.0/24' },
    { node: 'user-0', nodeIp: '10.224.1.4', block: '10.244.1.0/24' },
  ],
  tags: TAGS,
  ...over,
});

const chain = (text: string, name: string) => {
  const m = new RegExp(`chain ${name} \\{\\n([\\s\\S]*?)\\n  \\}`).exec(text);
  assert.ok(m, `chain ${name} in\n${text}`);
  return m[1].split('\n').map((l) => l.trim());
};

describe('the VNet NSG table', () => {
  const subnetNsg = nsg(
    'user-nsg',
    [
      { name: 'later', priority: 400, access: 'Allow', protocol: 'Tcp', destinationPortRange: '6379' },
      { name: 'first', priority: 300, protocol: 'Tcp', sourceAddressPrefix: '10.244.0.0/24' },
    ],
    { subnets: [{ id: '/x/virtualNetworks/v/subnets/user' }] },
  );
  const nicNsg = nsg('nic-nsg', [{ name: 'no-ssh', priority: 100, destinationPortRange: '22' }]);
  const text = renderVnetNsgs(
    input({ nsgs: [subnetNsg, nicNsg], nics: [{ name: 'user-0', ips: ['10.224.1.4'], nsg: 'nic-nsg' }] }),
  );

  it('replaces its own table in one transaction and passes tracked flows before any rule', () => {
    assert.match(
      text,
      /^add table inet podnet_nsg_c1\ndelete table inet podnet_nsg_c1\ntable inet podnet_nsg_c1 \{/,
    );
    assert.deepEqual(chain(text, 'forward'), [
      'type filter hook forward priority filter; policy accept;',
      'meta nfproto != ipv4 accept',
      'ct state established,related accept',
      // Azure's order: outbound NIC then subnet, inbound subnet then NIC.
      'ip saddr vmap @src_nic',
      'ip saddr vmap @src_subnet',
      'ip daddr vmap @dst_subnet',
      'ip daddr vmap @dst_nic',
    ]);
  });

  it('sends load balancer frontend traffic to the NSGs of the node its route picked (floating IP)', () => {
    // https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip: the packet reaches the
    // backend with the frontend IP as destination; the NSGs on the backend's subnet and NIC see it so.
    const lb = renderVnetNsgs(
      input({
        nsgs: [subnetNsg, nicNsg],
        nics: [{ name: 'user-0', ips: ['10.224.1.4'], nsg: 'nic-nsg' }],
        frontends: { cidr: '198.51.100.0/26' },
      }),
    );
    assert.deepEqual(chain(lb, 'forward').slice(3), [
      'ip saddr vmap @src_nic',
      'ip saddr vmap @src_subnet',
      'ip daddr vmap @dst_subnet',
      'ip daddr 198.51.100.0/26 rt ip nexthop vmap @dst_subnet',
      'ip daddr vmap @dst_nic',
      'ip daddr 198.51.100.0/26 rt ip nexthop vmap @dst_nic',
    ]);
  });

  it("maps a subnet's and a NIC's addresses with their nodes' pod blocks to the NSG associated there", () => {
    assert.match(
      text,
      /map dst_subnet \{[^}]*elements = \{ 10\.224\.1\.0\/24 : jump nsg0_in, 10\.244\.1\.0\/24 : jump nsg0_in \}/,
    );
    assert.match(
      text,
      /map src_nic \{[^}]*elements = \{ 10\.224\.1\.4\/32 : jump nsg1_out, 10\.244\.1\.0\/24 : jump nsg1_out \}/,
    );
    assert.doesNotMatch(text, /10\.224\.0\.0\/24 : jump/, 'the sys subnet has no NSG');
  });

  it('lists rules by priority, lowest first, then the defaults; Allow returns to the next NSG, Deny drops', () => {
    const rules = chain(text, 'nsg0_in').filter((l) => l.includes('counter'));
    assert.deepEqual(
      rules.map((l) => /comment "(\S+) (\d+)"/.exec(l)?.slice(1).join(' ')),
      [
        'first 300',
        'later 400',
        'AllowVnetInBound 65000',
        'AllowAzureLoadBalancerInBound 65001',
        'DenyAllInBound 65500',
      ],
    );
    assert.match(rules[0], /^meta l4proto tcp ip saddr \{ 10\.244\.0\.0\/24 \} counter drop/);
    assert.match(rules[1], /^meta l4proto tcp th dport \{ 6379 \} counter return/);
  });

  it('sends platform addresses to a chain of only the rules naming the platform tags (none: allowed)', () => {
    const dns = nsg('dns', [
      { name: 'no-dns', priority: 100, direction: 'Outbound', destinationAddressPrefix: 'AzurePlatformDNS' },
    ]);
    const t = renderVnetNsgs(input({ nsgs: [dns] }));
    assert.equal(
      chain(t, 'nsg0_out')[1],
      'ip daddr { 168.63.129.16, 169.254.169.254 } goto nsg0_out_platform',
    );
    assert.deepEqual(chain(t, 'nsg0_out_platform').slice(1), [
      'ip daddr { 168.63.129.16/32 } counter drop comment "no-dns 100"',
    ]);
    assert.deepEqual(chain(t, 'nsg0_in_platform').slice(1), []);
  });

  it('expands service tags: VirtualNetwork to its prefixes, Internet to everything else', () => {
    const [vnet, internet] = nsg('t', [
      { name: 'v', priority: 100, sourceAddressPrefix: 'VirtualNetwork' },
      { name: 'i', priority: 101, sourceAddressPrefix: 'Internet' },
    ]).rules.map((r) => renderNsgRule(r, TAGS));
    assert.match(
      vnet ?? '',
      /^ip saddr \{ 10\.224\.0\.0\/12, 10\.244\.0\.0\/16, 168\.63\.129\.16\/32 \} counter drop/,
    );
    assert.match(
      internet ?? '',
      /^ip saddr != \{ 10\.224\.0\.0\/12, 10\.244\.0\.0\/16, 168\.63\.129\.16\/32 \}/,
    );
  });

  it('matches ports only on TCP, UDP and SCTP, and leaves out rules no IPv4 packet can match', () => {
    const [anyProto, icmpPorts, v6Only, nested] = nsg('p', [
      {
        name: 'a',
        priority: 100,
        destinationPortRange: undefined,
        destinationPortRanges: ['80', '1000-2000'],
      },
      { name: 'b', priority: 101, protocol: 'Icmp', destinationPortRange: '80' },
      { name: 'c', priority: 102, sourceAddressPrefix: 'fd00::/8' },
      {
        name: 'd',
        priority: 103,
        sourceAddressPrefix: undefined,
        sourceAddressPrefixes: ['10.0.0.0/8', '10.1.2.3'],
      },
    ]).rules.map((r) => renderNsgRule(r, TAGS));
    assert.match(
      anyProto ?? '',
      /^meta l4proto \{ tcp, udp, sctp \} th dport \{ 80, 1000-2000 \} counter drop/,
    );
    assert.equal(icmpPorts, null);
    assert.equal(v6Only, null);
    assert.match(nested ?? '', /^ip saddr \{ 10\.0\.0\.0\/8 \} counter drop/);
  });

  // A dual-stack VNet (issue 12): subnets with an IPv6 /64, nodes leasing an IPv4 /24 and an IPv6 /120.
  describe('in a dual-stack VNet', () => {
    const TAGS6 = { virtualNetwork: [...TAGS.virtualNetwork, 'fd00:10::/48', 'fd12:3456:789a::/64'] };
    const dual = (over: Partial<VnetNsgInput>) =>
      input({
        subnets: [
          { name: 'sys', cidrs: ['10.224.0.0/24', 'fd00:10::/64'] },
          { name: 'user', cidrs: ['10.224.1.0/24', 'fd00:10:0:1::/64'] },
        ],
        blocks: [
          { node: 'sys-0', nodeIp: '10.224.0.4', block: '10.244.0.0/24' },
          { node: 'sys-0', nodeIp: 'fd00:10::4', block: 'fd12:3456:789a::/120' },
          { node: 'user-0', nodeIp: '10.224.1.4', block: '10.244.1.0/24' },
          { node: 'user-0', nodeIp: 'fd00:10:0:1::4', block: 'fd12:3456:789a::100/120' },
        ],
        tags: TAGS6,
        ...over,
      });
    const mixed = nsg(
      'mixed',
      [
        { name: 'no-v6-pods', priority: 100, protocol: 'Tcp', sourceAddressPrefix: 'fd12:3456:789a::/120' },
        { name: 'no-v4-pods', priority: 110, protocol: 'Tcp', sourceAddressPrefix: '10.244.0.0/24' },
        { name: 'no-ping', priority: 120, protocol: 'Icmp' },
        { name: 'no-web', priority: 130, protocol: 'Tcp', destinationPortRange: '80' },
        { name: 'no-out', priority: 140, direction: 'Outbound', destinationAddressPrefix: 'Internet' },
      ],
      { subnets: [{ id: '/x/virtualNetworks/v/subnets/user' }] },
    );
    const nicNsg6 = nsg('nic6', [{ name: 'no-ssh', priority: 100, destinationPortRange: '22' }]);
    const t = renderVnetNsgs(
      dual({ nsgs: [mixed, nicNsg6], nics: [{ name: 'sys-0', ips: ['10.224.0.4'], nsg: 'nic6' }] }),
    );

    it('passes neighbour discovery before any NSG rule (it is ARP for IPv6), then dispatches each family', () => {
      const forward = chain(t, 'forward');
      assert.match(
        forward[1],
        /^icmpv6 type \{ nd-router-solicit, .*nd-neighbor-solicit, nd-neighbor-advert/,
      );
      assert.deepEqual(forward.slice(2), [
        'ct state established,related accept',
        'ip saddr vmap @src_nic',
        'ip6 saddr vmap @src_nic_v6',
        'ip saddr vmap @src_subnet',
        'ip6 saddr vmap @src_subnet_v6',
        'ip daddr vmap @dst_subnet',
        'ip6 daddr vmap @dst_subnet_v6',
        'ip daddr vmap @dst_nic',
        'ip6 daddr vmap @dst_nic_v6',
      ]);
    });

    it("maps a subnet's IPv6 /64 with its nodes' IPv6 blocks, and a NIC's node with both its blocks", () => {
      assert.match(
        t,
        /map dst_subnet_v6 \{\n\s+type ipv6_addr : verdict; flags interval;\n\s+elements = \{ fd00:10:0:1::\/64 : jump nsg0_in, fd12:3456:789a::100\/120 : jump nsg0_in \}/,
      );
      // The NIC lists the node's IPv4 address only; the node's IPv6 address and block are the same node's, so
      // they are the NIC's too (trace: a node's addresses are its pods' hostIPs).
      assert.match(
        t,
        /map src_nic_v6 \{[^}]*elements = \{ fd00:10::4\/128 : jump nsg1_out, fd12:3456:789a::\/120 : jump nsg1_out \}/,
      );
    });

    it('renders each rule once per family it can match, in priority order; Icmp is ICMPv6 for IPv6', () => {
      const rules = chain(t, 'nsg0_in').filter((l) => l.includes('counter'));
      const named = (n: string) => rules.filter((l) => l.includes(`"${n} `));
      assert.deepEqual(named('no-v6-pods'), [
        'meta l4proto tcp ip6 saddr { fd12:3456:789a::/120 } counter drop comment "no-v6-pods 100"',
      ]);
      assert.deepEqual(named('no-v4-pods'), [
        'meta l4proto tcp ip saddr { 10.244.0.0/24 } counter drop comment "no-v4-pods 110"',
      ]);
      assert.deepEqual(named('no-ping'), [
        'meta l4proto icmp counter drop comment "no-ping 120"',
        'meta l4proto icmpv6 counter drop comment "no-ping 120"',
      ]);
      // No address and no ICMP: one line serves both families.
      assert.deepEqual(named('no-web'), [
        'meta l4proto tcp th dport { 80 } counter drop comment "no-web 130"',
      ]);
      assert.deepEqual(named('AllowVnetInBound'), [
        'ip saddr { 10.224.0.0/12, 10.244.0.0/16, 168.63.129.16/32 } ip daddr { 10.224.0.0/12, 10.244.0.0/16, 168.63.129.16/32 } counter return comment "AllowVnetInBound 65000"',
        'ip6 saddr { fd00:10::/48, fd12:3456:789a::/64 } ip6 daddr { fd00:10::/48, fd12:3456:789a::/64 } counter return comment "AllowVnetInBound 65000"',
      ]);
      const out = chain(t, 'nsg0_out').filter((l) => l.includes('"no-out '));
      assert.deepEqual(out, [
        'ip daddr != { 10.224.0.0/12, 10.244.0.0/16, 168.63.129.16/32 } counter drop comment "no-out 140"',
        'ip6 daddr != { fd00:10::/48, fd12:3456:789a::/64 } counter drop comment "no-out 140"',
      ]);
    });

    it('sends IPv6 frontend traffic to the NSGs of the node its IPv6 route picked', () => {
      const t6 = renderVnetNsgs(
        dual({ nsgs: [mixed], frontends: { cidr: '198.51.100.0/26', cidr6: '2001:db8:198:51::/120' } }),
      );
      const forward = chain(t6, 'forward');
      assert.ok(forward.includes('ip daddr 198.51.100.0/26 rt ip nexthop vmap @dst_subnet'));
      assert.ok(forward.includes('ip6 daddr 2001:db8:198:51::/120 rt ip6 nexthop vmap @dst_subnet_v6'));
    });

    it('an IPv4-only cluster renders what it did: one family, IPv6 passed', () => {
      const v4 = renderVnetNsgs(input({ nsgs: [mixed] }));
      assert.doesNotMatch(v4, /ip6|_v6|icmpv6/);
      assert.equal(chain(v4, 'forward')[1], 'meta nfproto != ipv4 accept');
    });
  });
});

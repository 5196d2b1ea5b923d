/**
 * NSG semantics from Microsoft's documentation (virtual-network/network-security-groups-overview.md,
 * network-security-group-how-it-works.md, service-tags-overview.md): first match by priority, the six default
 * rules, service tags, platform traffic, and Azure's validation rules, over rules in `az network nsg show` shape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateNsg } from './evaluate.js';
import { parseNic, parseNsg } from './parse.js';
import type { Nsg, NsgPacket } from './types.js';

const ctx = { virtualNetwork: ['10.224.0.0/12', '10.244.0.0/16', '192.168.100.0/24'] };

/** A rule as `az network nsg show -o json` prints it (flattened, both singular and plural fields present). */
function rule(o: Record<string, unknown>) {
  return {
    name: 'r',
    priority: 100,
    direction: 'Inbound',
    access: 'Deny',
    protocol: '*',
    sourceAddressPrefix: '*',
    sourceAddressPrefixes: [],
    sourcePortRange: '*',
    sourcePortRanges: [],
    destinationAddressPrefix: '*',
    destinationAddressPrefixes: [],
    destinationPortRange: '*',
    destinationPortRanges: [],
    etag: 'W/"x"',
    provisioningState: 'Succeeded',
    type: 'Microsoft.Network/networkSecurityGroups/securityRules',
    ...o,
  };
}

function nsg(...rules: Record<string, unknown>[]): Nsg {
  const { nsg: n, problems } = parseNsg({
    name: 'aks-nsg',
    id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/aks-nsg',
    securityRules: rules.map((r, i) => rule({ name: `r${i}`, priority: 100 + i, ...r })),
    subnets: [
      { id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes' },
    ],
  });
  assert.deepEqual(problems, []);
  return n as Nsg;
}

const tcp = (src: string, dst: string, dstPort = 80): NsgPacket => ({
  src,
  dst,
  protocol: 'TCP',
  srcPort: 40000,
  dstPort,
});
const verdict = (n: Nsg, dir: 'Inbound' | 'Outbound', p: NsgPacket) => {
  const v = evaluateNsg(n, dir, p, ctx);
  return `${v.access} ${v.rule}`;
};

describe('NSG evaluation', () => {
  it('with no custom rules, the defaults decide: VNet to VNet allowed, the internet in denied, out allowed', () => {
    const n = nsg();
    assert.equal(verdict(n, 'Inbound', tcp('10.224.0.4', '10.224.0.5')), 'Allow AllowVnetInBound');
    assert.equal(
      verdict(n, 'Inbound', tcp('10.244.1.7', '10.244.0.9')),
      'Allow AllowVnetInBound',
      'pod CIDR counts as VirtualNetwork',
    );
    assert.equal(verdict(n, 'Inbound', tcp('203.0.113.10', '10.224.0.4')), 'Deny DenyAllInBound');
    assert.equal(
      verdict(n, 'Inbound', tcp('168.63.129.16', '10.224.0.4')),
      'Allow null',
      'the platform address is not filtered',
    );
    assert.equal(verdict(n, 'Outbound', tcp('10.224.0.4', '203.0.113.10')), 'Allow AllowInternetOutBound');
    assert.equal(verdict(n, 'Outbound', tcp('10.224.0.4', '10.225.0.4')), 'Allow AllowVnetOutBound');
  });

  it('IPv6 prefixes match IPv6 packets only (dual-stack pods: an NSG rule per family)', () => {
    // Azure NSG security rules take IPv6 prefixes (learn.microsoft.com, "Network security groups": "you can
    // specify ... an IPv6 address range"); 10.244.0.0/16 and fd12:3456:789a::/64 are the AKS dual-stack defaults.
    const n = nsg(
      { name: 'deny-pods6', priority: 200, sourceAddressPrefix: 'fd12:3456:789a::/64', access: 'Deny' },
      { name: 'allow-one6', priority: 100, sourceAddressPrefix: 'fd12:3456:789a::105', access: 'Allow' },
    );
    const v6 = { virtualNetwork: [...ctx.virtualNetwork, 'fd12:3456:789a::/64', 'fd00:10::/48'] };
    const say = (p: NsgPacket) => {
      const v = evaluateNsg(n, 'Inbound', p, v6);
      return `${v.access} ${v.rule}`;
    };
    assert.equal(say(tcp('fd12:3456:789a::107', 'fd12:3456:789a::201')), 'Deny deny-pods6');
    assert.equal(
      say(tcp('fd12:3456:789a::105', 'fd12:3456:789a::201')),
      'Allow allow-one6',
      'a bare address is a /128',
    );
    assert.equal(say(tcp('10.244.1.7', '10.244.0.9')), 'Allow AllowVnetInBound', 'IPv4 falls through');
  });

  it('the lowest priority number wins, and evaluation stops at the first match', () => {
    const n = nsg(
      { name: 'deny-pods', priority: 200, sourceAddressPrefix: '10.244.0.0/16', access: 'Deny' },
      {
        name: 'allow-web',
        priority: 100,
        sourceAddressPrefix: '10.244.0.0/16',
        destinationPortRange: '80',
        protocol: 'Tcp',
        access: 'Allow',
      },
    );
    assert.equal(verdict(n, 'Inbound', tcp('10.244.1.7', '10.244.0.9', 80)), 'Allow allow-web');
    assert.equal(verdict(n, 'Inbound', tcp('10.244.1.7', '10.244.0.9', 443)), 'Deny deny-pods');
    assert.equal(
      verdict(n, 'Inbound', tcp('10.224.0.4', '10.244.0.9', 443)),
      'Allow AllowVnetInBound',
      'other sources fall through to the defaults',
    );
  });

  it('matches protocol, ports and ranges; ICMP matches only rules that name no ports', () => {
    const n = nsg(
      { name: 'udp-dns', protocol: 'Udp', destinationPortRange: '53', access: 'Deny' },
      {
        name: 'range',
        protocol: 'Tcp',
        destinationPortRange: null,
        destinationPortRanges: ['8000-8080', '9000'],
        access: 'Deny',
      },
      { name: 'icmp', protocol: 'Icmp', sourceAddressPrefix: '10.224.0.4', access: 'Deny' },
    );
    assert.equal(
      verdict(n, 'Inbound', { ...tcp('10.224.0.5', '10.224.0.6', 53), protocol: 'UDP' }),
      'Deny udp-dns',
    );
    assert.equal(
      verdict(n, 'Inbound', tcp('10.224.0.5', '10.224.0.6', 53)),
      'Allow AllowVnetInBound',
      'TCP 53 is not UDP 53',
    );
    assert.deepEqual(
      [7999, 8000, 8080, 8081, 9000].map((p) => verdict(n, 'Inbound', tcp('10.224.0.5', '10.224.0.6', p))),
      ['Allow AllowVnetInBound', 'Deny range', 'Deny range', 'Allow AllowVnetInBound', 'Deny range'],
    );
    assert.equal(
      verdict(n, 'Inbound', { src: '10.224.0.4', dst: '10.224.0.6', protocol: 'ICMP' }),
      'Deny icmp',
    );
  });

  it('service tags: VirtualNetwork, Internet, AzureLoadBalancer', () => {
    const n = nsg(
      { name: 'no-internet', sourceAddressPrefix: 'Internet', access: 'Deny' },
      {
        name: 'vnet-only',
        sourceAddressPrefix: 'VirtualNetwork',
        destinationPortRange: '22',
        protocol: 'Tcp',
        access: 'Deny',
      },
    );
    assert.equal(verdict(n, 'Inbound', tcp('203.0.113.10', '10.224.0.4')), 'Deny no-internet');
    assert.equal(
      verdict(n, 'Inbound', tcp('192.168.100.10', '10.224.0.4', 22)),
      'Deny vnet-only',
      'a connected network is VirtualNetwork',
    );
    assert.equal(
      verdict(n, 'Inbound', tcp('168.63.129.16', '10.224.0.4')),
      'Allow null',
      'health probes from the platform pass',
    );
  });

  it('platform DNS is not filtered unless a rule names AzurePlatformDNS', () => {
    const dns = {
      src: '10.224.0.4',
      dst: '168.63.129.16',
      protocol: 'UDP',
      srcPort: 40000,
      dstPort: 53,
    } as NsgPacket;
    assert.equal(
      verdict(nsg({ direction: 'Outbound', access: 'Deny' }), 'Outbound', dns),
      'Allow null',
      'deny-all does not touch it',
    );
    assert.equal(
      verdict(
        nsg({
          name: 'no-dns',
          direction: 'Outbound',
          destinationAddressPrefix: 'AzurePlatformDNS',
          access: 'Deny',
        }),
        'Outbound',
        dns,
      ),
      'Deny no-dns',
    );
  });
});

describe('NSG validation (Azure rules), every problem with its field', () => {
  const problems = (...rules: Record<string, unknown>[]) =>
    parseNsg({ name: 'n', securityRules: rules.map((r) => rule(r)) }).problems.map(
      (p) => `${p.field}: ${p.message}`,
    );

  it('priority from 100 to 4096, unique per direction (the same number in the other direction is fine)', () => {
    assert.equal(
      problems({ priority: 99 })[0],
      'securityRules[0].priority: priority must be a whole number from 100 to 4096, got 99',
    );
    assert.equal(problems({ priority: 4097 }).length, 1);
    assert.match(
      problems({ name: 'a', priority: 300 }, { name: 'b', priority: 300 })[0],
      /^securityRules\[1\]\.priority: priority 300 is already used by Inbound rule "a"/,
    );
    assert.deepEqual(
      problems({ name: 'a', priority: 300 }, { name: 'b', priority: 300, direction: 'Outbound' }),
      [],
    );
  });

  it('names, directions, accesses and protocols', () => {
    assert.equal(problems({ name: '-bad' }).length, 1);
    assert.equal(problems({ name: 'x'.repeat(81) }).length, 1);
    assert.deepEqual(problems({ name: 'ok.name_' }), []);
    assert.deepEqual(problems({ direction: 'Sideways', access: 'Maybe', protocol: 'Sctp' }), [
      'securityRules[0].direction: direction must be Inbound or Outbound',
      'securityRules[0].access: access must be Allow or Deny',
      'securityRules[0].protocol: protocol must be Tcp, Udp, Icmp, Esp, Ah or "*"',
    ]);
    assert.deepEqual(
      problems({ protocol: 'tcp', direction: 'inbound', access: 'allow' }),
      [],
      'case does not matter, as in ARM',
    );
  });

  it('prefixes, tags and port ranges', () => {
    assert.match(
      problems({ sourceAddressPrefix: '10.0.0.0/33' })[0],
      /is not an IP address, CIDR, service tag or "\*"/,
    );
    assert.match(problems({ sourceAddressPrefix: 'Intranet' })[0], /not a service tag podnet knows/);
    assert.match(
      problems({ sourceAddressPrefix: null, sourceAddressPrefixes: ['Internet', '10.0.0.0/8'] })[0],
      /cannot be combined/,
    );
    assert.match(
      problems({ sourceAddressPrefix: '10.0.0.0/8', sourceAddressPrefixes: ['10.1.0.0/16'] })[0],
      /not both/,
    );
    assert.match(problems({ destinationPortRange: '90-80' })[0], /is not a port or range/);
    assert.match(problems({ destinationPortRange: '70000' })[0], /is not a port or range/);
    assert.deepEqual(
      problems({ destinationPortRange: null, destinationPortRanges: ['80', '443', '8000-8999'] }),
      [],
    );
  });

  it('reads the ARM nesting too, and names subnets and NICs from their ids', () => {
    const { nsg: n, problems: p } = parseNsg({
      name: 'arm',
      properties: {
        securityRules: [{ name: 'x', properties: rule({ priority: 150 }) }],
        subnets: [
          {
            id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/apps',
          },
        ],
        networkInterfaces: [
          { id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/nic1' },
        ],
      },
    });
    assert.deepEqual(p, []);
    assert.deepEqual([n?.subnets, n?.networkInterfaces, n?.rules.length], [['apps'], ['nic1'], 7]);
  });

  it('reads a dual-stack NIC: both ipConfigurations, the IPv6 address in canonical form (RFC 5952)', () => {
    // az network nic show: a dual-stack NIC has an IPv4 and an IPv6 ipConfiguration (privateIPAddressVersion).
    const { nic, problems } = parseNic({
      name: 'sys-0-nic',
      ipConfigurations: [
        { name: 'ipconfig1', privateIPAddress: '10.224.0.4', privateIPAddressVersion: 'IPv4' },
        { name: 'ipconfig6', privateIPAddress: 'FD00:10:0:0:0:0:0:4', privateIPAddressVersion: 'IPv6' },
      ],
      networkSecurityGroup: {
        id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n',
      },
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(nic, { name: 'sys-0-nic', ips: ['10.224.0.4', 'fd00:10::4'], nsg: 'n' });
  });
});

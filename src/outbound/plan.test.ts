/**
 * The outbound types planned for the lab, as AKS defines them (learn.microsoft.com/azure/aks/egress-outboundtype):
 * `loadBalancer` SNATs egress to the load balancer's outbound frontend; `managedNATGateway` sends it through a
 * NAT gateway on the subnet with its own public IP; `userDefinedRouting` is a route table on the subnet whose
 * 0.0.0.0/0 leads to a firewall's private address (learn.microsoft.com/azure/aks/limit-egress-traffic), which
 * SNATs to its public IP. Only internet-bound traffic takes them: the VNet's and connected networks' routes are
 * more specific (learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#how-azure-selects-a-route).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { defaultLabProfile } from '../lab/default-profile.js';
import type { OutboundType } from '../profile/types.js';
import type { Vnet } from '../vnet/model.js';
import { planVnetJoin, planVnetLeave } from '../vnet/plan.js';
import { internetBound, outboundOf, planClusterOutbound } from './plan.js';
import { parseFirewallLog, renderAppliance, renderLbOutbound, renderOutboundRoutes } from './render.js';

const profile = (name: string, slot: number, outboundType: OutboundType) => {
  const p = defaultLabProfile(name, slot);
  return { ...p, network: { ...p.network, outboundType } };
};

/** Three clusters in one VNet, one of each outbound type. */
function threeTypes(): Vnet {
  let v = planVnetJoin(null, 'net', 'a', profile('a', 0, 'loadBalancer'));
  v = planVnetJoin(v, 'net', 'b', profile('b', 1, 'managedNATGateway'));
  return planVnetJoin(v, 'net', 'c', profile('c', 2, 'userDefinedRouting'));
}

describe('outbound plan', () => {
  it('gives each cluster the outbound address of its public block, and a NAT gateway or a firewall its own namespace and link', () => {
    const v = threeTypes();
    assert.deepEqual(outboundOf(v, 'a'), { type: 'loadBalancer', publicIp: '198.51.100.62' });
    assert.deepEqual(outboundOf(v, 'b'), {
      type: 'managedNATGateway',
      publicIp: '198.51.100.126',
      appliance: {
        kind: 'natGateway',
        netns: 'plv-net-natgw-b',
        cidr: '192.0.2.0/30',
        vnetIp: '192.0.2.1',
        ip: '192.0.2.2',
        vnetLink: 'o-b',
        table: 1101,
      },
    });
    const c = outboundOf(v, 'c');
    assert.deepEqual(
      [
        c.publicIp,
        c.appliance?.kind,
        c.appliance?.netns,
        c.appliance?.cidr,
        c.appliance?.ip,
        c.appliance?.table,
      ],
      ['198.51.100.190', 'firewall', 'plv-net-fw-c', '192.0.2.4/30', '192.0.2.6', 1102],
    );
  });

  it('keeps the addresses of the clusters that stay, and reuses what a leaving one freed', () => {
    const v = planVnetLeave(threeTypes(), 'b');
    const d = planVnetJoin(v, 'net', 'd', profile('d', 3, 'managedNATGateway'));
    assert.equal(outboundOf(d, 'a').publicIp, '198.51.100.62');
    assert.equal(outboundOf(d, 'c').publicIp, '198.51.100.190');
    assert.equal(outboundOf(d, 'd').publicIp, '198.51.100.126');
    assert.equal(outboundOf(d, 'd').appliance?.cidr, '192.0.2.0/30');
  });

  it('refuses a NAT gateway when the appliance links are used up, before anything is created', () => {
    const v = planVnetJoin(null, 'net', 'a', profile('a', 0, 'loadBalancer'));
    for (let i = 0; i < 64; i++)
      v.clusters.push({
        name: `x${i}`,
        table: 200 + i,
        podCidrs: [],
        outbound: {
          type: 'managedNATGateway',
          publicIp: '198.51.100.126',
          appliance: {
            kind: 'natGateway',
            netns: `plv-net-natgw-x${i}`,
            cidr: `192.0.2.${i * 4}/30`,
            vnetIp: `192.0.2.${i * 4 + 1}`,
            ip: `192.0.2.${i * 4 + 2}`,
            vnetLink: `o-x${i}`,
            table: 1200 + i,
          },
        },
      });
    assert.throws(
      () => planClusterOutbound(v, 'z', 300, 'managedNATGateway', '198.51.100.64/26'),
      (e: unknown) => e instanceof PodnetError && e.code === 'LabOutboundExhausted',
    );
    assert.equal(
      planClusterOutbound(v, 'z', 300, 'loadBalancer', '198.51.100.64/26').publicIp,
      '198.51.100.126',
    );
  });

  it('sends only internet-bound traffic out: not the VNet, connected networks, pods, services or platform addresses', () => {
    const p = defaultLabProfile('a', 0);
    const bound = [
      '203.0.113.10',
      '8.8.8.8',
      '10.224.1.4',
      '192.168.100.10',
      '10.244.1.1',
      '168.63.129.16',
      '169.254.169.254',
      '10.0.0.10',
    ];
    assert.deepEqual(
      bound.map((ip) => internetBound(p, ip)),
      [true, true, false, false, false, false, false, false],
    );
  });
});

describe('outbound in the kernel (rendered)', () => {
  const v = threeTypes();

  it('loadBalancer: the VNet SNATs new connections from the cluster subnets to the internet link only', () => {
    const text = renderLbOutbound(v, 'a');
    assert.match(
      text,
      /^add table inet podnet_lbout_a\ndelete table inet podnet_lbout_a\ntable inet podnet_lbout_a \{/,
    );
    assert.match(text, /type nat hook postrouting priority srcnat/);
    assert.match(
      text,
      /iifname \{ "br0", "br1" \} oifname \{ "x-inet" \} meta nfproto ipv4 counter snat ip to 198\.51\.100\.62/,
    );
    assert.doesNotMatch(text, /snat ip6/, 'an IPv4-only cluster has no IPv6 outbound frontend');
    assert.equal(renderOutboundRoutes(v, 'a', 'add').length, 0, 'no appliance, no routes');
    // A cluster of another type has nothing in this table: the transaction only deletes it.
    assert.equal(
      renderLbOutbound(v, 'b'),
      'add table inet podnet_lbout_b\ndelete table inet podnet_lbout_b\n',
    );
  });

  it('managedNATGateway and userDefinedRouting: the subnets route internet-bound traffic to the appliance', () => {
    assert.deepEqual(renderOutboundRoutes(v, 'c', 'add'), [
      'rule add iif br4 to 203.0.113.0/24 lookup 1102 pref 1102',
      'rule add iif br5 to 203.0.113.0/24 lookup 1102 pref 1102',
      'route replace default via 192.0.2.6 dev o-c table 1102',
      'route replace 198.51.100.190/32 via 192.0.2.6 dev o-c',
    ]);
    assert.deepEqual(renderOutboundRoutes(v, 'b', 'del'), [
      'rule del iif br2 to 203.0.113.0/24 lookup 1101 pref 1101',
      'rule del iif br3 to 203.0.113.0/24 lookup 1101 pref 1101',
      'route flush table 1101',
    ]);
  });

  it('the NAT gateway SNATs what it forwards; the firewall also logs every new flow and counts', () => {
    const natgw = renderAppliance(outboundOf(v, 'b'));
    assert.match(natgw, /table ip podnet_natgw \{/);
    assert.match(natgw, /iifname "eth0" oifname "eth0" counter snat to 198\.51\.100\.126/);
    assert.doesNotMatch(natgw, /flows/);
    const fw = renderAppliance(outboundOf(v, 'c'));
    assert.match(fw, /table ip podnet_firewall \{/);
    assert.match(
      fw,
      /ct state new meta l4proto \{ tcp, udp \} update @flows \{ ip saddr \. ip daddr \. meta l4proto \. th dport \}/,
    );
    assert.match(fw, /snat to 198\.51\.100\.190/);
  });

  it("reads the firewall's log from nft's JSON", () => {
    // Real `nft -j list set ip podnet_firewall flows` output of a lab firewall (nftables 1.0.6).
    const json =
      '{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"set": {"family": "ip", "name": "flows", "table": "podnet_firewall", "type": ["ipv4_addr", "ipv4_addr", "inet_proto", "inet_service"], "handle": 3, "flags": ["timeout"], "timeout": 3600, "elem": [{"elem": {"val": {"concat": ["10.224.0.4", "203.0.113.10", "tcp", 30994]}, "expires": 3595}}, {"elem": {"val": {"concat": ["10.224.1.4", "203.0.113.10", "tcp", 30994]}, "expires": 3595}}]}}]}';
    assert.deepEqual(parseFirewallLog(json), [
      { source: '10.224.0.4', destination: '203.0.113.10', protocol: 'tcp', port: 30994 },
      { source: '10.224.1.4', destination: '203.0.113.10', protocol: 'tcp', port: 30994 },
    ]);
    assert.deepEqual(
      parseFirewallLog('{"nftables": [{"set": {"name": "flows", "type": ["ipv4_addr"]}}]}'),
      [],
      'an empty log',
    );
  });

  // AKS dual-stack: the load balancer has IPv6 outbound IPs too (--load-balancer-managed-outbound-ipv6-count),
  // and IPv6 egress is SNATed to one.
  it('a dual-stack loadBalancer cluster SNATs IPv6 egress to its IPv6 outbound frontend; the others do not', () => {
    const lb = planClusterOutbound(v, 'z', 300, 'loadBalancer', '198.51.100.64/26', true);
    assert.deepEqual([lb.publicIp, lb.publicIp6], ['198.51.100.126', '2001:db8:198:51::1fe']);
    const udr = planClusterOutbound(v, 'z', 300, 'userDefinedRouting', '198.51.100.64/26', true);
    assert.equal(udr.publicIp6, undefined, 'IPv6 egress of the other types leaves with the node address');
    const dual = {
      ...v,
      clusters: v.clusters.map((c) =>
        c.name === 'a' ? { ...c, outbound: { ...c.outbound, publicIp6: '2001:db8:198:51::3e' } } : c,
      ),
    } as typeof v;
    assert.match(
      renderLbOutbound(dual, 'a'),
      /meta nfproto ipv6 counter snat ip6 to 2001:db8:198:51::3e comment "IPv6 outbound rule of cluster a's load balancer"/,
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultLabProfile } from '../lab/default-profile.js';
import { renderVnetFirewall, vnetFirewallInput } from './firewall.js';
import { planVnetJoin } from './plan.js';

describe('VNet firewall', () => {
  it("lets pod traffic in only from the cluster's own subnets and rejects everything else to pods", () => {
    const v = planVnetJoin(
      planVnetJoin(null, 'net', 'a', defaultLabProfile('a', 0)),
      'net',
      'b',
      defaultLabProfile('b', 1),
    );
    const text = renderVnetFirewall(vnetFirewallInput(v, 4));
    assert.match(text, /iifname \{ "br0", "br1" \} ip daddr \{ 10\.244\.0\.0\/16 \} accept/);
    assert.match(text, /iifname \{ "br2", "br3" \} ip daddr \{ 10\.244\.0\.0\/16 \} accept/);
    assert.match(text, /ip daddr \{ 10\.244\.0\.0\/16 \} counter reject/);
  });

  it('merges overlapping pod CIDRs of clusters into one set element (nft refuses overlaps)', () => {
    const a = defaultLabProfile('a', 0);
    const b = defaultLabProfile('b', 1);
    b.network.podCidrs = ['10.244.0.0/15'];
    const text = renderVnetFirewall(
      vnetFirewallInput(planVnetJoin(planVnetJoin(null, 'net', 'a', a), 'net', 'b', b), 4),
    );
    assert.match(text, /ip daddr \{ 10\.244\.0\.0\/15 \} counter reject/);
  });

  it('renders the table of its address family from typed input (IPv6: table ip6, icmpv6 reject)', () => {
    const text = renderVnetFirewall({
      family: 6,
      clusters: [{ name: 'a', bridges: ['br0'], podCidrs: ['fd00:10::/48', 'fd00:10:0:1::/64'] }],
    });
    assert.match(text, /^add table ip6 podnet_lab\ndelete table ip6 podnet_lab\ntable ip6 podnet_lab \{/);
    assert.match(text, /iifname \{ "br0" \} ip6 daddr \{ fd00:10::\/48 \} accept comment "cluster a"/);
    assert.match(text, /ip6 daddr \{ fd00:10::\/48 \} counter reject with icmpv6 type admin-prohibited/);
  });

  it("takes each family's pod CIDRs only, and rejects nothing where a family has none", () => {
    const p = defaultLabProfile('a', 0);
    p.network.podCidrs = ['10.244.0.0/16', 'fd00:10::/48'];
    const v = planVnetJoin(null, 'net', 'a', p);
    assert.deepEqual(vnetFirewallInput(v, 6).clusters[0].podCidrs, ['fd00:10::/48']);
    assert.deepEqual(vnetFirewallInput(v, 4).clusters[0].podCidrs, ['10.244.0.0/16']);
    const empty = renderVnetFirewall({
      family: 6,
      clusters: [{ name: 'a', bridges: ['br0'], podCidrs: [] }],
    });
    assert.doesNotMatch(empty, /reject|accept comment/);
  });
});

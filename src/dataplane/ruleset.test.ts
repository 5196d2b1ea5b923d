import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeCidrs, normalizeListing, renderNodeRuleset, replaceTableScript } from './ruleset.js';

const GOLDEN_V4 = `table inet podnet_node {
\tset pod_cidrs_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.244.0.0/16 }
\t}
\tset nonmasq_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/8, 192.168.0.0/16 }
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr @pod_cidrs_v4 ip daddr != @pod_cidrs_v4 ip daddr != @nonmasq_v4 fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"
\t}
\tchain antispoof {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname "pnv*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"
\t}
}
`;

describe('node ruleset rendering', () => {
  it('renders SNAT and anti-spoofing for one IPv4 pod CIDR (golden)', () => {
    const text = renderNodeRuleset({
      podCidrs: ['10.244.0.0/16'],
      nonMasqueradeCidrs: ['192.168.0.0/16', '10.0.0.0/8', '10.1.0.0/16'],
    });
    assert.equal(text, GOLDEN_V4);
  });

  it('leaves the non-masquerade set without elements when the profile lists none', () => {
    const text = renderNodeRuleset({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: [] });
    assert.match(text, /set nonmasq_v4 \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\}/);
    assert.doesNotMatch(text, /elements = \{ \}/);
  });

  it('adds IPv6 sets and an ip6 masquerade rule for a dual-stack pod CIDR', () => {
    const text = renderNodeRuleset({
      podCidrs: ['10.244.0.0/16', 'fd12:3456:789a::/64'],
      nonMasqueradeCidrs: [],
    });
    assert.match(
      text,
      /set pod_cidrs_v6 \{\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\telements = \{ fd12:3456:789a::\/64 \}/,
    );
    assert.match(
      text,
      /ip6 saddr @pod_cidrs_v6 ip6 daddr != @pod_cidrs_v6 ip6 daddr != @nonmasq_v6 fib daddr type != local masquerade/,
    );
  });

  it('covers a grown pod CIDR with one set element, so growth is one atomic replace', () => {
    const text = renderNodeRuleset({ podCidrs: ['10.244.0.0/15'], nonMasqueradeCidrs: [] });
    assert.match(text, /elements = \{ 10\.244\.0\.0\/15 \}/);
  });

  it('refuses a malformed CIDR with the profile field named', () => {
    assert.throws(
      () => renderNodeRuleset({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: ['10.0.0.1/8'] }),
      (e: { code: string; field: string }) =>
        e.code === 'CidrHostBitsSet' && e.field === 'network.nonMasqueradeCidrs',
    );
  });

  it('replaces the table in one transaction: declare, delete, recreate', () => {
    const script = replaceTableScript('table inet podnet_node {\n}\n');
    assert.equal(
      script,
      'table inet podnet_node\ndelete table inet podnet_node\ntable inet podnet_node {\n}\n',
    );
  });
});

describe('normalizeCidrs', () => {
  it('drops duplicates and CIDRs nested in another, sorts by address and splits families', () => {
    const n = normalizeCidrs(
      ['10.2.0.0/16', '10.0.0.0/8', '10.0.0.0/8', '9.0.0.0/8', 'fd00::/8', 'fd00:1::/32'],
      'f',
    );
    assert.deepEqual(n, { v4: ['9.0.0.0/8', '10.0.0.0/8'], v6: ['fd00::/8'] });
  });
});

describe('normalizeListing', () => {
  it('blanks packet counters so counting is not drift, and keeps everything else', () => {
    const a = normalizeListing('iifname "pnv*" counter packets 12 bytes 1008 drop');
    assert.equal(a, 'iifname "pnv*" counter drop');
    assert.notEqual(
      normalizeListing('ip daddr 10.0.0.0/8 drop'),
      normalizeListing('ip daddr 10.0.0.0/16 drop'),
    );
  });
});

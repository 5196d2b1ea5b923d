import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  antiSpoofSection,
  guardSection,
  nodeTableInput,
  normalizeCidrs,
  renderNodeTable,
  snatSection,
} from './ruleset.js';

const GOLDEN_V4 = `table inet podnet_node {
\tchain antispoof_prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tmeta nfproto ipv4 iifname "pnv*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"
\t}
\tset snat_pod_cidrs_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.244.0.0/16 }
\t}
\tset snat_nonmasq_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/8, 192.168.0.0/16 }
\t}
\tchain snat_postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr @snat_pod_cidrs_v4 ip daddr != @snat_pod_cidrs_v4 ip daddr != @snat_nonmasq_v4 fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"
\t}
}
`;

// The dual-stack pod CIDR AKS documents (reference/azure-overlay.md: 10.244.0.0/16,fd12:3456:789a::/64).
const GOLDEN_DUAL = `table inet podnet_node {
\tchain antispoof_prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tmeta nfproto ipv4 iifname "pnv*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"
\t\tmeta nfproto ipv6 iifname "pnv*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"
\t}
\tset snat_pod_cidrs_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.244.0.0/16 }
\t}
\tset snat_nonmasq_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t}
\tset snat_pod_cidrs_v6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\telements = { fd12:3456:789a::/64 }
\t}
\tset snat_nonmasq_v6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\telements = { fd00:1::/32 }
\t}
\tchain snat_postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr @snat_pod_cidrs_v4 ip daddr != @snat_pod_cidrs_v4 ip daddr != @snat_nonmasq_v4 fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"
\t\tip6 saddr @snat_pod_cidrs_v6 ip6 daddr != @snat_pod_cidrs_v6 ip6 daddr != @snat_nonmasq_v6 fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"
\t}
}
`;

describe('node table rendering', () => {
  it('renders anti-spoofing then SNAT for one IPv4 pod CIDR (golden)', () => {
    const input = nodeTableInput({
      podCidrs: ['10.244.0.0/16'],
      nonMasqueradeCidrs: ['192.168.0.0/16', '10.0.0.0/8', '10.1.0.0/16'],
    });
    assert.equal(renderNodeTable(input), GOLDEN_V4);
  });

  it('renders both families of a dual-stack cluster in the one inet table (golden)', () => {
    const input = nodeTableInput({
      podCidrs: ['fd12:3456:789a::/64', '10.244.0.0/16'],
      nonMasqueradeCidrs: ['fd00:1::/32'],
    });
    assert.equal(renderNodeTable(input), GOLDEN_DUAL);
  });

  it('leaves the non-masquerade set without elements when the profile lists none', () => {
    const text = renderNodeTable(nodeTableInput({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: [] }));
    assert.match(text, /set snat_nonmasq_v4 \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\}/);
    assert.doesNotMatch(text, /elements = \{ \}/);
  });

  it('covers a grown pod CIDR with one set element, so growth is one atomic replace', () => {
    const text = renderNodeTable(nodeTableInput({ podCidrs: ['10.244.0.0/15'], nonMasqueradeCidrs: [] }));
    assert.match(text, /elements = \{ 10\.244\.0\.0\/15 \}/);
  });
});

describe('node table input', () => {
  it('splits the profile CIDRs per family, a family only when it has pod CIDRs', () => {
    assert.deepEqual(
      nodeTableInput({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: ['fd00::/8', '192.168.0.0/16'] }),
      {
        antiSpoof: { families: [4] },
        guard: { storeEndpoints: [] },
        snat: {
          families: [{ family: 4, podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: ['192.168.0.0/16'] }],
        },
        services: { selfNode: '', families: [{ family: 4, podCidrs: ['10.244.0.0/16'], entries: [] }] },
        policy: { families: [4], classes: [], egress: [], ingress: [], self: [] },
      },
    );
  });

  // Issue 14, fault 1: from inside a pod, one HTTP PUT to the lab etcd's gateway API rewrote another node's lease.
  it('guard: drops pod traffic to the store endpoints on forward and input, per family; nothing for a file store', () => {
    const s = guardSection({
      storeEndpoints: [
        { family: 4, ip: '10.224.0.1', port: 2379 },
        { family: 4, ip: '10.224.1.1', port: 2379 },
        { family: 6, ip: 'fd00::1', port: 2379 },
      ],
    });
    assert.deepEqual(
      s.chains.map((c) => [c.name, c.base?.hook, c.base?.priority]),
      [
        ['guard_forward', 'forward', 'filter'],
        ['guard_input', 'input', 'filter'],
      ],
    );
    assert.deepEqual(s.chains[0].rules, [
      'meta nfproto ipv4 iifname "pnv*" ip daddr . tcp dport { 10.224.0.1 . 2379, 10.224.1.1 . 2379 } counter drop comment "podnet: pods never reach the cluster store"',
      'meta nfproto ipv6 iifname "pnv*" ip6 daddr . tcp dport { fd00::1 . 2379 } counter drop comment "podnet: pods never reach the cluster store"',
    ]);
    assert.deepEqual(guardSection({ storeEndpoints: [] }).chains, []);
  });

  it('refuses a malformed CIDR with the profile field named', () => {
    assert.throws(
      () => nodeTableInput({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: ['10.0.0.1/8'] }),
      (e: { code: string; field: string }) =>
        e.code === 'CidrHostBitsSet' && e.field === 'network.nonMasqueradeCidrs',
    );
  });
});

describe('node table sections', () => {
  it('SNAT: one pair of interval sets and one masquerade rule per family, at nat postrouting srcnat', () => {
    const s = snatSection({
      families: [{ family: 6, podCidrs: ['fd12:3456:789a::/64'], nonMasqueradeCidrs: [] }],
    });
    assert.deepEqual(
      s.sets.map((x) => [x.name, x.type, x.interval]),
      [
        ['snat_pod_cidrs_v6', 'ipv6_addr', true],
        ['snat_nonmasq_v6', 'ipv6_addr', true],
      ],
    );
    assert.deepEqual(s.chains[0].base, { type: 'nat', hook: 'postrouting', priority: 'srcnat' });
    assert.equal(s.chains[0].rules.length, 1);
    assert.match(s.chains[0].rules[0], /^ip6 saddr @snat_pod_cidrs_v6 .* masquerade /);
  });

  it('anti-spoofing: one reverse-path rule per family at filter prerouting raw, before conntrack', () => {
    const s = antiSpoofSection({ families: [4, 6] });
    assert.deepEqual(s.sets, []);
    assert.deepEqual(s.chains[0].base, { type: 'filter', hook: 'prerouting', priority: 'raw' });
    assert.deepEqual(
      s.chains[0].rules.map((r) => r.split(' iifname')[0]),
      ['meta nfproto ipv4', 'meta nfproto ipv6'],
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

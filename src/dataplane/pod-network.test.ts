import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOwnerAlias, podLinkNames, renderPodPlumbing } from './pod-network.js';

describe('pod network rendering', () => {
  it('names the host veth pnv + 12 hex (15 chars) and is stable per attachment', () => {
    const a = podLinkNames('b9f5cd23e443', 'eth0');
    assert.match(a.hostVeth, /^pnv[0-9a-f]{12}$/);
    assert.deepEqual(podLinkNames('b9f5cd23e443', 'eth0'), a);
    assert.notEqual(podLinkNames('b9f5cd23e443', 'net1').hostVeth, a.hostVeth);
  });

  it('gives locally administered unicast MACs', () => {
    const { hostMac, podMac } = podLinkNames('c1', 'eth0');
    for (const mac of [hostMac, podMac]) {
      assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = Number.parseInt(mac.slice(0, 2), 16);
      assert.equal(first & 1, 0, 'unicast');
      assert.equal(first & 2, 2, 'locally administered');
    }
    assert.notEqual(hostMac, podMac);
  });

  it('renders the transparent-mode plumbing', () => {
    const n = podLinkNames('c1', 'eth0');
    const r = renderPodPlumbing({
      containerId: 'c1',
      ifname: 'eth0',
      netns: '/run/netns/p1',
      ip: '10.244.3.17',
      mtu: 1450,
    });
    assert.deepEqual(r.node, [
      `link add ${n.hostVeth} mtu 1450 address ${n.hostMac} type veth peer name eth0 mtu 1450 address ${n.podMac} netns /run/netns/p1`,
      `link set dev ${n.hostVeth} alias podnet:c1/eth0 up`,
      `route add 10.244.3.17/32 dev ${n.hostVeth} scope link`,
    ]);
    assert.deepEqual(r.pod, [
      'addr add 10.244.3.17/32 dev eth0',
      'link set dev eth0 up',
      'route add 169.254.1.1/32 dev eth0 scope link src 10.244.3.17',
      'route add default via 169.254.1.1 dev eth0 src 10.244.3.17',
      `neigh replace 169.254.1.1 lladdr ${n.hostMac} dev eth0 nud permanent`,
    ]);
  });

  it('renders the IPv6 twin for a dual-stack pod: /128s without DAD, the link-local gateway on the host veth', () => {
    // reference/azure-overlay.md: IPv6 gateway fe80::1234:5678:9abc, /128 link route, default via it, permanent neighbour.
    const n = podLinkNames('c1', 'eth0');
    const r = renderPodPlumbing({
      containerId: 'c1',
      ifname: 'eth0',
      netns: '/run/netns/p1',
      ip: '10.244.3.17',
      ip6: 'fd12:3456:789a::311',
      mtu: 1450,
    });
    assert.deepEqual(r.node.slice(3), [
      `addr add fe80::1234:5678:9abc/64 dev ${n.hostVeth} nodad`,
      `route add fd12:3456:789a::311/128 dev ${n.hostVeth}`,
    ]);
    assert.deepEqual(
      r.pod.filter((l) => l.includes(':')),
      [
        'addr add fd12:3456:789a::311/128 dev eth0 nodad',
        `neigh replace 169.254.1.1 lladdr ${n.hostMac} dev eth0 nud permanent`,
        'route add fe80::1234:5678:9abc/128 dev eth0',
        'route add ::/0 via fe80::1234:5678:9abc dev eth0 src fd12:3456:789a::311',
        `neigh replace fe80::1234:5678:9abc lladdr ${n.hostMac} dev eth0 nud permanent`,
      ],
    );
    assert.ok(
      r.pod.indexOf('addr add fd12:3456:789a::311/128 dev eth0 nodad') <
        r.pod.indexOf('link set dev eth0 up'),
    );
  });

  it('reads the owner back from the alias and ignores foreign links', () => {
    assert.deepEqual(parseOwnerAlias('podnet:abc.1-x/eth0'), { containerId: 'abc.1-x', ifname: 'eth0' });
    assert.equal(parseOwnerAlias('something else'), null);
    assert.equal(parseOwnerAlias(undefined), null);
    assert.equal(parseOwnerAlias('podnet:/eth0'), null);
  });
});

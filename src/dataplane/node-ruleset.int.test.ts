/**
 * podnet's node table in a real kernel (a throw-away namespace): applied once, left alone while it matches,
 * converged back after a hand delete or edit, replaced on a pod CIDR change, all sections or none; a foreign
 * table is never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipBatch } from '../kernel/ip.js';
import { nftApply, nftDeleteTable, nftListTable } from '../kernel/nft.js';
import { execInNetns } from '../kernel/process.js';
import { readSysctl } from '../kernel/sysctl.js';
import { type NetnsScope, netnsScope } from '../testing/netns-fixture.js';
import { ensureIpForwarding } from './forwarding.js';
import { renderTable, replaceTableScript } from './nft-table.js';
import { NodeRuleset } from './node-ruleset.js';
import { NODE_TABLE, antiSpoofSection, nodeTableInput } from './ruleset.js';

let scope: NetnsScope;
let netns: string;
const input = nodeTableInput({ podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: ['192.168.0.0/16'] });

describe('node ruleset in the kernel', () => {
  before(async () => {
    scope = netnsScope('pr');
    netns = await scope.add('node');
    // Someone else's table in the same namespace: must survive everything below.
    await nftApply(
      'table ip foreign {\n\tchain c {\n\t\ttype filter hook forward priority 0; policy accept;\n\t}\n}\n',
      {
        netns,
      },
    );
  });

  after(async () => {
    await scope.cleanup();
  });

  const list = () => nftListTable(NODE_TABLE.family, NODE_TABLE.name, { netns });

  it('applies the table once, then leaves a matching table alone', async () => {
    const rs = new NodeRuleset({ netns });
    assert.equal(await list(), null);
    assert.equal(await rs.ensure(input), 'applied');
    assert.match((await list()) ?? '', /elements = \{ 10\.244\.0\.0\/16 \}/);
    assert.equal(await rs.ensure(input), 'unchanged');
  });

  it('re-creates a hand-deleted table and removes a hand-added rule', async () => {
    const rs = new NodeRuleset({ netns });
    await rs.ensure(input);
    await nftDeleteTable(NODE_TABLE.family, NODE_TABLE.name, { netns });
    assert.equal(await list(), null);
    assert.equal(await rs.ensure(input), 'repaired');
    assert.notEqual(await list(), null);
    await nftApply(
      `add rule ${NODE_TABLE.family} ${NODE_TABLE.name} snat_postrouting ip daddr 1.2.3.4 accept\n`,
      {
        netns,
      },
    );
    assert.equal(await rs.ensure(input), 'repaired');
    assert.doesNotMatch((await list()) ?? '', /1\.2\.3\.4/);
  });

  it('does not count packet counters as drift', async () => {
    const rs = new NodeRuleset({ netns });
    await rs.ensure(input);
    // A spoofed packet from a pod veth bumps the anti-spoofing counter.
    await ipBatch(
      [
        'link add pnvtest0 type veth peer name pnvtest1',
        'link set pnvtest0 up',
        'link set pnvtest1 up',
        'link set pnvtest0 address 02:00:00:00:00:01',
        'addr add 10.9.9.9/32 dev pnvtest1',
        'route add 10.9.9.10/32 dev pnvtest1',
        'neigh add 10.9.9.10 lladdr 02:00:00:00:00:01 dev pnvtest1',
      ],
      netns,
    );
    await execInNetns(netns, ['ping', '-c', '1', '-W', '1', '-I', '10.9.9.9', '10.9.9.10']);
    assert.doesNotMatch((await list()) ?? '', /counter packets 0 bytes 0 drop/);
    assert.equal(await rs.ensure(input), 'unchanged');
  });

  it('replaces the table when the pod CIDR grows, in one transaction', async () => {
    const rs = new NodeRuleset({ netns });
    await rs.ensure(input);
    const grown = nodeTableInput({ podCidrs: ['10.244.0.0/15'], nonMasqueradeCidrs: ['192.168.0.0/16'] });
    assert.equal(await rs.ensure(grown), 'applied');
    assert.match((await list()) ?? '', /elements = \{ 10\.244\.0\.0\/15 \}/);
  });

  it('loads a dual-stack table (IPv4 and IPv6 masquerade in one inet table)', async () => {
    const rs = new NodeRuleset({ netns });
    await rs.ensure(
      nodeTableInput({
        podCidrs: ['10.244.0.0/16', 'fd12:3456:789a::/64'],
        nonMasqueradeCidrs: ['fd00:1::/32'],
      }),
    );
    const l = (await list()) ?? '';
    assert.match(l, /elements = \{ fd12:3456:789a::\/64 \}/);
    assert.match(
      l,
      /ip6 saddr @snat_pod_cidrs_v6 ip6 daddr != @snat_pod_cidrs_v6 ip6 daddr != @snat_nonmasq_v6/,
    );
    assert.match(l, /meta nfproto ipv6 iifname "pnv\*" fib saddr \. iif oif missing/);
  });

  it('applies all sections in one transaction: a section nft refuses leaves the old table whole', async () => {
    const rs = new NodeRuleset({ netns });
    await rs.ensure(input);
    const before = await list();
    const broken = {
      name: 'broken',
      sets: [],
      chains: [{ name: 'broken_c', rules: ['ip daddr @broken_missing_set drop'] }],
    };
    const text = renderTable(NODE_TABLE, [antiSpoofSection({ families: [4, 6] }), broken]);
    await assert.rejects(nftApply(replaceTableScript(NODE_TABLE, text), { netns }));
    assert.equal(await list(), before);
    assert.equal(await rs.ensure(input), 'unchanged');
  });

  it('never touches a foreign table', async () => {
    assert.notEqual(await nftListTable('ip', 'foreign', { netns }), null);
  });

  it('turns IPv4 forwarding on in the node namespace only', async () => {
    const before = await readSysctl('net/ipv4/ip_forward');
    assert.equal(await ensureIpForwarding({ netns }), true);
    assert.equal(await readSysctl('net/ipv4/ip_forward', netns), '1');
    assert.equal(await ensureIpForwarding({ netns }), false);
    assert.equal(await readSysctl('net/ipv4/ip_forward'), before);
  });
});

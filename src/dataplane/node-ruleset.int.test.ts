/**
 * podnet's node table in a real kernel (a throw-away namespace): applied once, left alone while it matches,
 * converged back after a hand delete or edit, replaced on a pod CIDR change, all sections or none; a foreign
 * table is never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipBatch } from '../kernel/ip.js';
import { nftApply, nftDeleteTable, nftListTable, nftListTableJson } from '../kernel/nft.js';
import { execInNetns } from '../kernel/process.js';
import { readSysctl } from '../kernel/sysctl.js';
import { defaultNetworkPolicy } from '../policy/defaults.js';
import { compilePolicies } from '../policy/engine.js';
import { compileNodePolicy } from '../policy/nft.js';
import type { NetworkPolicy, PolicyPod, PolicyWorld } from '../policy/types.js';
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

  it('sends a policy change as element and chain edits, leaving the kernel as a fresh write of the same table would', async () => {
    const pod = (name: string, ip: string, node: string, labels: Record<string, string>): PolicyPod => ({
      namespace: 'shop',
      name,
      labels,
      ips: [ip],
      node,
      ports: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }],
    });
    const policy = (name: string, spec: NetworkPolicy['spec']) =>
      defaultNetworkPolicy({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name, namespace: 'shop' },
        spec,
      });
    const deny = policy('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const web = policy('web', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'web' }] }],
    });
    const tableOf = (pods: PolicyPod[], policies: NetworkPolicy[]) => {
      const world: PolicyWorld = { namespaces: new Map([['shop', {}]]), pods, policies };
      return { ...input, policy: compileNodePolicy(compilePolicies(world), pods, 'n1', [4]) };
    };
    const pods = [
      pod('web', '10.244.0.5', 'n1', { app: 'web' }),
      pod('c1', '10.244.1.5', 'n2', { role: 'client' }),
    ];
    const a = tableOf(pods, [deny, web]);
    const b = tableOf([...pods, pod('c2', '10.244.1.6', 'n2', { role: 'client' })], [deny]);
    /** The table as data, chains and sets by name (the order nft lists them in follows creation). */
    const contents = async (ns: string) => {
      const j = await nftListTableJson(NODE_TABLE.family, NODE_TABLE.name, { netns: ns });
      assert.ok(j);
      const sets = [...j.sets, ...j.maps].map((x) => [x.name, x.type, JSON.stringify(x.elem ?? [])]);
      const rules = j.rules.map((r) => [r.chain, JSON.stringify(r.expr)]);
      const chains = j.chains.map((c) => [c.name, c.hook ?? null]);
      const byName = (x: unknown[], y: unknown[]) => String(x[0]).localeCompare(String(y[0]));
      return { sets: sets.sort(byName), chains: chains.sort(byName), rules: rules.sort(byName) };
    };
    const fresh = await scope.add('fresh');
    for (const [from, to] of [
      [input, a],
      [a, b],
      [b, a],
    ]) {
      const rs = new NodeRuleset({ netns });
      await nftDeleteTable(NODE_TABLE.family, NODE_TABLE.name, { netns });
      await rs.ensure(from);
      assert.equal(await rs.ensure(to), 'applied');
      assert.equal(rs.lastWrite?.mode, 'edit', 'edits, not a rewrite');
      await nftDeleteTable(NODE_TABLE.family, NODE_TABLE.name, { netns: fresh });
      await new NodeRuleset({ netns: fresh }).ensure(to);
      assert.deepEqual(await contents(netns), await contents(fresh));
      assert.equal(await rs.ensure(to), 'unchanged');
    }
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

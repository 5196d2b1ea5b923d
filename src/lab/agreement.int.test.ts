/**
 * Agreement, for real: one dual-stack lab (three nodes on two pools and subnets, pods in two namespaces, the
 * outside hosts), NSGs applied to its store as `az network nsg show -o json` prints them (several features at once:
 * a subnet NSG and a NIC NSG, priorities overriding each other, service tags VirtualNetwork and Internet, port
 * ranges, Tcp/Udp/Icmp/`*`, inbound and outbound), then NetworkPolicies on top (namespace and pod selectors
 * ANDed, matchExpressions, a named port, endPort, ipBlock with except, ingress and egress), and every pod pair,
 * node, outside host, port and protocol probed for real (TCP, UDP, ICMP) through the lab: NSGs enforced by the
 * VNet, policies by the nodes. Every probe must agree with `podnet trace` over the same objects (the lab's
 * store); a disagreement is listed with trace's reason. Every matrix runs over the ends' IPv4 addresses and
 * again over their IPv6 ones (issue 12), with NSG rules and ipBlocks of each family. NetworkPolicy semantics:
 * kubernetes.io/docs/concepts/services-networking/network-policies (e2e "should allow ingress access on one
 * named port", "should enforce policy based on PodSelector and NamespaceSelector", "should enforce except clause
 * while egress access to server in CIDR block", "should support a 'default-deny-ingress' policy").
 * NSG semantics: learn.microsoft.com/azure/virtual-network/network-security-groups-overview and
 * network-security-group-how-it-works (priority order, first match, subnet then NIC inbound, NIC then subnet
 * outbound, intra-subnet traffic evaluated, stateful: "removing a rule doesn't interrupt existing connections").
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nftListTable } from '../kernel/nft.js';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../kernel/process.js';
import { decodeManifest } from '../objects/decode.js';
import { applyDocuments } from '../objects/store.js';
import type { ContainerPort } from '../objects/types.js';
import { openStore, openVersionedStore } from '../store/open.js';
import { type TraceFlow, compileWorld, trace } from '../trace/trace.js';
import { worldFromStore } from '../trace/world.js';
import type { Vnet } from '../vnet/model.js';
import { vnetNsgTable } from '../vnet/nsg-nft.js';
import { decisionText } from './check.js';
import { defaultLabProfile } from './default-profile.js';
import { labDown, labPodAdd, labUp } from './lab.js';
import { clusterDir } from './names.js';
import { waitFor } from './processes.js';
import { readLab, readVnet, requireLab } from './state.js';

const name = `nsg${randomBytes(2).toString('hex')}`;
const ID = '/subscriptions/0000/resourceGroups/lab/providers/Microsoft.Network';
/** Probes run this many at a time; each is bounded by its own 1 s timeout (and a 5 s kill). */
const PARALLEL = 16;

type Proto = 'TCP' | 'UDP' | 'ICMP';
interface Target {
  /** How trace names it (`NS/POD` or an address), and what its responder answers (`NS/POD`), if it has one. */
  at: string;
  ip: string;
  /** Its IPv6 address (the lab is dual-stack): the IPv6 matrix probes it, and trace names it by it. */
  ip6: string;
  netns: string;
  answers?: string;
}
interface Probe {
  from: Target;
  to: Target;
  protocol: Proto;
  port?: number;
}

const PORTS: ContainerPort[] = [80, 81].flatMap((port) =>
  (['TCP', 'UDP'] as const).map((protocol) => ({
    name: `serve-${port}-${protocol.toLowerCase()}`,
    containerPort: port,
    protocol,
  })),
);
const POD_PROBES: [Proto, number?][] = [['TCP', 80], ['TCP', 81], ['UDP', 80], ['UDP', 81], ['ICMP']];

/** One probe for real: did the packet get through (and, for TCP and UDP, reach the one it was meant for)? */
async function passes(p: Probe): Promise<boolean> {
  const opts = { timeoutMs: 5000 };
  if (p.protocol === 'ICMP') {
    return (await execInNetns(p.from.netns, ['ping', '-c', '1', '-W', '1', p.to.ip], opts)).code === 0;
  }
  const udp = p.protocol === 'UDP' ? ['-u'] : [];
  const r = await execInNetns(p.from.netns, ['nc', ...udp, '-w', '1', p.to.ip, String(p.port)], {
    ...opts,
    input: udp.length ? 'probe\n' : '',
  });
  return r.stdout.split('\n').includes(p.to.answers ?? '');
}

async function inParallel<T, R>(items: T[], fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/** Applies az-shaped documents to the lab's store, as `podnet apply -f nsgs.json --lab` does. */
async function apply(docs: unknown[]): Promise<void> {
  const kv = await openVersionedStore(requireLab(name).store.url);
  try {
    const decoded = decodeManifest(JSON.stringify(docs), 'agreement.json');
    assert.deepEqual(decoded.problems, []);
    await applyDocuments(kv, decoded);
  } finally {
    await kv.close();
  }
}

/** Waits until the VNet's NSG table names every rule given (the enforcer follows the store). */
async function enforced(vnet: Vnet, rules: string[]): Promise<void> {
  const t = vnetNsgTable(name);
  await waitFor('the VNet to enforce the NSGs', 15_000, async () => {
    const text = (await nftListTable(t.family, t.name, { netns: vnet.netns })) ?? '';
    return rules.every((r) => text.includes(`"${r} `)) ? true : undefined;
  });
}

/** The rules the first test's NSGs name, of both families: the VNet enforces them all before any probe. */
const NSG_RULES = [
  'udp-81-in',
  'no-sys1-pods',
  'no-sys1-pods6',
  'no-ping-in',
  'no-web-out',
  'no-user-81',
  'no-user6-81',
  'no-udp80-out',
  'no-udp80-out6',
  'no-sys1-ping',
  'no-sys1-ping6',
];

const rule = (r: Record<string, unknown>) => ({
  protocol: '*',
  sourceAddressPrefix: '*',
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRange: '*',
  ...r,
});

/** Every probe against trace's verdict over the lab's store: the disagreements, each with trace's reason. */
async function disagreements(probes: Probe[]) {
  const world = await worldFromStore(requireLab(name).store.url);
  const compiled = compileWorld(world);
  const results = await inParallel(probes, async (p) => {
    const flow: TraceFlow = {
      from: p.from.at,
      to: p.to.at,
      protocol: p.protocol,
      state: 'new',
      ...(p.port === undefined ? {} : { port: p.port }),
    };
    const expected = trace(world, flow, compiled);
    const got = (await passes(p)) ? 'allow' : 'deny';
    return { probe: `${p.from.at} -> ${p.to.at} ${p.protocol}${p.port ? `/${p.port}` : ''}`, expected, got };
  });
  return {
    results,
    wrong: results
      .filter((r) => r.expected.verdict !== r.got)
      .map((r) => `${r.probe}: trace ${r.expected.verdict} (${decisionText(r.expected)}), probe ${r.got}`),
  };
}

describe('NSGs in the lab VNet agree with podnet trace', { concurrency: false }, () => {
  let vnet: Vnet;
  let pods: Record<string, Target>;
  let nodes: Record<string, Target & { block: string; block6: string }>;
  let outsideHosts: Target[];
  const responders: NetnsProcess[] = [];

  before(async () => {
    // Dual-stack (issue 12), so the NSGs are probed in both families: sys-0, sys-1 and user-0.
    await labUp({ name, profile: defaultLabProfile(name, 0, { dualStack: true }), podsPerNode: 0 });
    const layout: [string, string, string][] = [
      ['x', 'a', 'sys-0'],
      ['x', 'b', 'sys-1'],
      ['y', 'c', 'user-0'],
      ['y', 'd', 'sys-0'],
    ];
    pods = {};
    for (const [ns, pod, node] of layout) {
      const p = await labPodAdd(name, node, { namespace: ns, name: pod, labels: { pod }, ports: PORTS });
      pods[pod] = {
        at: `${ns}/${pod}`,
        ip: p.ip as string,
        ip6: p.ip6 as string,
        netns: p.netns,
        answers: `${ns}/${pod}`,
      };
    }
    const store = await openStore(requireLab(name).store.url);
    const leases = await store.listBlocks().finally(() => store.close());
    const blockOf = (node: string, v6: boolean) =>
      leases.find((l) => l.nodeName === node && l.block.includes(':') === v6)?.block as string;
    nodes = Object.fromEntries(
      requireLab(name).nodes.map((n) => [
        n.name,
        {
          at: n.ip,
          ip: n.ip,
          ip6: n.ip6 as string,
          netns: n.netns,
          block: blockOf(n.name, false),
          block6: blockOf(n.name, true),
        },
      ]),
    );
    vnet = readVnet(requireLab(name).vnet) as Vnet;
    // The outside hosts answer like pods do, with their own name.
    const responder = fileURLToPath(new URL('./responder.js', import.meta.url));
    outsideHosts = vnet.externalHosts.map((h) => {
      responders.push(
        spawnInNetns(h.netns, [
          process.execPath,
          responder,
          `${requireLab(name).dir}/`,
          `external/${h.name}`,
          'TCP:80',
          'UDP:80',
        ]),
      );
      return { at: h.ip, ip: h.ip, ip6: h.ip6 as string, netns: h.netns, answers: `external/${h.name}` };
    });
    // Every listener up before the first probe: a pod to itself needs no VNet.
    await waitFor('the responders', 15_000, async () => {
      const all = [...Object.values(pods), ...outsideHosts];
      const up = await Promise.all(
        [...all, ...all.map(v6)].map((t) => passes({ from: t, to: t, protocol: 'TCP', port: 80 })),
      );
      return up.every(Boolean) ? true : undefined;
    });
  });

  /** One end in IPv6: its IPv6 address, which trace is given for it too. */
  const v6 = <T extends Target>(t: T): T => ({ ...t, at: t.ip6, ip: t.ip6 });

  /**
   * Every pod to every other pod, nodes to every pod, pods to and from the outside hosts, node to node: over
   * the ends' IPv4 addresses, or (family 6) their IPv6 ones.
   */
  const matrix = (family: 4 | 6 = 4): Probe[] => {
    const pick = <T extends Target>(t: T) => (family === 6 ? v6(t) : t);
    const [sys0, sys1, user0] = [nodes['sys-0'], nodes['sys-1'], nodes['user-0']].map(pick);
    const podList = Object.values(pods).map(pick);
    const outside = outsideHosts.map(pick);
    const each = (from: Target[], to: Target[], protos: [Proto, number?][]) =>
      from.flatMap((f) =>
        to
          .filter((t) => t !== f)
          .flatMap((t) => protos.map(([protocol, port]) => ({ from: f, to: t, protocol, port }))),
      );
    return [
      ...each(podList, podList, POD_PROBES),
      ...each([sys1, user0], podList, POD_PROBES),
      ...each(podList, outside, [['TCP', 80], ['UDP', 80], ['ICMP']]),
      ...each(outside, podList, [['TCP', 80], ['ICMP']]),
      ...each([sys0, sys1], [sys0, sys1], [['ICMP']]),
      ...each([user0], [sys0], [['ICMP']]),
    ];
  };

  after(async () => {
    for (const r of responders) r.kill('SIGKILL');
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name);
  });

  it('every pod pair, node, outside host, port and protocol gets the verdict trace gives', async () => {
    const { sys0, sys1, user0 } = { sys0: nodes['sys-0'], sys1: nodes['sys-1'], user0: nodes['user-0'] };
    const nsgs = [
      {
        name: 'user-nsg',
        type: 'Microsoft.Network/networkSecurityGroups',
        location: 'westeurope',
        securityRules: [
          // Priorities decide: UDP 81 from the VNet is let in before the deny of sys-1's pods below.
          rule({
            name: 'udp-81-in',
            priority: 100,
            direction: 'Inbound',
            access: 'Allow',
            protocol: 'Udp',
            sourceAddressPrefix: 'VirtualNetwork',
            destinationPortRange: '81',
          }),
          rule({
            name: 'no-sys1-pods',
            priority: 200,
            direction: 'Inbound',
            access: 'Deny',
            sourceAddressPrefixes: [sys1.block],
            sourceAddressPrefix: undefined,
            destinationPortRange: '80-81',
          }),
          // The IPv6 twin: an NSG rule's prefixes are of one family, and match that family's packets only.
          rule({
            name: 'no-sys1-pods6',
            priority: 210,
            direction: 'Inbound',
            access: 'Deny',
            sourceAddressPrefixes: [sys1.block6],
            sourceAddressPrefix: undefined,
            destinationPortRange: '80-81',
          }),
          // Icmp is ICMPv6 for IPv6 packets; Internet below is "not VirtualNetwork" in each family.
          rule({ name: 'no-ping-in', priority: 300, direction: 'Inbound', access: 'Deny', protocol: 'Icmp' }),
          rule({
            name: 'no-web-out',
            priority: 400,
            direction: 'Outbound',
            access: 'Deny',
            protocol: 'Tcp',
            destinationAddressPrefix: 'Internet',
            destinationPortRange: '80',
          }),
        ],
        subnets: [{ id: `${ID}/virtualNetworks/lab-vnet/subnets/${name}-user` }],
      },
      {
        name: 'sys0-nsg',
        type: 'Microsoft.Network/networkSecurityGroups',
        securityRules: [
          rule({
            name: 'no-user-81',
            priority: 100,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Tcp',
            sourceAddressPrefix: undefined,
            sourceAddressPrefixes: [user0.ip, user0.block],
            destinationPortRange: '81',
          }),
          rule({
            name: 'no-user6-81',
            priority: 105,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Tcp',
            sourceAddressPrefix: undefined,
            sourceAddressPrefixes: [user0.ip6, user0.block6],
            destinationPortRange: '81',
          }),
          rule({
            name: 'no-udp80-out',
            priority: 110,
            direction: 'Outbound',
            access: 'Deny',
            protocol: 'Udp',
            destinationAddressPrefix: '10.244.0.0/16',
            destinationPortRange: '80',
          }),
          rule({
            name: 'no-udp80-out6',
            priority: 111,
            direction: 'Outbound',
            access: 'Deny',
            protocol: 'Udp',
            destinationAddressPrefix: 'fd12:3456:789a::/64',
            destinationPortRange: '80',
          }),
          // Node to node inside the sys subnet: bridged, not routed, and evaluated all the same.
          rule({
            name: 'no-sys1-ping',
            priority: 120,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Icmp',
            sourceAddressPrefix: sys1.ip,
          }),
          // The same in IPv6: bridged IPv6 meets the NSGs too (bridge-nf-call-ip6tables), after NDP passed.
          rule({
            name: 'no-sys1-ping6',
            priority: 121,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Icmp',
            sourceAddressPrefix: sys1.ip6,
          }),
        ],
        networkInterfaces: [{ id: `${ID}/networkInterfaces/sys-0-nic` }],
      },
      {
        name: 'sys-0-nic',
        type: 'Microsoft.Network/networkInterfaces',
        // A dual-stack NIC has an IPv6 configuration beside the IPv4 one, as Azure gives it.
        ipConfigurations: [
          { name: 'ipconfig1', privateIPAddress: sys0.ip },
          { name: 'ipconfig6', privateIPAddress: sys0.ip6, privateIPAddressVersion: 'IPv6' },
        ],
        networkSecurityGroup: { id: `${ID}/networkSecurityGroups/sys0-nsg` },
      },
    ];
    await apply(nsgs);
    await enforced(vnet, NSG_RULES);

    const probes = matrix();
    const { results, wrong } = await disagreements(probes);
    assert.deepEqual(wrong, [], 'every probe agrees with podnet trace');
    // The probes exercised the NSGs: each rule that denies decided some probe, and traffic was allowed too.
    const deciders = new Set(results.flatMap((r) => r.expected.decidedBy.map((d) => d.rule)));
    for (const r of [
      'no-sys1-pods',
      'no-ping-in',
      'no-web-out',
      'no-user-81',
      'no-udp80-out',
      'no-sys1-ping',
    ])
      assert.ok(deciders.has(r), `some probe was denied by ${r}`);
    assert.ok(deciders.has('udp-81-in') && deciders.has('AllowVnetInBound'), 'and some allowed by rules');
    for (const r of ['no-sys1-pods6', 'no-user6-81', 'no-udp80-out6', 'no-sys1-ping6'])
      assert.ok(!deciders.has(r), `the IPv6 rule ${r} decides no IPv4 probe`);
    assert.ok(results.some((r) => r.expected.decidedBy.some((d) => d.rule === 'pod-cidr-not-routed')));
    assert.ok(results.filter((r) => r.got === 'allow').length > 30, 'most traffic still flows');
  });

  // Issue 12: the same NSGs over the ends' IPv6 addresses. The IPv6 rules decide here, the IPv4-only ones
  // (no-sys1-pods, no-user-81, no-udp80-out, no-sys1-ping) let IPv6 through, and NDP is never an NSG's.
  it('in IPv6 too: every probe of the matrix over IPv6 addresses gets the verdict trace gives', async () => {
    const { results, wrong } = await disagreements(matrix(6));
    assert.deepEqual(wrong, [], 'every IPv6 probe agrees with podnet trace');
    const deciders = new Set(results.flatMap((r) => r.expected.decidedBy.map((d) => d.rule)));
    for (const r of [
      'no-sys1-pods6',
      'no-ping-in',
      'no-web-out',
      'no-user6-81',
      'no-udp80-out6',
      'no-sys1-ping6',
    ])
      assert.ok(deciders.has(r), `some IPv6 probe was denied by ${r}`);
    for (const r of ['no-sys1-pods', 'no-user-81', 'no-udp80-out', 'no-sys1-ping'])
      assert.ok(!deciders.has(r), `the IPv4 rule ${r} decides no IPv6 probe`);
    assert.ok(results.some((r) => r.expected.decidedBy.some((d) => d.rule === 'pod-cidr-not-routed')));
    assert.ok(results.filter((r) => r.got === 'allow').length > 30, 'most IPv6 traffic still flows');
  });

  it('is stateful: a connection admitted before a deny keeps working, a new one is refused', async () => {
    const [from, to] = [pods.b, pods.c];
    // A long-lived TCP connection b -> c:90, echoing what it is sent.
    const echo = spawnInNetns(to.netns, [
      process.execPath,
      '-e',
      "require('net').createServer((s) => s.pipe(s)).listen(90, '0.0.0.0'); setTimeout(() => process.exit(0), 60000)",
    ]);
    responders.push(echo);
    await waitFor('the echo server', 10_000, async () =>
      (await execInNetns(to.netns, ['nc', '-z', '-w', '1', to.ip, '90'])).code === 0 ? true : undefined,
    );
    const client = spawnInNetns(from.netns, ['nc', to.ip, '90']);
    responders.push(client);
    let got = '';
    client.stdout?.setEncoding('utf8');
    client.stdout?.on('data', (d: string) => {
      got += d;
    });
    const echoed = (line: string) =>
      waitFor(`"${line}" echoed`, 5000, async () => (got.includes(line) ? true : undefined));
    client.stdin?.write('before\n');
    await echoed('before');

    await apply([
      {
        name: 'user-nsg',
        type: 'Microsoft.Network/networkSecurityGroups',
        securityRules: [
          rule({
            name: 'no-echo',
            priority: 150,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Tcp',
            destinationPortRange: '90',
          }),
        ],
        subnets: [{ id: `${ID}/virtualNetworks/lab-vnet/subnets/${name}-user` }],
      },
    ]);
    await enforced(vnet, ['no-echo']);
    client.stdin?.write('after\n');
    await echoed('after');
    const fresh = await execInNetns(from.netns, ['nc', '-z', '-w', '1', to.ip, '90']);
    assert.notEqual(fresh.code, 0, 'a new connection is refused');

    const world = await worldFromStore(requireLab(name).store.url);
    const flow = { from: from.at, to: to.at, protocol: 'TCP' as const, port: 90 };
    assert.equal(trace(world, { ...flow, state: 'new' }).verdict, 'deny');
    assert.equal(trace(world, { ...flow, state: 'established' }).verdict, 'allow');
    client.kill('SIGKILL');
  });

  // NetworkPolicy is enforced on the nodes (each agent's node table), NSGs in the VNet: both at once here.
  it('with NetworkPolicies in force too (selectors, named ports, endPort, ipBlock except, egress and ingress)', async () => {
    const policies = [
      {
        // x admits only y/c, and only on the named port serve-80-tcp (resolved on each x pod: 80/TCP).
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'x-from-c', namespace: 'x' },
        spec: {
          podSelector: {},
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } },
                  podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['c'] }] },
                },
              ],
              ports: [{ port: 'serve-80-tcp' }],
            },
            // ... and y/d on UDP 81 (d's egress allows UDP 80-81 to x: endPort).
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } },
                  podSelector: { matchLabels: { pod: 'd' } },
                },
              ],
              ports: [{ protocol: 'UDP', port: 81 }],
            },
          ],
        },
      },
      {
        // y/d may send only UDP 80-81 to pods of x, and anything outside the pod CIDR.
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'd-egress', namespace: 'y' },
        spec: {
          podSelector: { matchLabels: { pod: 'd' } },
          policyTypes: ['Egress'],
          egress: [
            {
              to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }],
              ports: [{ protocol: 'UDP', port: 80, endPort: 81 }],
            },
            { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } }] },
            // The IPv6 twin (issue 12): an ipBlock admits its own family only.
            { to: [{ ipBlock: { cidr: '::/0', except: ['fd12:3456:789a::/64'] } }] },
          ],
        },
      },
    ];
    await apply(policies);
    // The agents enforce within 1 s of the apply (issue 10): wait, bounded, until x/b refuses x/a.
    await waitFor('the nodes to enforce the policies', 10_000, async () =>
      (await passes({ from: pods.a, to: pods.b, protocol: 'TCP', port: 80 })) ? undefined : true,
    );
    // Both families: the nodes compile selectors, named ports and ipBlocks into IPv6 sets too.
    const { results, wrong } = await disagreements([...matrix(), ...matrix(6)]);
    assert.deepEqual(wrong, [], 'every probe agrees with podnet trace');
    const deciders = (family: 4 | 6) =>
      new Set(
        results
          .filter((r) => r.probe.includes(':') === (family === 6))
          .flatMap((r) => r.expected.decidedBy.map((d) => `${d.layer} ${d.object ?? '-'} ${d.rule}`)),
      );
    const both = [
      'networkpolicy - default-deny',
      'networkpolicy x/x-from-c ingress[0]',
      'networkpolicy x/x-from-c ingress[1]',
      'networkpolicy y/d-egress egress[0]',
    ];
    for (const [family, expected] of [
      [4, [...both, 'networkpolicy y/d-egress egress[1]']],
      [6, [...both, 'networkpolicy y/d-egress egress[2]']],
    ] as const)
      for (const d of expected)
        assert.ok(deciders(family).has(d), `some IPv${family} probe was decided by ${d}`);
  });

  it('SCTP probes', async (t) => {
    // This kernel is built without SCTP (CONFIG_IP_SCTP unset): a socket cannot even be opened, so no SCTP
    // packet can be probed. Said as a skip, never counted as a pass.
    const r = await execInNetns(null, ['socat', '-u', '/dev/null', 'SCTP-CONNECT:127.0.0.1:9']);
    if (/Protocol not supported|Address family not supported/.test(r.stderr))
      t.skip('the kernel has no SCTP (CONFIG_IP_SCTP unset): SCTP probes cannot run here');
    else t.todo('SCTP probes through the VNet are not written yet: this kernel has SCTP');
  });
});

/**
 * `podnet trace` over plain objects: each layer decides what its own source says (route and SNAT: the AKS overlay
 * doc; NetworkPolicy: network-policies.md; NSG: network-security-group-how-it-works.md) and the trace names the
 * deciding rule, in the JSON shape the issue fixes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNsg } from '../nsg/parse.js';
import type { Nsg } from '../nsg/types.js';
import { defaultNetworkPolicy } from '../policy/defaults.js';
import type { NetworkPolicy } from '../policy/types.js';
import { profileFromObject } from '../profile/load.js';
import { dualStackSubnetsProfile } from '../profile/testing/dual-stack.js';
import { type TraceFlow, type TracePod, type TraceWorld, trace } from './trace.js';

const profile = profileFromObject({
  name: 't',
  vnet: {
    name: 'v',
    addressSpaces: ['10.224.0.0/12'],
    subnets: [
      { name: 'sys', cidr: '10.224.0.0/24' },
      { name: 'user', cidr: '10.224.1.0/24' },
    ],
  },
  networkProfile: { podCidr: '10.244.0.0/16' },
  agentPoolProfiles: [
    { name: 'sys', vnetSubnetName: 'sys', count: 1 },
    { name: 'user', vnetSubnetName: 'user', count: 1 },
  ],
});

const pod = (ns: string, name: string, ip: string, node: string, hostIP: string, labels = {}): TracePod => ({
  namespace: ns,
  name,
  labels,
  ips: [ip],
  node,
  hostIP,
  ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
});

const PODS = [
  pod('shop', 'web', '10.244.0.5', 'sys-0', '10.224.0.4', { app: 'web' }),
  pod('shop', 'db', '10.244.1.5', 'user-0', '10.224.1.4', { app: 'db' }),
  pod('shop', 'cache', '10.244.0.6', 'sys-0', '10.224.0.4', { app: 'cache' }),
];

const dbOnlyFromWeb = defaultNetworkPolicy({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'db', namespace: 'shop' },
  spec: {
    podSelector: { matchLabels: { app: 'db' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }],
  },
} as NetworkPolicy);

function nsg(rules: Record<string, unknown>[], subnet = 'user'): Nsg {
  const defaults = {
    sourcePortRange: '*',
    destinationPortRange: '*',
    sourceAddressPrefix: '*',
    destinationAddressPrefix: '*',
    protocol: '*',
  };
  const r = parseNsg({
    name: `nsg-${subnet}`,
    securityRules: rules.map((x) => ({ ...defaults, ...x })),
    subnets: [
      {
        id: `/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/${subnet}`,
      },
    ],
  });
  assert.deepEqual(r.problems, []);
  return r.nsg as Nsg;
}

function world(over: Partial<TraceWorld> = {}): TraceWorld {
  return {
    profile,
    namespaces: new Map([['shop', { 'kubernetes.io/metadata.name': 'shop' }]]),
    pods: PODS,
    policies: [],
    nsgs: [],
    nics: [],
    ...over,
  };
}
const flow = (from: string, to: string, port?: number, over: Partial<TraceFlow> = {}): TraceFlow => ({
  from,
  to,
  protocol: 'TCP',
  state: 'new',
  ...(port === undefined ? {} : { port }),
  ...over,
});

describe('podnet trace', () => {
  it('prints exactly verdict, sourceSeen, decidedBy, hops, notEvaluated', () => {
    const r = trace(world(), flow('shop/web', 'shop/db', 8080));
    assert.deepEqual(Object.keys(r), ['verdict', 'sourceSeen', 'decidedBy', 'hops', 'notEvaluated']);
    assert.deepEqual(
      [r.verdict, r.sourceSeen, r.notEvaluated],
      ['allow', '10.244.0.5', ['nsg', 'networkpolicy']],
    );
  });

  it('a NetworkPolicy that isolates the destination and admits nothing: default-deny, naming no policy', () => {
    const r = trace(world({ policies: [dbOnlyFromWeb] }), flow('shop/cache', 'shop/db', 8080));
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, [{ layer: 'networkpolicy', object: null, rule: 'default-deny' }]);
    assert.match(r.hops.at(-1)?.detail ?? '', /isolated by shop\/db/);
    const ok = trace(world({ policies: [dbOnlyFromWeb] }), flow('shop/web', 'shop/db', 8080));
    assert.equal(ok.verdict, 'allow');
    assert.deepEqual(ok.decidedBy, [{ layer: 'networkpolicy', object: 'shop/db', rule: 'ingress[0]' }]);
    assert.equal(
      trace(world({ policies: [dbOnlyFromWeb] }), flow('shop/web', 'shop/db', 9090)).verdict,
      'deny',
      'named port http is 8080 on the db pod',
    );
  });

  it('files with policies alone give the NetworkPolicy verdict; the other layers are not evaluated', () => {
    const r = trace(
      world({ profile: undefined, policies: [dbOnlyFromWeb] }),
      flow('shop/cache', 'shop/db', 8080),
    );
    assert.deepEqual([r.verdict, r.notEvaluated], ['deny', ['route', 'nat', 'nsg', 'outbound']]);
  });

  it('an NSG rule on the destination subnet blocks pod traffic across nodes: it sees pod addresses', () => {
    const deny = nsg([
      {
        name: 'deny-pods',
        priority: 200,
        direction: 'Inbound',
        access: 'Deny',
        sourceAddressPrefix: '10.244.0.0/16',
      },
    ]);
    const r = trace(world({ nsgs: [deny] }), flow('shop/web', 'shop/db', 8080));
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, [{ layer: 'nsg', object: 'nsg-user', rule: 'deny-pods' }]);
    assert.match(r.hops.at(-1)?.at ?? '', /nsg-user \(subnet user, Inbound\)/);
    // Same node: the packet never reaches the subnet, so no NSG sees it.
    assert.equal(
      trace(
        world({
          nsgs: [nsg([{ name: 'deny-pods', priority: 200, direction: 'Inbound', access: 'Deny' }], 'sys')],
        }),
        flow('shop/web', 'shop/cache', 8080),
      ).verdict,
      'allow',
    );
    // Nor does a node's traffic to its own pod (found by the lab's agreement test: ping from the node).
    const sysDeny = world({
      nsgs: [nsg([{ name: 'deny-all', priority: 200, direction: 'Inbound', access: 'Deny' }], 'sys')],
    });
    const local = trace(sysDeny, flow('10.224.0.4', 'shop/web', undefined, { protocol: 'ICMP' }));
    assert.equal(local.verdict, 'allow');
    assert.match(local.hops.find((h) => h.layer === 'nsg')?.detail ?? '', /stays on one node/);
  });

  // Issue 12: a dual-stack pod's IPv6 packets meet the NSGs its IPv4 ones do (the lab's agreement test probes
  // the same in the kernel): its node's subnet by the subnet's IPv6 /64, its node's NIC whichever of the node's
  // addresses the NIC lists; a node's IPv6 traffic to its own pod stays on the node.
  it('dual-stack: IPv6 flows meet the subnet and NIC NSGs of the pod node; node to own pod stays local', () => {
    const dual = dualStackSubnetsProfile();
    const pod6 = (p: TracePod, ip6: string, host6: string): TracePod => ({
      ...p,
      ips: [...p.ips, ip6],
      hostIPs: [p.hostIP as string, host6],
    });
    const pods = [
      pod6(PODS[0], 'fd12:3456:789a::5', 'fd00:10::4'),
      pod6(PODS[1], 'fd12:3456:789a::105', 'fd00:10:0:1::4'),
    ];
    const noPing = nsg([
      { name: 'no-ping', priority: 100, direction: 'Inbound', access: 'Deny', protocol: 'Icmp' },
    ]);
    const ping = { protocol: 'ICMP' as const };
    const w = world({ profile: dual, pods, nsgs: [noPing] });
    const r = trace(w, flow('fd12:3456:789a::5', 'fd12:3456:789a::105', undefined, ping));
    assert.deepEqual(
      [r.verdict, r.decidedBy],
      ['deny', [{ layer: 'nsg', object: 'nsg-user', rule: 'no-ping' }]],
    );
    // The NIC lists only the node's IPv6 address (its pods' hostIP is IPv4): the node's pods still meet it.
    const nicNsg = {
      ...nsg(
        [
          {
            name: 'no-web6',
            priority: 100,
            direction: 'Inbound',
            access: 'Deny',
            protocol: 'Tcp',
            destinationAddressPrefix: 'fd12:3456:789a::/64',
          },
        ],
        'none',
      ),
      name: 'nic-nsg',
    };
    const viaNic = world({
      profile: dual,
      pods,
      nsgs: [nicNsg],
      nics: [{ name: 'user-0', ips: ['fd00:10:0:1::4'], nsg: 'nic-nsg' }],
    });
    const n = trace(viaNic, flow('fd12:3456:789a::5', 'fd12:3456:789a::105', 8080));
    assert.deepEqual(n.decidedBy, [{ layer: 'nsg', object: 'nic-nsg', rule: 'no-web6' }]);
    assert.equal(
      trace(viaNic, flow('shop/web', 'shop/db', 8080)).verdict,
      'allow',
      'the IPv6 rule spares IPv4',
    );
    // The node's own IPv6 address meets the NIC that lists its IPv4 one: one NIC, one node.
    const v4Nic = world({
      profile: dual,
      pods,
      nsgs: [
        {
          ...nsg(
            [{ name: 'no-ping6', priority: 100, direction: 'Inbound', access: 'Deny', protocol: 'Icmp' }],
            'none',
          ),
          name: 'nic-nsg',
        },
      ],
      nics: [{ name: 'user-0', ips: ['10.224.1.4'], nsg: 'nic-nsg' }],
    });
    assert.deepEqual(trace(v4Nic, flow('fd00:10::4', 'fd00:10:0:1::4', undefined, ping)).decidedBy, [
      { layer: 'nsg', object: 'nic-nsg', rule: 'no-ping6' },
    ]);
    const local = trace(w, flow('fd00:10:0:1::4', 'fd12:3456:789a::105', undefined, ping));
    assert.equal(local.verdict, 'allow');
    assert.match(local.hops.find((h) => h.layer === 'nsg')?.detail ?? '', /stays on one node/);
  });

  it('stateful NSGs: a reply, and a connection admitted before the rule, pass', () => {
    const deny = nsg([
      {
        name: 'deny-pods',
        priority: 200,
        direction: 'Inbound',
        access: 'Deny',
        sourceAddressPrefix: '10.244.0.0/16',
      },
    ]);
    for (const state of ['reply', 'established'] as const) {
      const r = trace(world({ nsgs: [deny] }), flow('shop/web', 'shop/db', 8080, { state }));
      assert.equal(r.verdict, 'allow', state);
      assert.deepEqual(r.decidedBy, [{ layer: 'nsg', object: 'nsg-user', rule: 'stateful' }]);
    }
  });

  it('a pod reaching outside the pod CIDR is SNATed to its node; the NSGs see the node address', () => {
    const r = trace(
      world({
        nsgs: [
          nsg(
            [
              {
                name: 'no-node-out',
                priority: 100,
                direction: 'Outbound',
                access: 'Deny',
                sourceAddressPrefix: '10.224.0.4',
              },
            ],
            'sys',
          ),
        ],
      }),
      flow('shop/web', '203.0.113.10', 443),
    );
    assert.equal(r.sourceSeen, '10.224.0.4');
    assert.deepEqual(r.decidedBy, [{ layer: 'nsg', object: 'nsg-sys', rule: 'no-node-out' }]);
    const open = trace(world(), flow('shop/web', '203.0.113.10', 443));
    assert.deepEqual([open.verdict, open.sourceSeen], ['allow', '10.224.0.4']);
    assert.deepEqual(open.decidedBy, [{ layer: 'nat', object: null, rule: 'masquerade' }]);
  });

  it('an outside host cannot open a connection to a pod address; a reply to one the pod opened comes back', () => {
    const r = trace(world(), flow('203.0.113.10', 'shop/web', 80));
    assert.deepEqual(
      [r.verdict, r.decidedBy],
      ['deny', [{ layer: 'route', object: null, rule: 'pod-cidr-not-routed' }]],
    );
    assert.equal(trace(world(), flow('203.0.113.10', 'shop/web', 80, { state: 'reply' })).verdict, 'allow');
  });

  it("traffic from a pod's own node passes its NetworkPolicies (kubelet probes)", () => {
    const isolated = defaultNetworkPolicy({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'none', namespace: 'shop' },
      spec: { podSelector: {}, ingress: [] },
    } as NetworkPolicy);
    assert.equal(
      trace(world({ policies: [isolated] }), flow('10.224.0.4', 'shop/web', 8080)).verdict,
      'allow',
    );
    assert.equal(
      trace(world({ policies: [isolated] }), flow('10.224.1.4', 'shop/web', 8080)).verdict,
      'deny',
    );
  });

  it('says what is unusable with a code, never a stack', () => {
    const code = (f: TraceFlow) => {
      try {
        trace(world(), f);
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'none';
    };
    assert.equal(code(flow('shop/nope', 'shop/db', 80)), 'TraceUnknownPod');
    assert.equal(code(flow('nons/web', 'shop/db', 80)), 'TraceUnknownNamespace');
    assert.equal(code(flow('shop/web', 'shop/db')), 'TraceBadFlow');
    assert.equal(code(flow('shop/web', 'banana', 80)), 'TraceBadFlow');
  });
});

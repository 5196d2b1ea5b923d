/**
 * `podnet trace` through a Service: the step the node's proxy takes (the same `compileServiceProxy` and
 * `proxyRoute` the nftables section is compiled from), then NetworkPolicy against the endpoint it chose.
 * Semantics: kube-proxy (https://kubernetes.io/docs/reference/networking/virtual-ips/: the client's node DNATs a
 * ClusterIP to one endpoint; `internalTrafficPolicy: Local` drops without a local endpoint), source IP
 * preservation (https://kubernetes.io/docs/tutorials/services/source-ip/: ClusterIP from a pod keeps the pod's
 * address, `externalTrafficPolicy: Cluster` SNATs to the node, `Local` keeps the client's), and NetworkPolicy
 * acting on pod addresses, i.e. after the DNAT (https://kubernetes.io/docs/concepts/services-networking/network-policies/,
 * reference/policy-services.md B.5 #4).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNsg } from '../nsg/parse.js';
import type { Nsg } from '../nsg/types.js';
import { defaultNetworkPolicy } from '../policy/defaults.js';
import type { NetworkPolicy } from '../policy/types.js';
import { profileFromObject } from '../profile/load.js';
import { dualStackSubnetsProfile } from '../profile/testing/dual-stack.js';
import type { Service } from '../services/types.js';
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
  networkProfile: { podCidr: '10.244.0.0/16', serviceCidr: '10.0.0.0/16', dnsServiceIP: '10.0.0.10' },
  agentPoolProfiles: [
    { name: 'sys', vnetSubnetName: 'sys', count: 1 },
    { name: 'user', vnetSubnetName: 'user', count: 1 },
  ],
});

const pod = (name: string, ip: string, node: string, hostIP: string, labels = {}): TracePod => ({
  namespace: 'shop',
  name,
  labels,
  ips: [ip],
  node,
  hostIP,
  ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
});

const PODS = [
  pod('web', '10.244.0.5', 'sys-0', '10.224.0.4', { app: 'web' }),
  pod('db-0', '10.244.1.5', 'user-0', '10.224.1.4', { app: 'db' }),
  pod('db-1', '10.244.0.7', 'sys-0', '10.224.0.4', { app: 'db' }),
  pod('cache', '10.244.1.6', 'user-0', '10.224.1.4', { app: 'cache' }),
];

const service = (name: string, ip: string, spec: Partial<Service['spec']> = {}, lb?: string): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: {
    type: lb ? 'LoadBalancer' : 'ClusterIP',
    selector: { app: 'db' },
    clusterIP: ip,
    clusterIPs: [ip],
    ports: [{ name: 'sql', port: 5432, targetPort: 'http', protocol: 'TCP' }],
    internalTrafficPolicy: 'Cluster',
    ...(lb ? { externalTrafficPolicy: 'Cluster' } : {}),
    ...spec,
  },
  ...(lb ? { status: { loadBalancer: { ingress: [{ ip: lb }] } } } : {}),
});

/** db-0 admits web only; db-1 is not isolated. */
const db0FromWeb = defaultNetworkPolicy({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'db-0', namespace: 'shop' },
  spec: {
    podSelector: { matchLabels: { app: 'db' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }],
  },
} as NetworkPolicy);

const world = (services: Service[], over: Partial<TraceWorld> = {}): TraceWorld => ({
  profile,
  namespaces: new Map([['shop', { 'kubernetes.io/metadata.name': 'shop' }]]),
  pods: PODS,
  policies: [],
  nsgs: [],
  nics: [],
  services,
  ...over,
});
const flow = (from: string, to: string, port = 5432, over: Partial<TraceFlow> = {}): TraceFlow => ({
  from,
  to,
  protocol: 'TCP',
  state: 'new',
  port,
  ...over,
});
const DB = service('db', '10.0.0.20');

describe('podnet trace through a Service', () => {
  it('a pod to a ClusterIP: the service port matched, every endpoint it may choose, the source kept', () => {
    const r = trace(world([DB]), flow('shop/web', '10.0.0.20'));
    assert.equal(r.verdict, 'allow');
    assert.equal(r.service?.service, 'shop/db');
    assert.equal(r.service?.port, 'sql');
    assert.equal(r.service?.frontend, 'ClusterIP');
    assert.deepEqual(
      r.service?.endpoints.map((e) => [e.endpoint, e.pod, e.via, e.masquerade]),
      [
        ['10.244.0.7:8080', 'shop/db-1', 'sys-0', false],
        ['10.244.1.5:8080', 'shop/db-0', 'sys-0', false],
      ],
      'the named targetPort resolved on each pod; DNAT on the client node',
    );
    assert.equal(r.sourceSeen, '10.244.0.5');
    const hop = r.hops.find((h) => h.layer === 'service');
    assert.match(hop?.detail ?? '', /^shop\/db port sql\/TCP \(ClusterIP\): DNAT to 10\.244\.0\.7:8080/);
  });

  it('NetworkPolicy is evaluated against each endpoint: denied by one is denied; --endpoint follows one', () => {
    const w = world([DB], { policies: [db0FromWeb] });
    const fromCache = trace(w, flow('shop/cache', '10.0.0.20'));
    assert.equal(fromCache.verdict, 'deny', 'both endpoints isolated, cache admitted by neither');
    assert.deepEqual(
      fromCache.service?.endpoints.map((e) => e.verdict),
      ['deny', 'deny'],
    );
    assert.deepEqual(fromCache.decidedBy, [{ layer: 'networkpolicy', object: null, rule: 'default-deny' }]);
    const fromWeb = trace(w, flow('shop/web', '10.0.0.20'));
    assert.equal(fromWeb.verdict, 'allow');
    assert.ok(fromWeb.decidedBy.some((d) => d.object === 'shop/db-0' && d.rule === 'ingress[0]'));
    // Only db-1 is isolated differently: a policy selecting db-0 alone leaves db-1 open to cache.
    const onlyDb0 = defaultNetworkPolicy({
      ...db0FromWeb,
      spec: { ...db0FromWeb.spec, podSelector: { matchLabels: { app: 'db', pod: 'db-0' } } },
    } as NetworkPolicy);
    const pods = PODS.map((p) => (p.name === 'db-0' ? { ...p, labels: { ...p.labels, pod: 'db-0' } } : p));
    const mixed = world([DB], { policies: [onlyDb0], pods });
    const some = trace(mixed, flow('shop/cache', '10.0.0.20'));
    assert.equal(some.verdict, 'deny', 'the random choice may pick db-0');
    assert.deepEqual(
      some.service?.endpoints.map((e) => [e.pod, e.verdict]),
      [
        ['shop/db-1', 'allow'],
        ['shop/db-0', 'deny'],
      ],
    );
    assert.match(
      some.hops.find((h) => h.layer === 'service')?.detail ?? '',
      /DNAT to 10\.244\.1\.5:8080 \(pod\/shop\/db-0\)/,
      'the hops follow the denied one',
    );
    const chosen = trace(mixed, flow('shop/cache', '10.0.0.20', 5432, { endpoint: 'shop/db-1' }));
    assert.equal(chosen.verdict, 'allow');
    assert.deepEqual(
      chosen.service?.endpoints.map((e) => e.pod),
      ['shop/db-1'],
    );
    assert.throws(() => trace(mixed, flow('shop/cache', '10.0.0.20', 5432, { endpoint: '10.244.1.6' })), {
      code: 'TraceBadFlow',
      field: '--endpoint',
    });
  });

  it('a pod through its own service reaches itself: hairpin, masqueraded, and never blocked by policy', () => {
    const self = service('self', '10.0.0.21', { selector: { app: 'web' } });
    const deny = defaultNetworkPolicy({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny', namespace: 'shop' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    } as NetworkPolicy);
    const r = trace(world([self], { policies: [deny] }), flow('shop/web', '10.0.0.21'));
    assert.deepEqual(
      r.service?.endpoints.map((e) => [e.pod, e.hairpin, e.masquerade]),
      [['shop/web', true, true]],
    );
    assert.equal(r.verdict, 'allow', 'network-policies.md: traffic from a pod to itself is always allowed');
  });

  it('the node itself to a ClusterIP is masqueraded: the endpoint sees the node address', () => {
    const r = trace(world([DB]), flow('10.224.0.4', '10.0.0.20'));
    assert.deepEqual(
      r.service?.endpoints.map((e) => [e.via, e.masquerade]),
      [
        ['sys-0', true],
        ['sys-0', true],
      ],
    );
    assert.equal(r.sourceSeen, '10.224.0.4');
  });

  it('internalTrafficPolicy Local from a node without an endpoint: dropped', () => {
    const local = service('db', '10.0.0.20', { internalTrafficPolicy: 'Local', selector: { app: 'cache' } });
    const r = trace(world([local]), flow('shop/web', '10.0.0.20'));
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, [{ layer: 'service', object: 'shop/db', rule: 'no-endpoints' }]);
    const there = trace(world([local]), flow('shop/db-0', '10.0.0.20'));
    assert.deepEqual(
      there.service?.endpoints.map((e) => e.pod),
      ['shop/cache'],
    );
  });

  it('a LoadBalancer frontend from outside: Cluster masquerades through every node; Local keeps the client', () => {
    const cluster = trace(
      world([service('db', '10.0.0.20', {}, '10.224.2.10')]),
      flow('203.0.113.10', '10.224.2.10'),
    );
    assert.equal(cluster.service?.frontend, 'LoadBalancer');
    assert.deepEqual(
      cluster.service?.endpoints.map((e) => `${e.via}>${e.pod}${e.masquerade ? '+masq' : ''}`),
      ['sys-0>shop/db-1+masq', 'sys-0>shop/db-0+masq', 'user-0>shop/db-1+masq', 'user-0>shop/db-0+masq'],
    );
    assert.notEqual(cluster.sourceSeen, '203.0.113.10');
    const local = trace(
      world([service('db', '10.0.0.20', { externalTrafficPolicy: 'Local' }, '10.224.2.10')]),
      flow('203.0.113.10', '10.224.2.10'),
    );
    assert.deepEqual(
      local.service?.endpoints.map((e) => `${e.via}>${e.pod}${e.masquerade ? '+masq' : ''}`),
      ['sys-0>shop/db-1', 'user-0>shop/db-0'],
      'each node sends to its own endpoint only',
    );
    assert.equal(local.sourceSeen, '203.0.113.10');
    assert.equal(local.verdict, 'allow');
  });

  // The VNet's load balancer (src/loadbalancer/balancer.ts) with floating IP, as AKS configures it: the packet
  // reaches the chosen node with the frontend as destination, so that node's subnet and NIC NSGs see the frontend
  // (https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip); the node's proxy then DNATs,
  // and with Cluster masquerades to the node on the way to an endpoint on another node. A frontend port without a
  // load balancing rule is dropped by the load balancer. The lab's lb.int test probes the same for real.
  it('through the VNet load balancer: the chosen node’s NSGs see the frontend; a port without a rule is dropped', () => {
    const FRONTEND = '198.51.100.4';
    const userNsg = (access?: 'Allow' | 'Deny') => {
      const r = parseNsg({
        name: 'user-nsg',
        securityRules: access
          ? [
              {
                name: 'frontend-sql',
                priority: 200,
                direction: 'Inbound',
                access,
                protocol: 'Tcp',
                sourceAddressPrefix: 'Internet',
                sourcePortRange: '*',
                destinationAddressPrefix: FRONTEND,
                destinationPortRange: '5432',
              },
            ]
          : [],
        subnets: [{ id: '/s/virtualNetworks/v/subnets/user' }],
      });
      assert.deepEqual(r.problems, []);
      return r.nsg as Nsg;
    };
    const lb = (policy: 'Cluster' | 'Local', access?: 'Allow' | 'Deny') =>
      world([service('db', '10.0.0.20', { externalTrafficPolicy: policy }, FRONTEND)], {
        nsgs: [userNsg(access)],
      });
    const outside = flow('203.0.113.10', FRONTEND);

    const allowed = trace(lb('Local', 'Allow'), outside);
    assert.equal(
      allowed.verdict,
      'allow',
      'the allow of the frontend admits it; the pod address is never checked',
    );
    assert.ok(
      allowed.service?.endpoints.every((e) => e.verdict === 'allow'),
      'through user-0 (its NSG) and through sys-0 (none)',
    );
    const deniedLocal = trace(lb('Local', 'Deny'), outside);
    assert.deepEqual(deniedLocal.decidedBy, [{ layer: 'nsg', object: 'user-nsg', rule: 'frontend-sql' }]);
    assert.ok(deniedLocal.hops.some((h) => h.at === 'vnet load balancer' && /node user-0/.test(h.detail)));
    // Cluster, with no rule for the frontend: DenyAllInBound at user-0's subnet for the flows sent there, though
    // the masqueraded node-to-pod leg alone would be allowed by AllowVnetInBound.
    const cluster = trace(lb('Cluster'), outside);
    assert.deepEqual(cluster.decidedBy, [{ layer: 'nsg', object: 'user-nsg', rule: 'DenyAllInBound' }]);
    assert.deepEqual(
      cluster.service?.endpoints.map((e) => `${e.via}>${e.pod} ${e.verdict}`),
      ['sys-0>shop/db-1 allow', 'sys-0>shop/db-0 allow', 'user-0>shop/db-1 deny', 'user-0>shop/db-0 deny'],
    );
    const noRule = trace(lb('Cluster', 'Allow'), flow('203.0.113.10', FRONTEND, 5433));
    assert.deepEqual(
      [noRule.verdict, noRule.decidedBy],
      ['deny', [{ layer: 'service', object: 'shop/db', rule: 'no-load-balancing-rule' }]],
    );
  });

  // A dual-stack LoadBalancer Service's IPv6 frontend: the flow from an IPv6 client meets the chosen node's
  // subnet NSG with the IPv6 frontend as destination, as the lab's VNet dispatches it (rt ip6 nexthop).
  it('through the VNet load balancer in IPv6: the node NSG sees the IPv6 frontend', () => {
    const dual = dualStackSubnetsProfile();
    const [v4, v6] = ['198.51.100.4', '2001:db8:198:51::4'];
    const pods = [
      {
        ...pod('db-0', '10.244.1.5', 'user-0', '10.224.1.4', { app: 'db' }),
        ips: ['10.244.1.5', 'fd12:3456:789a::105'],
        hostIPs: ['10.224.1.4', 'fd00:10:0:1::4'],
      },
    ];
    const svc = service('db', '10.0.0.20', {
      externalTrafficPolicy: 'Local',
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'PreferDualStack',
      clusterIPs: ['10.0.0.20', 'fd12:3456:789a:1::20'],
    });
    const withFrontends = { ...svc, status: { loadBalancer: { ingress: [{ ip: v4 }, { ip: v6 }] } } };
    const r = parseNsg({
      name: 'user-nsg',
      securityRules: [
        {
          name: 'frontend6',
          priority: 200,
          direction: 'Inbound',
          access: 'Allow',
          protocol: 'Tcp',
          sourceAddressPrefix: 'Internet',
          sourcePortRange: '*',
          destinationAddressPrefix: `${v6}/128`,
          destinationPortRange: '5432',
        },
      ],
      subnets: [{ id: '/s/virtualNetworks/v/subnets/user' }],
    });
    const w = world([withFrontends], { profile: dual, pods, nsgs: [r.nsg as Nsg] });
    const six = trace(w, flow('2001:db8:203:113::a', v6));
    assert.equal(six.verdict, 'allow', 'the IPv6 frontend is allowed by its rule');
    assert.ok(six.decidedBy.some((d) => d.layer === 'nsg' && d.rule === 'frontend6'));
    assert.deepEqual(
      six.service?.endpoints.map((e) => e.endpoint),
      ['[fd12:3456:789a::105]:8080'],
    );
    assert.deepEqual(trace(w, flow('203.0.113.10', v4)).decidedBy, [
      { layer: 'nsg', object: 'user-nsg', rule: 'DenyAllInBound' },
    ]);
  });

  it('loadBalancerSourceRanges: a client outside them is dropped by the proxy; one inside goes on', () => {
    const ranged = (ranges: string[]) =>
      world([service('db', '10.0.0.20', { loadBalancerSourceRanges: ranges }, '198.51.100.4')]);
    const out = trace(ranged(['198.18.0.0/15']), flow('203.0.113.10', '198.51.100.4'));
    assert.deepEqual(
      [out.verdict, out.decidedBy],
      ['deny', [{ layer: 'service', object: 'shop/db', rule: 'loadBalancerSourceRanges' }]],
    );
    assert.match(
      out.hops.at(-1)?.detail ?? '',
      /203\.0\.113\.10 is not in shop\/db's loadBalancerSourceRanges/,
    );
    assert.equal(trace(ranged(['203.0.113.0/24']), flow('203.0.113.10', '198.51.100.4')).verdict, 'allow');
    // A pod is held to the ranges too, by its own node's proxy.
    assert.equal(trace(ranged(['203.0.113.0/24']), flow('shop/web', '198.51.100.4')).verdict, 'deny');
  });

  it('a node port is proxied by the node whose address it is: Local keeps the client and that node’s endpoints', () => {
    // https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport; source IP with
    // externalTrafficPolicy (https://kubernetes.io/docs/tutorials/services/source-ip/#source-ip-for-services-with-type-nodeport).
    const np = (etp: 'Cluster' | 'Local') =>
      service('db', '10.0.0.20', {
        type: 'NodePort',
        externalTrafficPolicy: etp,
        ports: [{ name: 'sql', port: 5432, targetPort: 'http', protocol: 'TCP', nodePort: 30432 }],
      });
    const local = trace(world([np('Local')]), flow('203.0.113.10', '10.224.1.4', 30432));
    assert.equal(local.service?.frontend, 'NodePort');
    assert.deepEqual(
      local.service?.endpoints.map((e) => `${e.via}>${e.pod}${e.masquerade ? '+masq' : ''}`),
      ['user-0>shop/db-0'],
    );
    assert.equal(local.sourceSeen, '203.0.113.10');
    const cluster = trace(world([np('Cluster')]), flow('203.0.113.10', '10.224.1.4', 30432));
    assert.deepEqual(
      cluster.service?.endpoints.map((e) => `${e.via}>${e.pod}${e.masquerade ? '+masq' : ''}`),
      ['user-0>shop/db-1+masq', 'user-0>shop/db-0+masq'],
    );
    assert.equal(cluster.sourceSeen, '10.224.1.4');
    const fromPod = trace(world([np('Local')]), flow('shop/web', '10.224.1.4', 30432));
    assert.deepEqual(
      fromPod.service?.endpoints.map((e) => `${e.via}>${e.pod}${e.masquerade ? '+masq' : ''}`),
      ['user-0>shop/db-1', 'user-0>shop/db-0'],
      'a pod takes every endpoint, its address kept',
    );
  });

  it('a ClusterIP is not reachable from outside the cluster; a service without endpoints is rejected', () => {
    const out = trace(world([DB]), flow('203.0.113.10', '10.0.0.20'));
    assert.equal(out.verdict, 'deny');
    assert.deepEqual(out.decidedBy, [{ layer: 'route', object: null, rule: 'cluster-ip-not-routed' }]);
    const none = trace(
      world([service('db', '10.0.0.20', { selector: { app: 'nothing' } })]),
      flow('shop/web', '10.0.0.20'),
    );
    assert.deepEqual([none.verdict, none.decidedBy[0].rule], ['deny', 'no-endpoints']);
    assert.equal(
      trace(world([DB]), flow('shop/web', '10.0.0.20', 80)).service,
      undefined,
      'no such service port',
    );
  });
});

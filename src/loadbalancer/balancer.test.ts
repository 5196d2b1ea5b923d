/**
 * The load balancer's pure decisions: rules, probes, backends and the kernel state that carries them.
 * Semantics followed: Kubernetes (https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer;
 * "nodes without any Pods for a particular LoadBalancer Service will fail the NLB Target Group's health
 * check", .../create-external-load-balancer/#preserving-the-client-source-ip: with `externalTrafficPolicy:
 * Local` only nodes with a local endpoint pass the health check node port) and kube-proxy's health servers
 * (pkg/proxy/healthcheck: `localEndpoints`, 200 only with one; the proxy's /healthz on 10256); Azure Load
 * Balancer (https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview: an instance
 * whose probe fails gets no new flows while its established TCP connections continue;
 * https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip: with floating IP the backend
 * receives the frontend IP as destination; a port without a rule is not served).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodEndpoint } from '../endpoints/record.js';
import type { Service } from '../services/types.js';
import {
  backendsOfListing,
  chooseBackends,
  lbFrontends,
  lbNodes,
  lbRulePriority,
  nodeMark,
  plannedProbes,
  probeKey,
  renderLbTable,
  renderNodeRouting,
} from './balancer.js';
import { proxyHealthReply, serviceHealthChecks, serviceHealthReply } from './health.js';

const lb = (name: string, ip: string | null, spec: Partial<Service['spec']> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: {
    type: 'LoadBalancer',
    selector: { app: name },
    clusterIP: '10.0.0.20',
    clusterIPs: ['10.0.0.20'],
    ports: [
      { port: 80, targetPort: 8080, protocol: 'TCP' },
      { port: 53, targetPort: 5353, protocol: 'UDP' },
    ],
    externalTrafficPolicy: 'Cluster',
    ...spec,
  },
  status: { loadBalancer: ip ? { ingress: [{ ip, ipMode: 'VIP' }] } : {} },
});

const ep = (app: string, ip: string, node: string): PodEndpoint => ({
  node,
  nodeIp: '10.224.0.4',
  containerId: `c-${ip}`,
  ifname: 'eth0',
  ips: [ip],
  namespace: 'shop',
  name: `${app}-${ip}`,
  labels: { app },
});

const nodes = [
  { name: 'n1', ip: '10.224.0.4' },
  { name: 'n2', ip: '10.224.0.5' },
  { name: 'n3', ip: '10.224.1.4' },
];
const range = (ip: string) => ip.startsWith('198.51.100.');

describe('load balancer rules and probes', () => {
  const web = lb('web', '198.51.100.1');
  const api = lb('api', '198.51.100.2', { externalTrafficPolicy: 'Local', healthCheckNodePort: 31000 });

  it('has one rule per Service port on its frontend, and only for LoadBalancers it serves', () => {
    const f = lbFrontends(
      [
        web,
        api,
        lb('pending', null),
        lb('other', '198.51.100.3', { loadBalancerClass: 'example.com/lb' }),
        lb('foreign', '203.0.113.9'),
      ],
      range,
    );
    assert.deepEqual(
      f.map((x) => [x.ip, x.service, x.policy, x.rules.map((r) => `${r.protocol}/${r.port}`).join(',')]),
      [
        ['198.51.100.1', 'shop/web', 'Cluster', 'tcp/80,udp/53'],
        ['198.51.100.2', 'shop/api', 'Local', 'tcp/80,udp/53'],
      ],
    );
    const text = renderLbTable('c1', { cidr: '198.51.100.0/26' }, f, [
      { ip: '198.51.100.1', via: ['10.224.0.4', '10.224.1.4'] },
      { ip: '198.51.100.2', via: [] },
    ]);
    assert.match(
      text,
      /^add table inet podnet_lb_c1\ndelete table inet podnet_lb_c1\n/,
      'one transaction replaces it',
    );
    assert.match(
      text,
      /elements = \{ 198\.51\.100\.1 \. tcp \. 80 : jump fe_198_51_100_1, 198\.51\.100\.1 \. udp \. 53 : jump fe_198_51_100_1, 198\.51\.100\.2 \. tcp \. 80 : jump fe_198_51_100_2, 198\.51\.100\.2 \. udp \. 53 : jump fe_198_51_100_2 \}/,
    );
    assert.match(
      text,
      /chain fe_198_51_100_1 \{\n.*\n {4}ct mark set jhash ip saddr \. ip daddr \. meta l4proto \. th sport \. th dport mod 2 seed 0x0 map \{ 0 : 182452228, 1 : 182452484 \}/,
      'a new flow is marked for the healthy node its 5-tuple hashes to (Azure: Default distribution)',
    );
    assert.match(text, /chain fe_198_51_100_2 \{\n.*\n {4}drop comment "no healthy node"/);
    assert.match(
      text,
      /ip daddr 198\.51\.100\.0\/26 ct state new ip daddr \. meta l4proto \. th dport vmap @rules\n\s*ip daddr 198\.51\.100\.0\/26 ct state new ct mark 0 counter drop comment "no load balancing rule"\n\s*ip daddr 198\.51\.100\.0\/26 meta mark set ct mark/,
      'a port without a rule is dropped; every packet of a marked flow carries its mark',
    );
  });

  // https://learn.microsoft.com/azure/load-balancer/distribution-mode-concepts: Default is a 5-tuple hash;
  // session persistence "Client IP" a 2-tuple hash, which cloud-provider-azure sets for sessionAffinity ClientIP.
  it('distributes by the 5-tuple hash, or by client and frontend address for sessionAffinity ClientIP', () => {
    const sticky = lb('sticky', '198.51.100.3', { sessionAffinity: 'ClientIP' });
    const f = lbFrontends([web, sticky], range);
    assert.deepEqual(
      f.map((x) => [x.service, x.distribution]),
      [
        ['shop/web', 'fiveTuple'],
        ['shop/sticky', 'sourceIp'],
      ],
    );
    const text = renderLbTable('c1', { cidr: '198.51.100.0/26' }, f, [
      { ip: '198.51.100.1', via: ['10.224.0.4', '10.224.1.4'] },
      { ip: '198.51.100.3', via: ['10.224.0.4', '10.224.1.4'] },
    ]);
    assert.match(
      text,
      /chain fe_198_51_100_3 \{\n.*\n {4}ct mark set jhash ip saddr \. ip daddr mod 2 seed 0x0 map/,
    );
  });

  it('probes the proxy /healthz of every node for Cluster, the healthCheckNodePort for Local, once each', () => {
    const f = lbFrontends([web, lb('web2', '198.51.100.4'), api], range);
    assert.deepEqual(plannedProbes(f, nodes).map(probeKey).sort(), [
      '10.224.0.4:10256/healthz',
      '10.224.0.4:31000/healthz',
      '10.224.0.5:10256/healthz',
      '10.224.0.5:31000/healthz',
      '10.224.1.4:10256/healthz',
      '10.224.1.4:31000/healthz',
    ]);
  });

  it('sends new flows only to nodes whose probe answered 200: Local follows the endpoints', () => {
    const f = lbFrontends([web, api], range);
    const healthy = new Set([
      '10.224.0.4:10256/healthz',
      '10.224.1.4:10256/healthz',
      '10.224.0.5:31000/healthz',
    ]);
    assert.deepEqual(chooseBackends(f, nodes, healthy), [
      { ip: '198.51.100.1', via: ['10.224.0.4', '10.224.1.4'] },
      { ip: '198.51.100.2', via: ['10.224.0.5'] },
    ]);
    assert.deepEqual(chooseBackends(f, nodes, new Set()), [
      { ip: '198.51.100.1', via: [] },
      { ip: '198.51.100.2', via: [] },
    ]);
  });
});

describe('per-node routing of marked flows', () => {
  it('marks a node with its address as a number, and routes that mark to the node', () => {
    assert.equal(nodeMark('10.224.0.4'), 0x0ae00004);
    const pref = lbRulePriority(100);
    assert.ok(pref < 100, "before the clusters' iif rules");
    assert.deepEqual(
      renderNodeRouting(nodes.slice(0, 2), pref, [
        { priority: 0, table: 'local' },
        { priority: pref, fwmark: '0xae00004', table: '182452228' },
        { priority: pref, fwmark: '0xae00104', table: '182452484' },
        { priority: lbRulePriority(101), fwmark: '0xae00204', table: '182452740' },
      ]),
      [
        'route replace default via 10.224.0.4 table 182452228 proto 148',
        'route replace default via 10.224.0.5 table 182452229 proto 148',
        `rule add fwmark 182452229 lookup 182452229 pref ${pref}`,
        `rule del fwmark 182452484 pref ${pref}`,
        'route flush table 182452484',
      ],
      "a new node's rule is added, a gone node's removed; another cluster's rules are not touched",
    );
  });

  it('reads the backends back from the listed table', () => {
    const listed = `table ip podnet_lb_c1 {
	chain fe_198_51_100_1 {
		comment "shop/web Cluster: 10.224.0.4, 10.224.1.4"
		ct mark set jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod 2 seed 0x0 map { 0 : 0x0ae00004, 1 : 0x0ae00104 }
	}
	chain fe_198_51_100_2 {
		ct mark set 0x0ae00005
	}
	chain fe_198_51_100_3 {
		drop comment "no healthy node"
	}
}`;
    assert.deepEqual(backendsOfListing(listed), [
      { ip: '198.51.100.1', via: ['10.224.0.4', '10.224.1.4'] },
      { ip: '198.51.100.2', via: ['10.224.0.5'] },
      { ip: '198.51.100.3', via: [] },
    ]);
  });
});

describe("the node's health check answers (kube-proxy's)", () => {
  const api = lb('api', '198.51.100.2', { externalTrafficPolicy: 'Local', healthCheckNodePort: 31000 });
  const world = {
    services: [api, lb('web', '198.51.100.1')],
    endpoints: [ep('api', '10.244.0.5', 'n1'), ep('api', '10.244.0.6', 'n1'), ep('api', '10.244.1.5', 'n2')],
  };

  it('counts the local endpoints of each Local LoadBalancer on its healthCheckNodePort', () => {
    assert.deepEqual(serviceHealthChecks(world, 'n1'), [
      { port: 31000, namespace: 'shop', name: 'api', localEndpoints: 2 },
    ]);
    assert.equal(serviceHealthChecks(world, 'n3')[0].localEndpoints, 0);
  });

  it('answers 200 with local endpoints and a healthy proxy, 503 otherwise, in kube-proxy shape', () => {
    const [n1] = serviceHealthChecks(world, 'n1');
    const ok = serviceHealthReply(n1, true);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['X-Load-Balancing-Endpoint-Weight'], '2');
    assert.deepEqual(JSON.parse(ok.body), {
      service: { namespace: 'shop', name: 'api' },
      localEndpoints: 2,
      serviceProxyHealthy: true,
    });
    assert.equal(serviceHealthReply(n1, false).status, 503, 'an unhealthy proxy fails every check');
    assert.equal(serviceHealthReply(serviceHealthChecks(world, 'n3')[0], true).status, 503);
    const healthz = proxyHealthReply(true, new Date(0), new Date(1000));
    assert.equal(healthz.status, 200);
    assert.equal(JSON.parse(healthz.body).nodeEligible, true);
    assert.equal(proxyHealthReply(false, null, new Date()).status, 503);
  });
});

describe('the nodes behind the load balancer', () => {
  // Found in a dual-stack lab: the IPv6 leases made a second "node" per node, whose IPv6 address is no mark
  // and no IPv4 route, so every round of the load balancer failed.
  it('backs frontends with each node once, by its IPv4 address, with the IPv6 one of its IPv6 lease', () => {
    const lease = (nodeName: string, nodeIp: string) =>
      ({ nodeName, nodeIp, family: nodeIp.includes(':') ? 6 : 4 }) as const;
    assert.deepEqual(
      lbNodes([lease('sys-0', '10.224.0.4'), lease('sys-0', 'fd00:10::4'), lease('user-0', '10.224.1.4')]),
      [
        { name: 'sys-0', ip: '10.224.0.4', ip6: 'fd00:10::4' },
        { name: 'user-0', ip: '10.224.1.4' },
      ],
    );
  });

  // A dual-stack Service's IPv6 frontend: its own rules map and chain, hashed over IPv6 addresses, marked for
  // the same nodes, whose IPv6 routes (ip -6) carry the marked flows to the node's IPv6 address.
  it('IPv6 frontends: a rules_v6 map, the IPv6 hash, and ip -6 routes to each node IPv6 address', () => {
    const dual = lb('web', '198.51.100.1', { ipFamilies: ['IPv4', 'IPv6'] });
    const withV6 = {
      ...dual,
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { ip: '2001:db8:198:51::1' }] } },
    };
    const f = lbFrontends(
      [withV6],
      (ip) => ip.startsWith('198.51.100.') || ip.startsWith('2001:db8:198:51::'),
    );
    assert.deepEqual(
      f.map((x) => x.ip),
      ['198.51.100.1', '2001:db8:198:51::1'],
    );
    const nodes = ['10.224.0.4', '10.224.1.4'];
    const text = renderLbTable('c1', { cidr: '198.51.100.0/26', cidr6: '2001:db8:198:51::/120' }, f, [
      { ip: '198.51.100.1', via: nodes },
      { ip: '2001:db8:198:51::1', via: nodes },
    ]);
    assert.match(
      text,
      /map rules_v6 \{\n\s+type ipv6_addr \. inet_proto \. inet_service : verdict;\n\s+elements = \{ 2001:db8:198:51::1 \. tcp \. 80 : jump fe6_2001_db8_198_51__1/,
    );
    assert.match(
      text,
      /chain fe6_2001_db8_198_51__1 \{\n.*\n {4}ct mark set jhash ip6 saddr \. ip6 daddr \. meta l4proto \. th sport \. th dport mod 2/,
    );
    assert.match(
      text,
      /ip6 daddr 2001:db8:198:51::\/120 ct state new ip6 daddr \. meta l4proto \. th dport vmap @rules_v6/,
    );
    assert.deepEqual(
      backendsOfListing(text).map((b) => b.ip),
      ['198.51.100.1', '2001:db8:198:51::1'],
    );
    const routing = renderNodeRouting(
      [
        { name: 'sys-0', ip: '10.224.0.4', ip6: 'fd00:10::4' },
        { name: 'sys-1', ip: '10.224.0.5' },
      ],
      50,
      [],
      6,
    );
    assert.deepEqual(routing, [
      'route replace default via fd00:10::4 table 182452228 proto 148',
      'rule add fwmark 182452228 lookup 182452228 pref 50',
    ]);
  });
});

/**
 * The service proxy section in kube-proxy's nftables shape (pkg/proxy/nftables/proxier.go, README.md;
 * https://kubernetes.io/docs/reference/networking/virtual-ips/: ClientIP affinity, internalTrafficPolicy Local
 * drops without a local endpoint, externalTrafficPolicy Local keeps the client address).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTable, tableDelta } from '../dataplane/nft-table.js';
import type { PodEndpoint } from '../endpoints/record.js';
import {
  MASQUERADE_MARK,
  type ProxyEntry,
  compileServiceProxy,
  keepSlots,
  proxyRoute,
  serviceSection,
  sourceAllowed,
} from './proxy.js';
import type { Service } from './types.js';

const ep = (name: string, ip: string, node: string): PodEndpoint => ({
  node,
  nodeIp: '10.224.0.4',
  containerId: `c-${name}`,
  ifname: 'eth0',
  ips: [ip],
  namespace: 'shop',
  name,
  labels: { app: 'web' },
});

const svc = (name: string, clusterIP: string, spec: Partial<Service['spec']> = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: {
    type: 'ClusterIP',
    selector: { app: 'web' },
    clusterIP,
    clusterIPs: [clusterIP],
    ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
    internalTrafficPolicy: 'Cluster',
    ...spec,
  },
});

const eps = [ep('a', '10.244.0.5', 'n1'), ep('b', '10.244.1.5', 'n2'), ep('c', '10.244.1.6', 'n2')];
const families = [{ family: 4 as const, podCidrs: ['10.244.0.0/16'] }];
const section = (services: Service[], endpoints = eps) =>
  serviceSection(compileServiceProxy({ services, endpoints }, 'n1', families));
const chain = (s: ReturnType<typeof section>, prefix: string) =>
  s.chains.filter((c) => c.name.startsWith(prefix));
const set = (s: ReturnType<typeof section>, name: string) => s.sets.find((x) => x.name === name);
/** The map a `dnat ... map @svc_m_x` rule reads. */
const mapOf = (s: ReturnType<typeof section>, rule: string | undefined) =>
  set(s, /map @(svc_m_\w+)$/.exec(rule ?? '')?.[1] ?? '');
const MARK = `meta mark set meta mark | ${MASQUERADE_MARK}`;

describe('service proxy section', () => {
  it('one vmap entry per address . protocol . port; DNAT straight from the random choice, no endpoint chains', () => {
    const s = section([svc('web', '10.0.5.5')]);
    const map = set(s, 'svc_ips_v4');
    assert.equal(map?.verdictMap, true);
    assert.equal(map?.elements.length, 1);
    assert.match(map?.elements[0] ?? '', /^10\.0\.5\.5 \. tcp \. 80 : goto svc_s_[0-9a-f]{16}$/);
    const [svcChain] = chain(s, 'svc_s_');
    assert.deepEqual(svcChain.rules[0], `ip saddr != @svc_pod_cidrs_v4 ${MARK}`);
    assert.match(
      svcChain.rules[1],
      /^meta l4proto tcp dnat ip to numgen random mod 3 map @svc_m_[0-9a-f]{16}$/,
    );
    const slots = mapOf(s, svcChain.rules[1]);
    assert.equal(slots?.data, 'ip daddr . tcp dport');
    assert.deepEqual(slots?.elements, [
      '0 : 10.244.0.5 . 8080',
      '1 : 10.244.1.5 . 8080',
      '2 : 10.244.1.6 . 8080',
    ]);
    assert.deepEqual(chain(s, 'svc_e_'), [], 'no per-endpoint chain without affinity');
    assert.deepEqual(set(s, 'svc_pod_cidrs_v4')?.elements, ['10.244.0.0/16']);
    const masq = s.chains.find((c) => c.name === 'svc_masq');
    assert.match(
      masq?.rules[0] ?? '',
      new RegExp(`meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} .* masquerade`),
    );
  });

  it('hairpin without endpoint chains: this node’s endpoints paired with themselves, masqueraded after DNAT', () => {
    // kube-proxy marks `ip saddr <ep>` in each endpoint chain (proxier.go, "hairpin"); KEP-3866 proposes the
    // set of self-pairs instead. Only this node's endpoints can be their own client here (DNAT is on the client's node).
    const s = section([svc('web', '10.0.5.5')]);
    assert.deepEqual(set(s, 'svc_hairpin_v4')?.elements, ['10.244.0.5 . 10.244.0.5']);
    assert.equal(set(s, 'svc_hairpin_v4')?.type, 'ipv4_addr . ipv4_addr');
    assert.match(
      s.chains.find((c) => c.name === 'svc_masq')?.rules[1] ?? '',
      /^ct status dnat ip saddr \. ip daddr @svc_hairpin_v4 masquerade/,
    );
  });

  it('the per-packet path is one lookup: 1,000 services add map elements, not rules in the base chains', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      svc(`s${i}`, `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`),
    );
    const s = section(many);
    assert.equal(set(s, 'svc_ips_v4')?.elements.length, 1000);
    assert.deepEqual(s.chains.find((c) => c.name === 'svc_dnat')?.rules, [
      'ip daddr . meta l4proto . th dport vmap @svc_ips_v4',
      'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @svc_nodeports_v4',
    ]);
  });

  it('NodePort and LoadBalancer node ports: on the node’s own addresses (not loopback), the frontend chain', () => {
    // kube-proxy nftables mode: service-nodeports map gated by `fib daddr type local`, no NodePorts on
    // 127.0.0.1 (KEP-3866 "Changes from the iptables kube-proxy backend").
    const np = svc('web', '10.0.5.5', {
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }],
    });
    const s = section([np]);
    const [element] = set(s, 'svc_nodeports_v4')?.elements ?? [];
    assert.match(element, /^tcp \. 30080 : goto svc_x_\w+$/);
    const x = s.chains.find((c) => c.name === element.split('goto ')[1]);
    assert.match(x?.rules[0] ?? '', /^ip saddr @svc_pod_cidrs_v4 /);
    assert.deepEqual(mapOf(s, x?.rules[2])?.elements, ['0 : 10.244.0.5 . 8080'], 'Local: this node’s only');
    assert.equal(set(s, 'svc_ips_v4')?.elements.length, 1, 'the ClusterIP entry stays');
    const none = section([np], []);
    assert.deepEqual(set(none, 'svc_noep_nodeports_v4')?.elements, ['tcp . 30080']);
    assert.match(
      none.chains.find((c) => c.name === 'svc_reject')?.rules[1] ?? '',
      /^fib daddr type local ip daddr != 127\.0\.0\.0\/8 meta l4proto \. th dport @svc_noep_nodeports_v4 reject/,
    );
    const cip = section([{ ...np, spec: { ...np.spec, type: 'ClusterIP' } }]);
    assert.deepEqual(set(cip, 'svc_nodeports_v4')?.elements, [], 'a ClusterIP service has no node port');
  });

  it('ClientIP affinity: a dynamic set per endpoint with the timeout, looked up before the random choice', () => {
    // https://kubernetes.io/docs/reference/networking/virtual-ips/#session-affinity; proxier.go affinity sets.
    const s = section([
      svc('web', '10.0.5.5', {
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      }),
    ]);
    const aff = s.sets.filter((x) => x.name.startsWith('svc_a_'));
    assert.equal(aff.length, 3);
    for (const a of aff) assert.equal(a.dynamicTimeoutSeconds, 60);
    const [pool] = chain(s, 'svc_p_');
    assert.equal(pool.rules.filter((r) => /^ip saddr @svc_a_\w+ goto svc_e_\w+$/.test(r)).length, 3);
    assert.match(pool.rules.at(-1) ?? '', /^numgen random mod 3 vmap @svc_m_\w+$/);
    assert.match(chain(s, 'svc_s_')[0].rules.at(-1) ?? '', new RegExp(`^goto ${pool.name}$`));
    for (const c of chain(s, 'svc_e_')) {
      assert.match(c.rules[0], /^update @svc_a_\w+ \{ ip saddr \}$/);
      assert.match(c.rules[1], /^meta l4proto tcp dnat ip to 10\.244\.\d\.\d:8080$/);
    }
    assert.match(renderTable({ family: 'inet', name: 't' }, [s]), /flags dynamic,timeout\n\t\ttimeout 60s/);
  });

  it('internalTrafficPolicy Local: only this node’s endpoints; none here: drop', () => {
    // https://kubernetes.io/docs/concepts/services-networking/service-traffic-policy/
    const s = section([svc('web', '10.0.5.5', { internalTrafficPolicy: 'Local' })]);
    const dnat = chain(s, 'svc_s_')[0].rules.at(-1);
    assert.deepEqual(mapOf(s, dnat)?.elements, ['0 : 10.244.0.5 . 8080']);
    const none = serviceSection(
      compileServiceProxy(
        { services: [svc('web', '10.0.5.5', { internalTrafficPolicy: 'Local' })], endpoints: eps },
        'n3',
        families,
      ),
    );
    assert.match(chain(none, 'svc_s_')[0].rules.at(-1) ?? '', /^drop/);
  });

  it('a service without endpoints is rejected before DNAT; headless and ExternalName services get nothing', () => {
    const s = section(
      [svc('web', '10.0.5.5'), svc('db', 'None'), svc('x', '', { type: 'ExternalName', clusterIPs: [] })],
      [],
    );
    assert.deepEqual(set(s, 'svc_noep_v4')?.elements, ['10.0.5.5 . tcp . 80']);
    assert.equal(set(s, 'svc_ips_v4')?.elements.length, 0);
    const reject = s.chains.find((c) => c.name === 'svc_reject');
    assert.equal(reject?.base?.priority, '-110', 'before dstnat (-100)');
    assert.match(reject?.rules[0] ?? '', /@svc_noep_v4 reject/);
  });

  it('a LoadBalancer frontend: Cluster masquerades; Local keeps the client and only local endpoints', () => {
    const lb = (etp: 'Cluster' | 'Local') =>
      section(
        [svc('web', '10.0.5.5', { type: 'LoadBalancer', externalTrafficPolicy: etp })].map((x) => ({
          ...x,
          status: { loadBalancer: { ingress: [{ ip: '10.224.2.10' }] } },
        })),
      );
    const cluster = lb('Cluster');
    assert.ok(
      set(cluster, 'svc_ips_v4')?.elements.some((e) => /^10\.224\.2\.10 \. tcp \. 80 : goto svc_x_/.test(e)),
    );
    const [x] = chain(cluster, 'svc_x_');
    assert.equal(x.rules.length, 1);
    assert.ok(x.rules[0].startsWith(`${MARK} meta l4proto tcp dnat ip to numgen random mod 3`));
    const l = lb('Local');
    const local = chain(l, 'svc_x_')[0].rules;
    assert.match(
      local[0],
      /^ip saddr @svc_pod_cidrs_v4 meta l4proto tcp dnat .* mod 3 /,
      'pods: every endpoint',
    );
    assert.match(local[1], new RegExp(`^fib saddr type local ${MARK} .* mod 3 `), 'the node: masqueraded');
    assert.ok(!local[2].includes(MARK), 'no masquerade for outside clients');
    assert.deepEqual(mapOf(l, local[2])?.elements, ['0 : 10.244.0.5 . 8080'], 'this node’s endpoint only');
  });

  // https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer ("traffic through the
  // cloud-provider load-balancer will be restricted to the specified client IPs"), as kube-proxy's nftables mode
  // does it: a firewall check of the frontend, with the ranges of the proxy's family only (MapCIDRsByIPFamily).
  it('loadBalancerSourceRanges: the frontend drops other sources first, per family; trimmed as the API allows', () => {
    const lb = (ranges: string[]) => [
      {
        ...svc('web', '10.0.5.5', { type: 'LoadBalancer', loadBalancerSourceRanges: ranges }),
        status: { loadBalancer: { ingress: [{ ip: '198.51.100.4' }] } },
      },
    ];
    const s = section(lb([' 203.0.113.0/24', '2001:db8::/32', '192.0.2.7/32 ']));
    const [x] = chain(s, 'svc_x_');
    assert.equal(
      x.rules[0],
      'ip saddr != { 203.0.113.0/24, 192.0.2.7/32 } drop comment "shop/web:80/tcp: not in loadBalancerSourceRanges"',
    );
    assert.equal(
      chain(s, 'svc_s_')[0].rules.some((r) => r.includes('loadBalancerSourceRanges')),
      false,
      'the ClusterIP is not filtered',
    );
    const entries = compileServiceProxy({ services: lb(['203.0.113.0/24']), endpoints: eps }, 'n1', families)
      .families[0].entries;
    const frontend = entries.find((e) => e.external) as ProxyEntry;
    assert.ok(sourceAllowed(frontend, '203.0.113.10'));
    assert.ok(!sourceAllowed(frontend, '198.18.0.1'));
    assert.ok(
      sourceAllowed(entries.find((e) => !e.external) as ProxyEntry, '198.18.0.1'),
      'ClusterIP: no ranges',
    );
    // Only IPv6 ranges: the IPv4 frontend is not filtered, as kube-proxy's IPv4 proxier sees no range.
    const v6only = chain(section(lb(['2001:db8::/32'])), 'svc_x_')[0];
    assert.equal(
      v6only.rules.some((r) => r.includes('loadBalancerSourceRanges')),
      false,
    );
  });

  it('no services: no section at all (the table is as before)', () => {
    assert.deepEqual(section([]), { name: 'svc', sets: [], chains: [] });
  });
});

describe('proxyRoute: who gets which endpoints, masqueraded or not (the decision the section and trace share)', () => {
  const b = (ip: string, node: string) => ({ ip, port: 8080, node });
  const entry = (over: Partial<ProxyEntry> = {}): ProxyEntry => ({
    ref: 'shop/web:80/tcp',
    service: 'shop/web',
    portName: '80',
    ip: '10.0.5.5',
    protocol: 'tcp',
    port: 80,
    backends: [b('10.244.0.5', 'n1'), b('10.244.1.5', 'n2')],
    localBackends: [b('10.244.0.5', 'n1')],
    internalLocal: false,
    ...over,
  });
  const summary = (e: ProxyEntry) =>
    (['pod', 'node', 'outside'] as const).map((c) => {
      const r = proxyRoute(e, c);
      return `${c}:${r.pool}${r.masquerade ? '+masq' : ''}`;
    });

  it('ClusterIP: pods keep their address, everything else is masqueraded (kube-proxy IfNotLocal)', () => {
    assert.deepEqual(summary(entry()), ['pod:cluster', 'node:cluster+masq', 'outside:cluster+masq']);
    assert.deepEqual(summary(entry({ internalLocal: true })), [
      'pod:local',
      'node:local+masq',
      'outside:local+masq',
    ]);
  });

  it('externalTrafficPolicy: Cluster masquerades to every endpoint; Local keeps outside clients on local ones', () => {
    // https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#preserving-the-client-source-ip;
    // proxier.go: pods short-circuit to the cluster policy chain, the node is masqueraded.
    assert.deepEqual(summary(entry({ external: 'Cluster' })), [
      'pod:cluster+masq',
      'node:cluster+masq',
      'outside:cluster+masq',
    ]);
    assert.deepEqual(summary(entry({ external: 'Local' })), [
      'pod:cluster',
      'node:cluster+masq',
      'outside:local',
    ]);
  });

  it('internalTrafficPolicy Local does not narrow external traffic (externalPolicyChain = clusterPolicyChain)', () => {
    // https://kubernetes.io/docs/concepts/services-networking/service-traffic-policy/: it applies to traffic
    // from internal sources only.
    assert.equal(
      proxyRoute(entry({ internalLocal: true, external: 'Cluster' }), 'outside').targets.length,
      2,
    );
  });
});

describe('one endpoint change is a few element edits', () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) => ep(`p${i}`, `10.244.${i % 2}.${i + 10}`, `n${(i % 2) + 1}`));

  it('keepSlots: a staying endpoint keeps its slot, a freed slot takes the last one, a new one is appended', () => {
    const bk = (ip: string) => ({ ip, port: 80, node: 'n' });
    const prev = ['a', 'b', 'c', 'd'].map(bk);
    assert.deepEqual(
      keepSlots(prev, ['a', 'c', 'd'].map(bk)).map((x) => x.ip),
      ['a', 'd', 'c'],
    );
    assert.deepEqual(
      keepSlots(prev, ['a', 'b', 'c', 'd', 'e'].map(bk)).map((x) => x.ip),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.deepEqual(
      keepSlots(prev, ['a', 'c', 'd', 'e'].map(bk)).map((x) => x.ip),
      ['a', 'e', 'c', 'd'],
    );
    assert.deepEqual(
      keepSlots(prev, ['d'].map(bk)).map((x) => x.ip),
      ['d'],
    );
    assert.deepEqual(
      keepSlots(undefined, ['b', 'a'].map(bk)).map((x) => x.ip),
      ['b', 'a'],
    );
  });

  it('removing or adding one endpoint of one of 50 services with 10 endpoints each: at most 3 elements, 1 chain', () => {
    const services = Array.from({ length: 50 }, (_, i) =>
      svc(`s${i}`, `10.0.5.${i + 1}`, { selector: { app: `a${i}` } }),
    );
    const endpoints = services.flatMap((_, i) =>
      Array.from({ length: 10 }, (_, k) => ({
        ...ep(`p${i}-${k}`, `10.244.${k}.${i + 1}`, `n${(k % 2) + 1}`),
        labels: { app: `a${i}` },
      })),
    );
    const t = { family: 'inet' as const, name: 't' };
    const compile = (list: PodEndpoint[], previous?: ReturnType<typeof compileServiceProxy>) =>
      compileServiceProxy({ services, endpoints: list }, 'n1', families, previous);
    const a = compile(endpoints);
    const changes = {
      'a remote endpoint leaves': endpoints.filter((e) => e.name !== 'p7-3'),
      'a local endpoint leaves': endpoints.filter((e) => e.name !== 'p7-2'),
      'an endpoint comes': [...endpoints, { ...ep('p7-new', '10.244.1.250', 'n2'), labels: { app: 'a7' } }],
    };
    for (const [what, list] of Object.entries(changes)) {
      const d = tableDelta(t, [serviceSection(a)], [serviceSection(compile(list, a))]);
      assert.ok(d, `${what}: an edit, not a replace`);
      // A removal: the freed slot, the last slot, the moved endpoint into the freed slot (+1 hairpin element
      // when it was this node's). An addition: its slot. The service chain's rules (numgen mod N) are the one
      // rewritten object, whatever the number of services.
      assert.ok(d.elements >= 1 && d.elements <= 4, `${what}: elements ${d.elements}`);
      assert.equal(d.objects, 1, what);
    }
  });
});

describe('IPv6 service addresses', () => {
  const families46 = [...families, { family: 6 as const, podCidrs: ['fd00:10:244::/56'] }];
  const dual = [
    { ...ep('a', '10.244.0.5', 'n1'), ips: ['10.244.0.5', 'fd00:10:244::5'] },
    { ...ep('b', '10.244.1.5', 'n2'), ips: ['10.244.1.5', 'fd00:10:244:1::5'] },
  ];
  const s6 = (spec: Partial<Service['spec']>) =>
    serviceSection(
      compileServiceProxy({ services: [svc('web', '10.0.5.5', spec)], endpoints: dual }, 'n1', families46),
    );

  it('a dual-stack service gets an entry per family: `_v6` maps and `dnat ip6 to` the IPv6 endpoints', () => {
    // https://kubernetes.io/docs/concepts/services-networking/dual-stack/#services: one clusterIP per family.
    const s = s6({ clusterIPs: ['10.0.5.5', 'fd00:10::5'], ipFamilies: ['IPv4', 'IPv6'] });
    assert.match(set(s, 'svc_ips_v6')?.elements[0] ?? '', /^fd00:10::5 \. tcp \. 80 : goto svc_s_/);
    assert.equal(set(s, 'svc_ips_v4')?.elements.length, 1);
    const v6chain = chain(s, 'svc_s_').find((c) => c.rules.some((r) => r.includes('ip6')));
    assert.deepEqual(v6chain?.rules[0], `ip6 saddr != @svc_pod_cidrs_v6 ${MARK}`);
    assert.match(
      v6chain?.rules[1] ?? '',
      /^meta l4proto tcp dnat ip6 to numgen random mod 2 map @svc_m_\w+$/,
    );
    assert.deepEqual(mapOf(s, v6chain?.rules[1])?.elements, [
      '0 : fd00:10:244::5 . 8080',
      '1 : fd00:10:244:1::5 . 8080',
    ]);
    assert.equal(mapOf(s, v6chain?.rules[1])?.data, 'ip6 daddr . tcp dport');
    assert.deepEqual(set(s, 'svc_hairpin_v6')?.elements, ['fd00:10:244::5 . fd00:10:244::5']);
    assert.deepEqual(
      s.chains.find((c) => c.name === 'svc_dnat')?.rules.filter((r) => r.includes('@svc_ips')),
      [
        'ip daddr . meta l4proto . th dport vmap @svc_ips_v4',
        'ip6 daddr . meta l4proto . th dport vmap @svc_ips_v6',
      ],
    );
  });

  it('an IPv6 single-stack service has no IPv4 entry; ipFamilies leaves out a family whatever clusterIPs hold', () => {
    const only6 = s6({ clusterIP: 'fd00:10::5', clusterIPs: ['fd00:10::5'], ipFamilies: ['IPv6'] });
    assert.equal(set(only6, 'svc_ips_v4')?.elements.length, 0);
    assert.equal(set(only6, 'svc_ips_v6')?.elements.length, 1);
    const only4 = s6({ clusterIPs: ['10.0.5.5', 'fd00:10::5'], ipFamilies: ['IPv4'] });
    assert.equal(set(only4, 'svc_ips_v6')?.elements.length, 0);
  });

  it('with affinity, the IPv6 endpoint chains DNAT to [addr]:port and record ip6 saddr', () => {
    const s = s6({ clusterIPs: ['fd00:10::5'], ipFamilies: ['IPv6'], sessionAffinity: 'ClientIP' });
    const dnats = chain(s, 'svc_e_').map((c) => c.rules);
    assert.ok(dnats.some((r) => r[1] === 'meta l4proto tcp dnat ip6 to [fd00:10:244::5]:8080'));
    assert.ok(dnats.every((r) => r[0].endsWith('{ ip6 saddr }')));
  });
});

/**
 * Services through apply, as kube-apiserver takes them: defaults (pkg/apis/core/v1/defaults.go
 * SetDefaults_Service), validation (pkg/apis/core/validation/validation.go ValidateService, validateServicePort,
 * ValidateServiceClusterIPsRelatedFields, validateServiceExternalTrafficPolicy, ValidateServiceUpdate), and the
 * registry's allocation (pkg/registry/core/service/ipallocator: "provided IP is already allocated", "not in the
 * valid range", network and broadcast excluded; https://kubernetes.io/docs/reference/networking/virtual-ips/
 * "Avoiding collisions": the static band and the upper band first).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testProfile } from '../agent/test-fixtures.js';
import { PodnetError } from '../errors/index.js';
import type { Document } from '../objects/decode.js';
import { applyDocuments } from '../objects/store.js';
import { fromStored } from '../objects/types.js';
import { KvClusterStore } from '../store/cluster-store.js';
import { MemoryVersionedStore } from '../store/versioned-memory.js';
import { staticBand } from './allocate.js';
import type { Service } from './types.js';

const docs = (...values: unknown[]): { documents: Document[]; problems: [] } => ({
  documents: values.map((value, index) => ({ source: { file: 'svc.yaml', index }, value })),
  problems: [],
});

function svc(name: string, spec: Record<string, unknown>, namespace?: string) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...(namespace ? { namespace } : {}) }, spec };
}
const web = (extra: Record<string, unknown> = {}) =>
  svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }], ...extra });

async function stored(store: MemoryVersionedStore, name: string, ns = 'default'): Promise<Service> {
  const kv = await store.get(`objects/services/${ns}/${name}`);
  assert.ok(kv, `service ${ns}/${name} stored`);
  return fromStored(kv) as Service;
}

/** The problems an apply is refused with (ObjectsInvalid), as kube-apiserver's messages. */
async function refused(store: MemoryVersionedStore, ...values: unknown[]): Promise<string[]> {
  const before = await store.list('');
  await assert.rejects(applyDocuments(store, docs(...values)), (e: unknown) => {
    assert.ok(e instanceof PodnetError && e.code === 'ObjectsInvalid', String(e));
    return true;
  });
  const after = await store.list('');
  assert.deepEqual(after, before, 'a refused apply changes nothing');
  try {
    await applyDocuments(store, docs(...values));
  } catch (e) {
    return ((e as PodnetError).details?.problems as { message: string }[]).map((p) => p.message);
  }
  return [];
}

/** A store holding a cluster profile with `serviceCidr` and `dnsServiceIp`. */
async function clusterStore(serviceCidr = '10.0.0.0/16', dnsServiceIp = '10.0.0.10') {
  const kv = new MemoryVersionedStore();
  await new KvClusterStore(kv).putCluster(testProfile({ serviceCidrs: [serviceCidr], dnsServiceIp }), 0);
  return kv;
}

describe('Service defaults (SetDefaults_Service, normalizeClusterIPs)', () => {
  it('fills type, protocol, targetPort, affinity, traffic policies and IP family fields', async () => {
    const store = await clusterStore();
    await applyDocuments(store, docs(svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] })));
    const s = await stored(store, 'web');
    assert.equal(s.spec.type, 'ClusterIP');
    assert.equal(s.spec.sessionAffinity, 'None');
    assert.equal(s.spec.internalTrafficPolicy, 'Cluster');
    assert.equal(s.spec.externalTrafficPolicy, undefined, 'only externally accessible services get one');
    assert.deepEqual(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.deepEqual(s.spec.ipFamilies, ['IPv4']);
    assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
    assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);
  });

  it('ClientIP affinity gets the 10800 s timeout; LoadBalancer gets Cluster and node ports', async () => {
    const store = await clusterStore();
    await applyDocuments(store, docs(web({ sessionAffinity: 'ClientIP', type: 'LoadBalancer' })));
    const s = await stored(store, 'web');
    assert.deepEqual(s.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
    assert.equal(s.spec.externalTrafficPolicy, 'Cluster');
    assert.equal(s.spec.allocateLoadBalancerNodePorts, true);
    const np = s.spec.ports?.[0].nodePort as number;
    assert.ok(np >= 30000 && np <= 32767, `node port ${np} in the default range`);
    assert.equal(s.spec.healthCheckNodePort, undefined, 'only Local needs a health check port');
  });

  it('externalTrafficPolicy Local on a LoadBalancer allocates a healthCheckNodePort', async () => {
    const store = await clusterStore();
    await applyDocuments(store, docs(web({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' })));
    const s = await stored(store, 'web');
    assert.ok((s.spec.healthCheckNodePort ?? 0) >= 30000);
    assert.notEqual(s.spec.healthCheckNodePort, s.spec.ports?.[0].nodePort);
  });
});

describe('Service validation (ValidateService)', () => {
  it('refuses bad ports, duplicate names, unnamed multi-ports, bad targetPorts and protocols', async () => {
    const store = await clusterStore();
    const problems = await refused(
      store,
      svc('a', { ports: [{ port: 0 }] }),
      svc('b', {
        ports: [
          { name: 'http', port: 80 },
          { name: 'http', port: 81 },
        ],
      }),
      svc('c', { ports: [{ port: 80 }, { port: 81, name: 'x' }] }),
      svc('d', { ports: [{ port: 80, targetPort: 70000 }] }),
      svc('e', { ports: [{ port: 80, targetPort: 'Not_A_Name' }] }),
      svc('f', { ports: [{ port: 80, protocol: 'ICMP' }] }),
      svc('g', { ports: [] }),
      svc('h', { ports: [{ port: 80 }, { port: 80, name: 'b' }].map((p, i) => ({ name: `p${i}`, ...p })) }),
    );
    const has = (s: string) =>
      assert.ok(
        problems.some((p) => p.includes(s)),
        `${s} in\n${problems.join('\n')}`,
      );
    has('spec.ports[0].port: Invalid value: "0": must be between 1 and 65535, inclusive');
    has('spec.ports[1].name: Duplicate value: "http"');
    has('spec.ports[0].name: Required value');
    has('spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive');
    has('spec.ports[0].targetPort: Invalid value: "Not_A_Name"');
    has('spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"');
    has('spec.ports: Required value');
    has('spec.ports[1]: Duplicate value: "{TCP 80}"');
  });

  it('refuses headless LoadBalancers, the kubelet port, affinity timeouts, ETP on ClusterIP, nodePort on ClusterIP', async () => {
    const store = await clusterStore();
    const problems = await refused(
      store,
      svc('a', { type: 'LoadBalancer', clusterIP: 'None', ports: [{ port: 80 }] }),
      svc('b', { type: 'LoadBalancer', ports: [{ port: 10250 }] }),
      svc('c', {
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } },
        ports: [{ port: 80 }],
      }),
      svc('d', { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
      svc('e', { ports: [{ port: 80, nodePort: 30080 }] }),
      svc('f', { type: 'Weird', ports: [{ port: 80 }] }),
      svc('g', { internalTrafficPolicy: 'Nearby', ports: [{ port: 80 }] }),
      svc('h', { clusterIP: 'not-an-ip', ports: [{ port: 80 }] }),
    );
    const has = (s: string) =>
      assert.ok(
        problems.some((p) => p.includes(s)),
        `${s} in\n${problems.join('\n')}`,
      );
    has('spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for LoadBalancer services');
    has(
      'spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since it is used by kubelet',
    );
    has(
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400',
    );
    has(
      'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
    );
    has("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
    has('spec.type: Unsupported value: "Weird"');
    has('spec.internalTrafficPolicy: Unsupported value: "Nearby"');
    has('spec.clusterIPs[0]: Invalid value: "not-an-ip": must be a valid IP address');
  });
});

describe('cluster IP allocation (ipallocator, virtual-ips.md)', () => {
  it('honours a free requested address and refuses one outside the range, the network, the broadcast or taken', async () => {
    const store = await clusterStore('10.0.0.0/16');
    await applyDocuments(store, docs(web({ clusterIP: '10.0.3.3' })));
    assert.equal((await stored(store, 'web')).spec.clusterIP, '10.0.3.3');
    const problems = await refused(
      store,
      svc('out', { clusterIP: '10.1.0.5', ports: [{ port: 80 }] }),
      svc('net', { clusterIP: '10.0.0.0', ports: [{ port: 80 }] }),
      svc('bcast', { clusterIP: '10.0.255.255', ports: [{ port: 80 }] }),
      svc('taken', { clusterIP: '10.0.3.3', ports: [{ port: 80 }] }),
    );
    assert.deepEqual(problems, [
      'spec.clusterIPs: Invalid value: "10.1.0.5": failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/16',
      'spec.clusterIPs: Invalid value: "10.0.0.0": failed to allocate IP 10.0.0.0: the provided IP (10.0.0.0) is not in the valid range. The range of valid IPs is 10.0.0.0/16',
      'spec.clusterIPs: Invalid value: "10.0.255.255": failed to allocate IP 10.0.255.255: the provided IP (10.0.255.255) is not in the valid range. The range of valid IPs is 10.0.0.0/16',
      'spec.clusterIPs: Invalid value: "10.0.3.3": failed to allocate IP 10.0.3.3: provided IP is already allocated',
    ]);
  });

  it('kubernetes.default takes the first address, kube-dns the profile dnsServiceIP, others the upper band', async () => {
    const store = await clusterStore('10.0.0.0/16', '10.0.0.10');
    await applyDocuments(
      store,
      docs(
        svc('kubernetes', { ports: [{ name: 'https', port: 443, targetPort: 6443 }] }, 'default'),
        svc(
          'kube-dns',
          { selector: { k8s: 'dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
          'kube-system',
        ),
        web(),
      ),
    );
    assert.equal((await stored(store, 'kubernetes')).spec.clusterIP, '10.0.0.1');
    assert.equal((await stored(store, 'kube-dns', 'kube-system')).spec.clusterIP, '10.0.0.10');
    const ip = (await stored(store, 'web')).spec.clusterIP as string;
    const offset =
      ip
        .split('.')
        .map(Number)
        .reduce((a, b) => a * 256 + b) -
      (10 << 24) -
      1;
    assert.ok(offset >= Number(staticBand(65534n)), `${ip} is above the static band of 256`);
  });

  it('never hands out one address twice, and refuses when the range is full (a /28: 14 addresses)', async () => {
    const store = await clusterStore('10.0.0.0/28', '10.0.0.10');
    const many = Array.from({ length: 12 }, (_, i) => svc(`s${i}`, { ports: [{ port: 80 }] }));
    await applyDocuments(store, docs(...many));
    const ips = await Promise.all(
      many.map((m) => stored(store, m.metadata.name).then((s) => s.spec.clusterIP)),
    );
    assert.equal(new Set(ips).size, 12, 'all distinct');
    for (const ip of ips)
      assert.ok(!['10.0.0.0', '10.0.0.15', '10.0.0.1', '10.0.0.10'].includes(ip as string), ip);
    const problems = await refused(store, svc('full', { ports: [{ port: 80 }] }));
    assert.deepEqual(problems, [
      'spec.clusterIPs: Invalid value: "10.0.0.0/28": failed to allocate a serviceIP: range is full',
    ]);
  });

  it('an update keeps the allocated address; changing it is refused; a deleted service frees it', async () => {
    const store = await clusterStore();
    await applyDocuments(store, docs(web()));
    const ip = (await stored(store, 'web')).spec.clusterIP as string;
    const [again] = await applyDocuments(store, docs(web()));
    assert.equal(again.action, 'unchanged', 'the manifest without clusterIP is the same object');
    await applyDocuments(store, docs(web({ ports: [{ port: 81 }] })));
    assert.equal((await stored(store, 'web')).spec.clusterIP, ip);
    const problems = await refused(store, web({ clusterIP: '10.0.9.9' }));
    // validateUpgradeDowngradeClusterIPs: only a second family may be added or released.
    assert.deepEqual(problems, ['spec.clusterIPs[0]: Invalid value: 10.0.9.9: may not change once set']);
    await store.txn([], [{ type: 'delete', key: 'objects/services/default/web' }]);
    await applyDocuments(store, docs(svc('other', { clusterIP: ip, ports: [{ port: 80 }] })));
    assert.equal((await stored(store, 'other')).spec.clusterIP, ip);
  });

  it('two applies racing for one address: the second commit fails on the address lock', async () => {
    const store = await clusterStore();
    const a = applyDocuments(store, docs(svc('a', { clusterIP: '10.0.7.7', ports: [{ port: 80 }] })));
    const b = applyDocuments(store, docs(svc('b', { clusterIP: '10.0.7.7', ports: [{ port: 80 }] })));
    const results = await Promise.allSettled([a, b]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one wins');
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(
      lost.reason instanceof PodnetError && ['ObjectConflict', 'ObjectsInvalid'].includes(lost.reason.code),
    );
  });

  it('headless services get no address; ExternalName none and no families', async () => {
    const store = await clusterStore();
    await applyDocuments(
      store,
      docs(
        svc('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] }),
        svc('ext', { type: 'ExternalName', externalName: 'db.example.com' }),
      ),
    );
    const db = await stored(store, 'db');
    assert.deepEqual(
      [db.spec.clusterIP, db.spec.clusterIPs, db.spec.ipFamilies],
      ['None', ['None'], ['IPv4']],
    );
    const ext = await stored(store, 'ext');
    assert.deepEqual([ext.spec.clusterIP, ext.spec.ipFamilies], [undefined, undefined]);
  });

  it('RequireDualStack on a single-stack cluster is refused', async () => {
    const store = await clusterStore();
    const problems = await refused(store, web({ ipFamilyPolicy: 'RequireDualStack' }));
    assert.deepEqual(problems, [
      'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    ]);
  });

  it('a store without a cluster profile allocates from AKS defaults (10.0.0.0/16)', async () => {
    const store = new MemoryVersionedStore();
    await applyDocuments(store, docs(web()));
    assert.match((await stored(store, 'web')).spec.clusterIP as string, /^10\.0\./);
  });
});

/**
 * Dual-stack Services (https://kubernetes.io/docs/concepts/services-networking/dual-stack/#services, and the
 * API server's initIPFamilyFields in pkg/registry/core/service/storage/alloc.go with
 * validateUpgradeDowngradeClusterIPs / validateUpgradeDowngradeIPFamilies in validation.go): a cluster with an
 * IPv4 and an IPv6 service CIDR.
 */
describe('dual-stack services (ipFamilies, ipFamilyPolicy)', () => {
  const V6 = 'fd12:3456:789a:1::/108';
  async function dualStore() {
    const kv = new MemoryVersionedStore();
    const p = testProfile({ serviceCidrs: ['10.0.0.0/16', V6], ipFamilies: ['ipv4', 'ipv6'] });
    await new KvClusterStore(kv).putCluster(p, 0);
    return kv;
  }
  const inV6 = (ip?: string) => /^fd12:3456:789a:1::/.test(ip ?? '');

  it('no policy: SingleStack of the primary family (IPv4), one address', async () => {
    const store = await dualStore();
    await applyDocuments(store, docs(web()));
    const s = await stored(store, 'web');
    assert.deepEqual([s.spec.ipFamilyPolicy, s.spec.ipFamilies], ['SingleStack', ['IPv4']]);
    assert.equal(s.spec.clusterIPs?.length, 1);
    assert.match(s.spec.clusterIP as string, /^10\.0\./);
  });

  it('PreferDualStack and RequireDualStack get an address of each family, in ipFamilies order', async () => {
    const store = await dualStore();
    await applyDocuments(
      store,
      docs(
        svc('a', { selector: { app: 'a' }, ports: [{ port: 80 }], ipFamilyPolicy: 'PreferDualStack' }),
        svc('b', {
          selector: { app: 'b' },
          ports: [{ port: 80 }],
          ipFamilyPolicy: 'RequireDualStack',
          ipFamilies: ['IPv6'],
        }),
      ),
    );
    const a = await stored(store, 'a');
    assert.deepEqual(a.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.match(a.spec.clusterIPs?.[0] ?? '', /^10\.0\./);
    assert.ok(inV6(a.spec.clusterIPs?.[1]), `${a.spec.clusterIPs?.[1]} from the IPv6 service CIDR`);
    const b = await stored(store, 'b');
    assert.deepEqual(b.spec.ipFamilies, ['IPv6', 'IPv4']);
    assert.ok(inV6(b.spec.clusterIP), 'the primary address is IPv6');
    assert.equal(b.spec.clusterIPs?.[0], b.spec.clusterIP);
  });

  it('IPv6 SingleStack; two families without a policy become RequireDualStack; families follow given clusterIPs', async () => {
    const store = await dualStore();
    await applyDocuments(
      store,
      docs(
        svc('six', { selector: { app: 'x' }, ports: [{ port: 80 }], ipFamilies: ['IPv6'] }),
        svc('two', { selector: { app: 'x' }, ports: [{ port: 80 }], ipFamilies: ['IPv4', 'IPv6'] }),
        svc('ips', {
          selector: { app: 'x' },
          ports: [{ port: 80 }],
          clusterIP: 'fd12:3456:789a:1::77',
          clusterIPs: ['fd12:3456:789a:1::77', '10.0.7.7'],
        }),
      ),
    );
    const six = await stored(store, 'six');
    assert.deepEqual([six.spec.ipFamilyPolicy, six.spec.ipFamilies], ['SingleStack', ['IPv6']]);
    assert.ok(inV6(six.spec.clusterIP));
    assert.equal((await stored(store, 'two')).spec.ipFamilyPolicy, 'RequireDualStack');
    const ips = await stored(store, 'ips');
    assert.deepEqual(
      [ips.spec.ipFamilies, ips.spec.ipFamilyPolicy, ips.spec.clusterIPs],
      [['IPv6', 'IPv4'], 'RequireDualStack', ['fd12:3456:789a:1::77', '10.0.7.7']],
    );
  });

  it('SingleStack with two families or two clusterIPs is refused, nothing stored', async () => {
    const store = await dualStore();
    assert.deepEqual(
      await refused(store, web({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4', 'IPv6'] })),
      [
        'spec.ipFamilyPolicy: Invalid value: "SingleStack": must be RequireDualStack or PreferDualStack when multiple \'ipFamilies\' are specified',
      ],
    );
    assert.deepEqual(
      await refused(
        store,
        web({
          ipFamilyPolicy: 'SingleStack',
          clusterIP: '10.0.5.5',
          clusterIPs: ['10.0.5.5', 'fd12:3456:789a:1::5'],
        }),
      ),
      [
        'spec.ipFamilyPolicy: Invalid value: "SingleStack": must be RequireDualStack or PreferDualStack when multiple \'clusterIPs\' are specified',
      ],
    );
  });

  it('a family without a service CIDR on the cluster is refused; PreferDualStack stays single there', async () => {
    const single = await clusterStore();
    assert.deepEqual(await refused(single, web({ ipFamilies: ['IPv6'] })), [
      'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    ]);
    await applyDocuments(single, docs(web({ ipFamilyPolicy: 'PreferDualStack' })));
    const s = await stored(single, 'web');
    assert.deepEqual([s.spec.ipFamilies, s.spec.clusterIPs?.length], [['IPv4'], 1]);
  });

  it('a headless service without a selector is RequireDualStack with both families, even on a single-stack cluster', async () => {
    for (const store of [await dualStore(), await clusterStore()]) {
      await applyDocuments(store, docs(svc('hl', { clusterIP: 'None', ports: [{ port: 80 }] })));
      const s = await stored(store, 'hl');
      assert.deepEqual(
        [s.spec.ipFamilyPolicy, s.spec.ipFamilies, s.spec.clusterIPs],
        ['RequireDualStack', ['IPv4', 'IPv6'], ['None']],
      );
    }
  });

  it('upgrade to PreferDualStack adds an IPv6 address; downgrade needs SingleStack and releases it', async () => {
    const store = await dualStore();
    await applyDocuments(store, docs(web()));
    const ip = (await stored(store, 'web')).spec.clusterIP;
    await applyDocuments(store, docs(web({ ipFamilyPolicy: 'PreferDualStack' })));
    const up = await stored(store, 'web');
    assert.deepEqual([up.spec.clusterIPs?.[0], up.spec.ipFamilies], [ip, ['IPv4', 'IPv6']]);
    assert.ok(inV6(up.spec.clusterIPs?.[1]));
    const problems = await refused(
      store,
      web({ ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4'], clusterIP: ip, clusterIPs: [ip] }),
    );
    assert.deepEqual(problems, [
      'spec.ipFamilyPolicy: Invalid value: "PreferDualStack": must be set to \'SingleStack\' when releasing the secondary clusterIP',
    ]);
    await applyDocuments(store, docs(web({ ipFamilyPolicy: 'SingleStack' })));
    const down = await stored(store, 'web');
    assert.deepEqual([down.spec.clusterIPs, down.spec.ipFamilies], [[ip], ['IPv4']]);
  });
});

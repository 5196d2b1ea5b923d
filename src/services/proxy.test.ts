/**
 * The service proxy section in kube-proxy's nftables shape (pkg/proxy/nftables/proxier.go, README.md;
 * https://kubernetes.io/docs/reference/networking/virtual-ips/: ClientIP affinity, internalTrafficPolicy Local
 * drops without a local endpoint, externalTrafficPolicy Local keeps the client address).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTable } from '../dataplane/nft-table.js';
import type { PodEndpoint } from '../endpoints/record.js';
import { MASQUERADE_MARK, compileServiceProxy, serviceSection } from './proxy.js';
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

describe('service proxy section', () => {
  it('one vmap entry per address . protocol . port, a random choice among all endpoints, DNAT in each', () => {
    const s = section([svc('web', '10.0.5.5')]);
    const map = s.sets.find((x) => x.name === 'svc_ips_v4');
    assert.equal(map?.verdictMap, true);
    assert.equal(map?.elements.length, 1);
    assert.match(map?.elements[0] ?? '', /^10\.0\.5\.5 \. tcp \. 80 : goto svc_s_[0-9a-f]{16}$/);
    const [svcChain] = chain(s, 'svc_s_');
    assert.match(
      svcChain.rules.at(-1) ?? '',
      /^numgen random mod 3 vmap \{ 0 : goto svc_e_\w+, 1 : goto svc_e_\w+, 2 : goto svc_e_\w+ \}$/,
    );
    assert.match(
      svcChain.rules[0],
      /ip saddr != \{ 10\.244\.0\.0\/16 \} meta mark set meta mark \| 0x00004000/,
    );
    const dnats = chain(s, 'svc_e_').map((c) => c.rules.at(-1));
    assert.deepEqual(dnats.sort(), [
      'meta l4proto tcp dnat ip to 10.244.0.5:8080',
      'meta l4proto tcp dnat ip to 10.244.1.5:8080',
      'meta l4proto tcp dnat ip to 10.244.1.6:8080',
    ]);
    for (const c of chain(s, 'svc_e_'))
      assert.match(c.rules[0], /^ip saddr 10\.244\.\d\.\d meta mark set .* hairpin/);
    const masq = s.chains.find((c) => c.name === 'svc_masq');
    assert.match(
      masq?.rules[0] ?? '',
      new RegExp(`meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} .* masquerade`),
    );
  });

  it('the per-packet path is one lookup: 1,000 services add map elements, not rules in the base chains', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      svc(`s${i}`, `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`),
    );
    const s = section(many);
    assert.equal(s.sets.find((x) => x.name === 'svc_ips_v4')?.elements.length, 1000);
    assert.deepEqual(s.chains.find((c) => c.name === 'svc_dnat')?.rules, [
      'ip daddr . meta l4proto . th dport vmap @svc_ips_v4',
    ]);
  });

  it('ClientIP affinity: a dynamic set per endpoint with the timeout, looked up before the random choice', () => {
    const s = section([
      svc('web', '10.0.5.5', {
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      }),
    ]);
    const aff = s.sets.filter((x) => x.name.startsWith('svc_a_'));
    assert.equal(aff.length, 3);
    for (const a of aff) assert.equal(a.dynamicTimeoutSeconds, 60);
    const [svcChain] = chain(s, 'svc_s_');
    assert.equal(svcChain.rules.filter((r) => /^ip saddr @svc_a_\w+ goto svc_e_\w+$/.test(r)).length, 3);
    for (const c of chain(s, 'svc_e_'))
      assert.ok(c.rules.some((r) => /^update @svc_a_\w+ \{ ip saddr \}$/.test(r)));
    assert.match(renderTable({ family: 'inet', name: 't' }, [s]), /flags dynamic,timeout\n\t\ttimeout 60s/);
  });

  it('internalTrafficPolicy Local: only this node’s endpoints; none here: drop', () => {
    const s = section([svc('web', '10.0.5.5', { internalTrafficPolicy: 'Local' })]);
    assert.match(chain(s, 'svc_s_')[0].rules.at(-1) ?? '', /^goto svc_e_/);
    assert.deepEqual(
      chain(s, 'svc_e_').map((c) => c.rules.at(-1)),
      ['meta l4proto tcp dnat ip to 10.244.0.5:8080'],
    );
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
    assert.deepEqual(s.sets.find((x) => x.name === 'svc_noep_v4')?.elements, ['10.0.5.5 . tcp . 80']);
    assert.equal(s.sets.find((x) => x.name === 'svc_ips_v4')?.elements.length, 0);
    const reject = s.chains.find((c) => c.name === 'svc_reject');
    assert.equal(reject?.base?.priority, '-110', 'before dstnat (-100)');
    assert.match(reject?.rules[0] ?? '', /@svc_noep_v4 reject/);
  });

  it('a LoadBalancer frontend: Cluster masquerades; Local keeps the client and only local endpoints', () => {
    const lb = (etp: 'Cluster' | 'Local') =>
      section(
        [svc('web', '10.0.5.5', { type: 'LoadBalancer', externalTrafficPolicy: etp, ...{} })].map((x) => ({
          ...x,
          status: { loadBalancer: { ingress: [{ ip: '10.224.2.10' }] } },
        })),
      );
    const cluster = lb('Cluster');
    assert.ok(
      cluster.sets
        .find((x) => x.name === 'svc_ips_v4')
        ?.elements.some((e) => /^10\.224\.2\.10 \. tcp \. 80 : goto svc_x_/.test(e)),
    );
    assert.deepEqual(chain(cluster, 'svc_x_')[0].rules[0], `meta mark set meta mark | ${MASQUERADE_MARK}`);
    const local = chain(lb('Local'), 'svc_x_')[0].rules;
    assert.ok(
      !local.some((r) => r === `meta mark set meta mark | ${MASQUERADE_MARK}`),
      'no masquerade for outside clients',
    );
    assert.equal(
      local.at(-1),
      `goto ${chain(lb('Local'), 'svc_e_').find((c) => c.rules.at(-1)?.includes('10.244.0.5'))?.name}`,
    );
  });

  it('no services: no section at all (the table is as before)', () => {
    assert.deepEqual(section([]), { name: 'svc', sets: [], chains: [] });
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatIp, ipAt, parseCidr } from '../addr/index.js';
import { netnsEtcDir } from '../kernel/netns.js';
import { execInNetns } from '../kernel/process.js';
import { labDown, labPodAdd, labPodDel, labUp } from '../lab/lab.js';
import type { LabPod } from '../lab/model.js';
import { clusterDir } from '../lab/names.js';
import { podKey } from '../lab/pod-objects.js';
import type { CniResult } from '../lab/pod.js';
import { waitFor } from '../lab/processes.js';
import { readLab, readVnet, requireLab } from '../lab/state.js';
/**
 * Cluster DNS in a real lab, as root: two nodes whose agents serve DNS at the profile's DNS service IP, pods
 * with the resolv.conf the lab wrote from their CNI result, the outside resolver on the internet host. Checks
 * what a user checks from inside a pod, against the Kubernetes DNS specification 1.0.1
 * (https://github.com/kubernetes/dns/blob/master/docs/specification.md) and
 * https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/: glibc's own resolver (getent,
 * nc) walking the search path with ndots:5 for `NAME`, `NAME.NS` and the FQDN; a call by name; headless
 * services' pod addresses (§2.4.1); SRV for named ports (§2.3.2, RFC 2782); NXDOMAIN for unknown names in
 * the zone (§2.3.3 negative answers, RFC 2308); TCP (RFC 7766); relaying other names upstream; a new Service
 * answered without any restart.
 */
import { applyObjects, backendPod, eventually, putPods } from '../lab/testing/service-lab.js';
import { applyDocuments } from '../objects/store.js';
import type { Pod } from '../objects/types.js';
import { openVersionedStore } from '../store/open.js';
import type { VersionedStore } from '../store/versioned.js';
import { resolvConf } from './pod-dns.js';

const name = `dns${randomBytes(2).toString('hex')}`;
const QUERY = fileURLToPath(new URL('./testing/query.js', import.meta.url));
let kv: VersionedStore;

const service = (svc: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: svc, namespace: 'default' },
  spec: { selector: { app: 'be' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...extra },
});

const apply = (...values: unknown[]) => applyObjects(kv, ...values);

/** A program run in the pod as `lab exec` runs it: with the pod's own /etc/resolv.conf. */
const inPod = (pod: LabPod, argv: string[]) => execInNetns(pod.netns, argv, { netnsEtc: true, input: '' });

/** glibc's resolver in the pod (search path, ndots): the addresses of `host`, sorted; [] when none. */
async function getent(pod: LabPod, host: string): Promise<string[]> {
  const r = await inPod(pod, ['getent', 'ahostsv4', host]);
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
    ),
  ].sort();
}

interface Reply {
  rcode: string;
  answers: { type: string; name: string; data: unknown }[];
}

/** One query from the pod to its resolv.conf nameserver, as asked (absolute). */
async function query(
  pod: LabPod,
  qname: string,
  type: string,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<Reply> {
  const r = await inPod(pod, [process.execPath, QUERY, qname, type, transport]);
  assert.equal(r.code, 0, `${qname} ${type} over ${transport}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Reply;
}

const podNamed = (pod: string): LabPod | undefined => requireLab(name).pods.find((p) => p.name === pod);

describe('cluster DNS in a lab', { concurrency: false }, () => {
  let clients: LabPod[];
  let backends: string[];
  let webIp: string;

  before(async () => {
    await labUp({ name, nodes: 2, podsPerNode: 1 });
    clients = requireLab(name).pods;
    kv = await openVersionedStore(requireLab(name).store.url);
    const nodes = requireLab(name).nodes.map((n) => n.name);
    await putPods(kv, backendPod('be-0', nodes[0]), backendPod('be-1', nodes[1]));
    await apply(service('web'), service('db', { clusterIP: 'None' }));
    webIp = JSON.parse((await kv.get('objects/services/default/web'))?.value ?? '{}').spec.clusterIP;
    backends = await eventually('the backends to run', async () => {
      const ips = [podNamed('be-0')?.ip, podNamed('be-1')?.ip];
      return ips.every(Boolean) ? (ips as string[]).sort() : undefined;
    });
  });

  after(async () => {
    await kv?.close();
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  });

  it("each pod's resolv.conf is its CNI result's dns: the DNS service IP, its namespace's search path, ndots:5", async () => {
    const dnsIp = requireLab(name).profile.network.dnsServiceIp;
    for (const c of clients) {
      const dns = (c.cniResult as CniResult | undefined)?.dns;
      assert.deepEqual(dns, {
        nameservers: [dnsIp],
        search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
        options: ['ndots:5'],
      });
      const seen = (await inPod(c, ['cat', '/etc/resolv.conf'])).stdout;
      assert.equal(seen, resolvConf(dns ?? {}));
    }
    const other = await labPodAdd(name, requireLab(name).nodes[1].name, {
      name: 'elsewhere',
      namespace: 'shop',
    });
    assert.match(
      readFileSync(`${netnsEtcDir(other.netns)}/resolv.conf`, 'utf8'),
      /^search shop\.svc\.cluster\.local /m,
    );
    // ... and it goes with the pod.
    await labPodDel(name, 'shop/elsewhere');
    assert.equal(existsSync(netnsEtcDir(other.netns)), false);
  });

  it('from pods on every node: a service by NAME, NAME.NS and FQDN, then called by name over TCP', async () => {
    for (const c of clients) {
      const { dnsServiceIp, serviceCidrs } = requireLab(name).profile.network;
      // The API server's `kubernetes` Service takes the service CIDR's first address.
      const first = formatIp(ipAt(parseCidr(serviceCidrs[0]), 1));
      const want: Record<string, string> = {
        web: webIp,
        'web.default': webIp,
        'web.default.svc.cluster.local': webIp,
        'kube-dns.kube-system': dnsServiceIp,
        'kubernetes.default': first,
      };
      for (const [n, ip] of Object.entries(want))
        assert.deepEqual(await getent(c, n), [ip], `${n} from ${c.name}`);
      const answer = await eventually(`web by name from ${c.name}`, async () => {
        const r = await inPod(c, ['nc', '-N', '-w', '2', 'web', '80']);
        return r.stdout.trim() || undefined;
      });
      assert.match(answer, /^default\/be-[01]$/);
    }
  });

  it('a headless service is its pods; SRV for named ports; NXDOMAIN for unknown names; UDP and TCP alike', async () => {
    const c = clients[0];
    assert.deepEqual(await getent(c, 'db'), backends);
    for (const transport of ['udp', 'tcp'] as const) {
      const srv = await query(c, '_http._tcp.web.default.svc.cluster.local', 'SRV', transport);
      assert.deepEqual(
        srv.answers.map((a) => a.data),
        [{ priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' }],
      );
      const dnsSrv = await query(c, '_dns._udp.kube-dns.kube-system.svc.cluster.local', 'SRV', transport);
      assert.deepEqual(
        dnsSrv.answers.map((a) => (a.data as { port: number }).port),
        [53],
      );
      const headless = await query(c, '_http._tcp.db.default.svc.cluster.local', 'SRV', transport);
      assert.deepEqual(
        headless.answers.map((a) => (a.data as { port: number }).port),
        [8080, 8080],
      );
      const none = await query(c, 'nope.default.svc.cluster.local', 'A', transport);
      assert.deepEqual([none.rcode, none.answers], ['NXDOMAIN', []]);
    }
    assert.deepEqual(await getent(c, 'nope'), []);
  });

  // Kubernetes DNS spec 1.0.1 §2.3.3 / §2.4.3 (PTR), through glibc's gethostbyaddr as a pod runs it.
  it('reverse lookups: a cluster IP gives its service, a backend address its name under each service', async () => {
    const c = clients[0];
    const names = async (ip: string) => {
      const r = await inPod(c, ['getent', 'hosts', ip]);
      const [addr, ...rest] = r.stdout.trim().split(/\s+/);
      return { addr, names: rest.sort() };
    };
    const { dnsServiceIp } = requireLab(name).profile.network;
    assert.deepEqual(await names(dnsServiceIp), {
      addr: dnsServiceIp,
      names: ['kube-dns.kube-system.svc.cluster.local'],
    });
    assert.deepEqual(await names(webIp), { addr: webIp, names: ['web.default.svc.cluster.local'] });
    // A backend of two Services has a PTR under each; glibc's gethostbyaddr takes the first as the name.
    const be = backends[0];
    const host = be.replaceAll('.', '-');
    const both = [`${host}.db.default.svc.cluster.local`, `${host}.web.default.svc.cluster.local`];
    const reverse = `${be.split('.').reverse().join('.')}.in-addr.arpa`;
    for (const transport of ['udp', 'tcp'] as const) {
      const ptr = await query(c, reverse, 'PTR', transport);
      assert.deepEqual(ptr.answers.map((a) => a.data).sort(), both, `PTR over ${transport}`);
    }
    const glibc = await names(be);
    assert.equal(glibc.addr, be);
    assert.ok(glibc.names.length > 0 && glibc.names.every((n) => both.includes(n)), glibc.names.join(' '));
  });

  it('names outside the cluster go to the resolver on the internet host, from pods on every node', async () => {
    const internet = readVnet(requireLab(name).vnet)?.externalHosts.find((h) => h.kind === 'internet');
    for (const c of clients) {
      // `www.example.test` has fewer than 5 dots: glibc tries the search path first (NXDOMAIN in the zone).
      assert.deepEqual(await getent(c, 'www.example.test'), [internet?.ip]);
      const missing = await query(c, 'nothing.example.test', 'A');
      assert.equal(missing.rcode, 'NXDOMAIN');
    }
  });

  it('a new Service resolves at once, without restarting anything', async () => {
    await apply(service('late'));
    const ip = JSON.parse((await kv.get('objects/services/default/late'))?.value ?? '{}').spec.clusterIP;
    for (const c of clients)
      assert.deepEqual(
        await eventually(`late from ${c.name}`, async () => {
          const got = await getent(c, 'late');
          return got.length ? got : undefined;
        }),
        [ip],
      );
  });

  // A StatefulSet's naming (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-hostname-and-subdomain-fields):
  // a pod with spec.hostname and spec.subdomain under the headless Service of that name has its own name.
  it('a pod with hostname and subdomain resolves by HOSTNAME.SUBDOMAIN from every node', async () => {
    const pod = backendPod('sts-0', requireLab(name).nodes[0].name, { app: 'sts' });
    await putPods(kv, { ...pod, spec: { ...pod.spec, hostname: 'sts-0', subdomain: 'sts' } });
    await apply(service('sts', { clusterIP: 'None', selector: { app: 'sts' } }));
    const ip = await eventually('sts-0 to run', async () => podNamed('sts-0')?.ip ?? undefined);
    for (const c of clients)
      assert.deepEqual(
        await eventually(`sts-0.sts from ${c.name}`, async () => {
          const got = await getent(c, 'sts-0.sts');
          return got.length ? got : undefined;
        }),
        [ip],
      );
    const srv = await query(clients[0], '_http._tcp.sts.default.svc.cluster.local', 'SRV');
    assert.deepEqual(
      srv.answers.map((a) => (a.data as { target: string }).target),
      ['sts-0.sts.default.svc.cluster.local'],
    );
  });
});

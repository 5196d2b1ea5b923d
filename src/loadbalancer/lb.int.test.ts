import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../kernel/process.js';
import { labDown, labUp } from '../lab/lab.js';
import type { LabPod } from '../lab/model.js';
import { clusterDir } from '../lab/names.js';
import { podKey } from '../lab/pod-objects.js';
import { waitFor } from '../lab/processes.js';
import { readLab, readVnet, requireLab } from '../lab/state.js';
/**
 * LoadBalancer Services in a real lab, as root: two nodes with real agents, the lab kubelet running applied
 * Pod objects (responders answer `<namespace>/<name>`), the VNet's load balancer in the lab's fabric. What a
 * user checks from outside the cluster, as https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer
 * and .../create-external-load-balancer/#preserving-the-client-source-ip describe it: the outside host reaches
 * the frontend in `status.loadBalancer.ingress` while the pod address stays unreachable (AKS overlay: "Pods
 * ... aren't directly reachable from outside the cluster"); `externalTrafficPolicy: Local` keeps the client's
 * address and only nodes with a local endpoint take traffic, following the endpoint when it moves; the NSGs of
 * the node subnet see the frontend as destination (floating IP) and a deny of its port blocks it, an allow
 * admits it (https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip,
 * https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works).
 */
import { applyObjects, backendPod, eventually, putPods } from '../lab/testing/service-lab.js';
import { decodeManifest } from '../objects/decode.js';
import { serviceKind } from '../objects/kinds/service.js';
import { applyDocuments } from '../objects/store.js';
import { fromStored } from '../objects/types.js';
import type { Pod } from '../objects/types.js';
import type { Service } from '../services/types.js';
import { openVersionedStore } from '../store/open.js';
import type { VersionedStore } from '../store/versioned.js';
import { type TraceResult, trace } from '../trace/trace.js';
import { worldFromStore } from '../trace/world.js';
import { readLbBackends } from '../vnet/lb.js';
import type { Vnet } from '../vnet/model.js';

const name = `lb${randomBytes(2).toString('hex')}`;
const SOURCE_PORT = 9090;
let kv: VersionedStore;
let vnet: Vnet;
let outside: { netns: string; ip: string };
let frontendCidr: string;

const apply = (...values: unknown[]) => applyObjects(kv, ...values);
const putPod = (p: Pod) => putPods(kv, p);
const backend = backendPod;

const loadBalancer = (svc: string, policy: 'Cluster' | 'Local') => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: svc, namespace: 'default' },
  spec: {
    type: 'LoadBalancer',
    externalTrafficPolicy: policy,
    selector: { app: 'be' },
    ports: [
      { name: 'web', port: 80, targetPort: 'http' },
      { name: 'source', port: 90, targetPort: SOURCE_PORT },
    ],
  },
});

async function stored(svc: string): Promise<Service> {
  const got = await kv.get(`objects/services/default/${svc}`);
  assert.ok(got, `service ${svc} stored`);
  return fromStored(got) as Service;
}

/** EXTERNAL-IP as `podnet get svc` prints it. */
const externalIp = async (svc: string) =>
  serviceKind.columns.find((c) => c.header === 'EXTERNAL-IP')?.value(await stored(svc), new Date()) ?? '';

/** One TCP connection from the outside host: the responder's name, or '' when nothing answered. */
async function call(ip: string, port = 80): Promise<string> {
  const r = await execInNetns(outside.netns, ['nc', '-N', '-w', '2', ip, String(port)], { input: '' });
  return r.stdout.trim();
}

async function calls(ip: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await call(ip));
  return out;
}

/** What `podnet trace` decides over the lab's store for a new TCP flow from the outside host to ip:port. */
async function traced(ip: string, port = 80): Promise<TraceResult> {
  const world = await worldFromStore(requireLab(name).store.url);
  return trace(world, { from: outside.ip, to: ip, protocol: 'TCP', port, state: 'new' });
}

const podNamed = (pod: string): LabPod | undefined => requireLab(name).pods.find((p) => p.name === pod);
const nodeIp = (i: number) => requireLab(name).nodes[i].ip;

/** The nodes the VNet's load balancer sends new flows of a frontend to (`nft list table ip podnet_lb_<cluster>`). */
async function routedTo(frontend: string): Promise<string[] | undefined> {
  return (await readLbBackends(vnet.netns, name)).find((r) => r.ip === frontend)?.via;
}

/**
 * The source address a backend pod sees for a connection from the outside host to ip:90: the lab's probe
 * listener runs in the pod's namespace on the Service's target port and reports the peer it accepted.
 */
async function sourceSeen(pod: LabPod, ip: string): Promise<string | null> {
  const script = fileURLToPath(new URL('../lab/probe-listener.js', import.meta.url));
  const listener: NetnsProcess = spawnInNetns(pod.netns, [process.execPath, script, String(SOURCE_PORT)]);
  let out = '';
  listener.stdout?.setEncoding('utf8');
  listener.stdout?.on('data', (d: string) => {
    out += d;
  });
  try {
    await waitFor('the probe listener', 10_000, async () => (out.startsWith('ready\n') ? true : undefined));
    const tag = randomBytes(4).toString('hex');
    return await eventually(`a connection to ${ip}:90 at ${pod.name}`, async () => {
      await execInNetns(outside.netns, ['nc', '-N', '-w', '2', ip, '90'], { input: `${tag}\n` });
      const line = out
        .split('\n')
        .slice(1)
        .find((l) => l.includes(tag));
      return line ? (JSON.parse(line) as { peer: string | null }).peer : undefined;
    });
  } finally {
    listener.stdin?.end();
    listener.kill();
  }
}

describe('LoadBalancer Services in the lab VNet', { concurrency: false }, () => {
  let web: string;
  let local: string;

  before(async () => {
    await labUp({ name, nodes: 2, podsPerNode: 0 });
    const lab = requireLab(name);
    vnet = readVnet(lab.vnet) as Vnet;
    frontendCidr = vnet.clusters.find((c) => c.name === name)?.frontendCidr as string;
    const inet = vnet.externalHosts.find((h) => h.kind === 'internet');
    assert.ok(inet, 'the lab has an internet host');
    outside = { netns: inet.netns, ip: inet.ip };
    kv = await openVersionedStore(lab.store.url);
    await putPod(backend('be-0', lab.nodes[0].name));
    await apply(loadBalancer('web', 'Cluster'), loadBalancer('local', 'Local'));
    web = await externalIp('web');
    local = await externalIp('local');
    await eventually('the backend to run', async () => (podNamed('be-0')?.ip ? true : undefined));
  });

  after(async () => {
    await kv?.close();
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  });

  it("publishes each frontend from the cluster's range as EXTERNAL-IP; the outside reaches it, never the pod", async () => {
    assert.equal(frontendCidr, '198.51.100.0/26');
    assert.match(web, /^198\.51\.100\.([1-9]|[1-5][0-9]|6[01])$/);
    assert.match(local, /^198\.51\.100\./);
    assert.notEqual(web, local);
    assert.equal(
      await eventually('an answer from the frontend', async () => (await call(web)) || undefined),
      'default/be-0',
    );
    const pod = podNamed('be-0') as LabPod;
    assert.equal(await call(pod.ip as string, 8080), '', 'the pod address is not reachable from outside');
    assert.equal(await call(web, 81), '', 'a port without a load balancing rule is not served');
    // And trace says so, and why.
    assert.deepEqual((await traced(web, 81)).decidedBy, [
      { layer: 'service', object: 'default/web', rule: 'no-load-balancing-rule' },
    ]);
    assert.equal((await traced(web)).verdict, 'allow');
  });

  it('Local: only the node with the endpoint takes traffic, and the backend sees the outside address', async () => {
    const pod = podNamed('be-0') as LabPod;
    const only = await eventually('the Local frontend routed to the endpoint node only', async () => {
      const via = await routedTo(local);
      return via?.length === 1 ? via : undefined;
    });
    assert.deepEqual(only, [nodeIp(0)]);
    assert.deepEqual(await routedTo(web), [nodeIp(0), nodeIp(1)].sort(), 'Cluster: every healthy node');
    assert.deepEqual(
      new Set(await calls(local, 8)),
      new Set(['default/be-0']),
      'no flow lands on a node without it',
    );
    assert.equal(await sourceSeen(pod, local), outside.ip, 'Local keeps the client address');
    const viaCluster = await sourceSeen(pod, web);
    assert.ok(
      viaCluster !== outside.ip && [nodeIp(0), nodeIp(1)].includes(viaCluster as string),
      `Cluster: SNAT to a node address, saw ${viaCluster}`,
    );
  });

  it('Local: when the endpoint moves to the other node, the health probes move the traffic with it', async () => {
    const lab = requireLab(name);
    await putPod(backend('be-1', lab.nodes[1].name));
    await eventually('be-1 to run', async () => (podNamed('be-1')?.ip ? true : undefined));
    await kv.txn([], [{ type: 'delete', key: podKey({ namespace: 'default', name: 'be-0' }) }]);
    assert.deepEqual(
      await eventually('the Local frontend to follow the endpoint', async () => {
        const via = await routedTo(local);
        return via?.length === 1 && via[0] === nodeIp(1) ? via : undefined;
      }),
      [nodeIp(1)],
    );
    const answers = await eventually('every flow answered by be-1', async () => {
      const got = await calls(local, 8);
      return got.every((x) => x === 'default/be-1') ? got : undefined;
    });
    assert.equal(answers.length, 8);
  });

  // https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer: loadBalancerSourceRanges
  // restricts the clients; the nodes' proxies drop the others before the DNAT, as kube-proxy does.
  it('loadBalancerSourceRanges: a client in the ranges gets through, one outside them does not; trace agrees', async () => {
    const ranged = (ranges: string[]) => {
      const svc = loadBalancer('ranged', 'Cluster');
      return { ...svc, spec: { ...svc.spec, loadBalancerSourceRanges: ranges } };
    };
    await apply(ranged([`${outside.ip}/32`, '192.0.2.0/24']));
    const ip = await eventually('the ranged frontend', async () => (await externalIp('ranged')) || undefined);
    assert.equal(
      await eventually('an answer from inside the ranges', async () => (await call(ip)) || undefined),
      'default/be-1',
    );
    assert.equal((await traced(ip)).verdict, 'allow');
    await apply(ranged(['192.0.2.0/24']));
    await eventually('the ranges to take effect', async () => ((await call(ip)) === '' ? true : undefined));
    assert.deepEqual(await calls(ip, 3), ['', '', ''], 'the outside host is not in the ranges any more');
    assert.deepEqual((await traced(ip)).decidedBy, [
      { layer: 'service', object: 'default/ranged', rule: 'loadBalancerSourceRanges' },
    ]);
  });

  // https://learn.microsoft.com/azure/load-balancer/distribution-mode-concepts: session persistence "Client
  // IP" hashes source and destination address only, so one client always reaches the same node (Cluster: the
  // backend sees that node's address). cloud-provider-azure sets it for sessionAffinity ClientIP.
  it('sessionAffinity ClientIP: every connection of one client goes through the same node', async () => {
    const svc = loadBalancer('sticky', 'Cluster');
    await apply({ ...svc, spec: { ...svc.spec, sessionAffinity: 'ClientIP' } });
    const ip = await eventually('the sticky frontend', async () => (await externalIp('sticky')) || undefined);
    await eventually('an answer from the sticky frontend', async () => (await call(ip)) || undefined);
    const pod = podNamed('be-1') as LabPod;
    const seen = new Set<string | null>();
    for (let i = 0; i < 6; i++) seen.add(await sourceSeen(pod, ip));
    assert.equal(seen.size, 1, `one node for every connection, saw ${[...seen].join(', ')}`);
    assert.ok([nodeIp(0), nodeIp(1)].includes([...seen][0] as string));
  });

  it("the node subnet's NSG sees the frontend as destination: a deny of its port blocks it, an allow admits it", async () => {
    const subnets = requireLab(name).profile.vnet.subnets.map((s) => ({
      id: `/subscriptions/0/resourceGroups/lab/providers/Microsoft.Network/virtualNetworks/lab-vnet/subnets/${s.name}`,
    }));
    const nsg = (access: 'Allow' | 'Deny') => ({
      name: 'lb-nsg',
      type: 'Microsoft.Network/networkSecurityGroups',
      securityRules: [
        {
          name: 'frontend-web',
          priority: 200,
          direction: 'Inbound',
          access,
          protocol: 'Tcp',
          sourceAddressPrefix: 'Internet',
          sourcePortRange: '*',
          destinationAddressPrefix: local,
          destinationPortRange: '80',
        },
      ],
      subnets,
    });
    await apply(nsg('Deny'));
    await eventually('the deny to take effect', async () => ((await call(local)) === '' ? true : undefined));
    assert.deepEqual(await calls(local, 3), ['', '', ''], 'denied by frontend-web');
    assert.equal(
      await call(web),
      '',
      'the other frontend: DenyAllInBound, as in Azure without an allow rule',
    );
    // Trace agrees, naming the rule: the NSG of the node the load balancer chose sees the frontend address.
    assert.deepEqual((await traced(local)).decidedBy, [
      { layer: 'nsg', object: 'lb-nsg', rule: 'frontend-web' },
    ]);
    assert.deepEqual((await traced(web)).decidedBy, [
      { layer: 'nsg', object: 'lb-nsg', rule: 'DenyAllInBound' },
    ]);
    await apply(nsg('Allow'));
    assert.equal(
      await eventually('the allow to take effect', async () => (await call(local)) || undefined),
      'default/be-1',
    );
    assert.equal(await call(web), '', 'the allow names the Local frontend only');
    const admitted = await traced(local);
    assert.equal(admitted.verdict, 'allow', 'trace: allowed by frontend-web, though the pod address is not');
    assert.ok(admitted.decidedBy.some((d) => d.rule === 'frontend-web'));
    assert.equal((await traced(web)).verdict, 'deny');
  });
});

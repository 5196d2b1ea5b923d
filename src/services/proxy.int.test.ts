import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { execInNetns } from '../kernel/process.js';
import { labDown, labUp } from '../lab/lab.js';
import type { LabPod } from '../lab/model.js';
import { clusterDir } from '../lab/names.js';
import { podKey } from '../lab/pod-objects.js';
import { waitFor } from '../lab/processes.js';
import { readLab, requireLab } from '../lab/state.js';
/**
 * The service proxy in a real lab, as root: two nodes with real agents, pods through the real CNI plugin, the
 * lab kubelet running applied Pod objects (responders answer `<namespace>/<name>`), Services applied through
 * the objects layer as `podnet apply --lab` does. Checks what a user checks with `curl CLUSTER-IP`: reachable
 * from pods on every node and from a node itself, hairpin (a pod through its own service), ClientIP affinity
 * (https://kubernetes.io/docs/reference/networking/virtual-ips/#session-affinity), endpoints following a
 * scale-out and a pod deletion, a named targetPort, and a NodePort reached on another node's address
 * (https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport).
 */
import { applyObjects, backendPod, eventually, putPods } from '../lab/testing/service-lab.js';
import { applyDocuments } from '../objects/store.js';
import type { Pod } from '../objects/types.js';
import { openVersionedStore } from '../store/open.js';
import type { VersionedStore } from '../store/versioned.js';
import type { Service } from './types.js';

/** Each backend also carries its own name as a label, so a Service can select one pod. */
const backend = (pod: string, node: string) => backendPod(pod, node, { pod });

const name = `svc${randomBytes(2).toString('hex')}`;
let kv: VersionedStore;

const apply = (...values: unknown[]) => applyObjects(kv, ...values);

const service = (svc: string, selector: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: svc, namespace: 'default' },
  spec: { selector, ports: [{ name: 'web', port: 80, targetPort: 'http' }], ...extra },
});

async function clusterIp(svc: string): Promise<string> {
  const got = await kv.get(`objects/services/default/${svc}`);
  return (JSON.parse(got?.value ?? '{}') as Service).spec.clusterIP as string;
}

/** One TCP connection to ip:port from `netns`: the responder's name, or '' when nothing answered. */
async function call(netns: string, ip: string, port = 80): Promise<string> {
  const r = await execInNetns(netns, ['nc', '-N', '-w', '2', ip, String(port)], { input: '' });
  return r.stdout.trim();
}

async function calls(netns: string, ip: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await call(netns, ip));
  return out;
}

const podNamed = (pod: string): LabPod | undefined => requireLab(name).pods.find((p) => p.name === pod);

describe('the service proxy in a lab', { concurrency: false }, () => {
  let clients: LabPod[];
  let web: string;

  before(async () => {
    await labUp({ name, nodes: 2, podsPerNode: 1 });
    clients = requireLab(name).pods.filter((p) => p.namespace === 'default' && !p.name.startsWith('be-'));
    kv = await openVersionedStore(requireLab(name).store.url);
    const nodes = requireLab(name).nodes.map((n) => n.name);
    await putPods(kv, backend('be-0', nodes[0]), backend('be-1', nodes[1]));
    await apply(service('web', { app: 'be' }));
    web = await clusterIp('web');
    await eventually('the backends to run', async () =>
      podNamed('be-0')?.ip && podNamed('be-1')?.ip ? true : undefined,
    );
  });

  after(async () => {
    await kv?.close();
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  });

  it('a ClusterIP answers from pods on every node, reaching both backends through the named targetPort', async () => {
    assert.ok(clients.length >= 2, 'a client pod per node');
    for (const c of clients) {
      const seen = await eventually(`both backends from ${c.name}`, async () => {
        // A new pod's endpoint may be published a moment before its responder listens (the lab has no
        // readiness probes): wait until every connection of a round is answered.
        const got = new Set(await calls(c.netns, web, 12));
        return got.has('default/be-0') && got.has('default/be-1') && !got.has('') ? got : undefined;
      });
      assert.deepEqual([...seen].sort(), ['default/be-0', 'default/be-1']);
    }
  });

  it('a node reaches the ClusterIP too (traffic from outside the pod CIDR is masqueraded)', async () => {
    const node = requireLab(name).nodes[0];
    assert.match(
      await eventually('an answer from the node', async () => (await call(node.netns, web)) || undefined),
      /^default\/be-[01]$/,
    );
  });

  it('hairpin: a pod reaches itself through its own service', async () => {
    await apply(service('self', { pod: 'be-0' }));
    const ip = await clusterIp('self');
    const be0 = podNamed('be-0') as LabPod;
    assert.equal(
      await eventually('be-0 through its service', async () => (await call(be0.netns, ip)) || undefined),
      'default/be-0',
    );
  });

  it('sessionAffinity ClientIP: every connection of one client goes to the same backend', async () => {
    await apply(service('sticky', { app: 'be' }, { sessionAffinity: 'ClientIP' }));
    const ip = await clusterIp('sticky');
    for (const c of clients) {
      const first = await eventually(
        `an answer from sticky to ${c.name}`,
        async () => (await call(c.netns, ip)) || undefined,
      );
      assert.deepEqual(
        new Set(await calls(c.netns, ip, 10)),
        new Set([first]),
        `${c.name} stays with ${first}`,
      );
    }
  });

  it('a NodePort answers on a node address, from another node and from a pod', async () => {
    await apply(service('np', { app: 'be' }, { type: 'NodePort' }));
    const got = await kv.get('objects/services/default/np');
    const nodePort = (JSON.parse(got?.value ?? '{}') as Service).spec.ports?.[0].nodePort as number;
    assert.ok(nodePort >= 30000 && nodePort <= 32767, `allocated ${nodePort}`);
    const [n0, n1] = requireLab(name).nodes;
    for (const from of [n0.netns, clients[0].netns])
      assert.match(
        await eventually(
          `${n1.ip}:${nodePort} from ${from}`,
          async () => (await call(from, n1.ip, nodePort)) || undefined,
        ),
        /^default\/be-[01]$/,
      );
  });

  it('endpoints follow a scale-out and a pod deletion', async () => {
    const nodes = requireLab(name).nodes.map((n) => n.name);
    const be2 = backend('be-2', nodes[0]);
    await putPods(kv, be2);
    const c = clients[1];
    await eventually('the new backend to answer', async () =>
      (await calls(c.netns, web, 12)).includes('default/be-2') ? true : undefined,
    );
    await kv.txn([], [{ type: 'delete', key: podKey({ namespace: 'default', name: 'be-1' }) }]);
    // Until its node withdraws the endpoint, connections to the gone pod fail (as in Kubernetes until the
    // EndpointSlice drops it); then every connection is answered by the rest.
    const after = await eventually('be-1 to leave the service', async () => {
      const got = await calls(c.netns, web, 12);
      return got.every((x) => x === 'default/be-0' || x === 'default/be-2') ? got : undefined;
    });
    assert.deepEqual([...new Set(after)].sort(), ['default/be-0', 'default/be-2']);
  });
});

/**
 * Endpoints and Pod objects across processes, in a lab on its own etcd: the node agents (processes in their
 * node namespaces) publish their pods' endpoints, this process watches them as another node would, and the
 * lab kubelet daemon runs a Pod applied to the store. It needs the lab store's versioned object store
 * (`ClusterStore.kv`, see src/endpoints/object-store.ts): with a backend that offers none yet, it is skipped
 * (the same paths run in process in src/agent/endpoints.int.test.ts and src/lab/kubelet.int.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { applyEndpointUpdate, emptyEndpointView } from '../endpoints/view.js';
import { execInNetns } from '../kernel/process.js';
import type { Pod } from '../objects/types.js';
import { openStore } from '../store/open.js';
import type { ClusterStore } from '../store/types.js';
import type { VersionedStore } from '../store/versioned.js';
import { labDown, labPodAdd, labPodDel, labUp } from './lab.js';
import { clusterDir } from './names.js';
import { decodePod, podKey } from './pod-objects.js';
import { waitFor } from './processes.js';
import { readLab, readVnet, requireLab } from './state.js';
import {
  nodesListenOnlyReadOnly,
  nonRootCannotTouchStore,
  podsCannotRewriteLeases,
} from './testing/store-attacks.js';

const name = `epx${randomBytes(2).toString('hex')}`;
const seen = emptyEndpointView();
let store: ClusterStore | null = null;
let kv: VersionedStore;
let stopWatch: () => void = () => {};

/** Waits for `probe` to give a value, as the lab itself waits (`waitFor`), 30 s at most. */
const eventually = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> =>
  waitFor(what, 30_000, async () => probe());

const endpointOf = (ns: string, pod: string) =>
  [...seen.endpoints.values()].find((e) => e.namespace === ns && e.name === pod);

describe('endpoints and Pod objects across processes (lab on etcd)', { concurrency: false }, () => {
  before(async () => {
    const state = await labUp({ name, nodes: 2, podsPerNode: 1, store: 'etcd' });
    store = await openStore(state.store.url);
    kv = store.kv;
    stopWatch = await kv.watch(ENDPOINTS_PREFIX, (u) => applyEndpointUpdate(seen, u));
  });

  after(async () => {
    stopWatch();
    await store?.close();
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  });

  it("every lab pod's endpoint, published by its node's agent, is seen from another process", async () => {
    for (const p of requireLab(name).pods) {
      const e = await eventually(`the endpoint of ${p.name}`, () => endpointOf('default', p.name));
      const node = requireLab(name).nodes.find((n) => n.name === p.node);
      assert.deepEqual([e.ips, e.node, e.nodeIp, e.labels.app], [[p.ip], p.node, node?.ip, 'web']);
      const obj = decodePod((await kv.get(podKey(p))) as { key: string; value: string });
      assert.deepEqual([obj.spec.nodeName, obj.status?.podIP, obj.status?.phase], [p.node, p.ip, 'Running']);
    }
  });

  it('lab pod add publishes, lab pod del withdraws', async () => {
    await labPodAdd(name, 'sys-0', { name: 'extra', namespace: 'shop', labels: { tier: 'front' } });
    const e = await eventually('extra published', () => endpointOf('shop', 'extra'));
    assert.deepEqual(e.labels, { tier: 'front' });
    await labPodDel(name, 'shop/extra');
    await eventually('extra withdrawn', () => (endpointOf('shop', 'extra') ? undefined : true));
  });

  it('a Pod applied with spec.nodeName runs through the kubelet daemon and answers with its name', async () => {
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'api',
        namespace: 'default',
        uid: 'a1c0e6d4-3b7e-4f0a-8c55-2f1d9b0e7a61',
        labels: { app: 'api' },
      },
      spec: { nodeName: 'user-0', containers: [{ name: 'main', ports: [{ containerPort: 8080 }] }] },
    };
    await kv.txn(
      [],
      [{ type: 'put', key: podKey({ namespace: 'default', name: 'api' }), value: JSON.stringify(pod) }],
    );
    const e = await eventually('api published with its labels', () => {
      const x = endpointOf('default', 'api');
      return x?.labels.app === 'api' ? x : undefined;
    });
    const client = requireLab(name).pods.find((p) => p.node === 'sys-0');
    const answer = await eventually('an answer', async () => {
      const r = await execInNetns(client?.netns ?? null, ['nc', '-N', '-w', '2', e.ips[0], '8080'], {
        input: '',
      });
      return r.stdout.trim() || undefined;
    });
    assert.equal(answer, 'default/api');
    await kv.txn([], [{ type: 'delete', key: podKey({ namespace: 'default', name: 'api' }) }]);
    await eventually('api withdrawn', () => (endpointOf('default', 'api') ? undefined : true));
    // The kubelet removes the pod from the lab after its endpoint is withdrawn; the next test walks the lab's pods.
    await eventually('api gone from the lab', () =>
      requireLab(name).pods.some((p) => p.name === 'api') ? undefined : true,
    );
  });

  // Issue 14, fault 1: from inside a pod, one HTTP PUT to the lab etcd at a subnet gateway rewrote another node's
  // lease. The agents' guard now drops pod traffic to every gateway etcd listens on; the nodes still reach it.
  it('a pod cannot open a connection to the store at any gateway; its node can', async () => {
    const state = requireLab(name);
    const port = String(state.store.etcd?.clientPort);
    const gateways = (readVnet(state.vnet)?.subnets ?? [])
      .filter((s) => s.cluster === name)
      .map((s) => s.gateway);
    assert.equal(gateways.length, 2);
    for (const gw of gateways) {
      for (const p of state.pods.filter((x) => x.namespace === 'default')) {
        const r = await execInNetns(p.netns, ['nc', '-z', '-w', '2', gw, port]);
        assert.notEqual(r.code, 0, `pod ${p.name} reached etcd at ${gw}:${port}`);
      }
      for (const n of state.nodes) {
        const r = await execInNetns(n.netns, ['nc', '-z', '-w', '2', gw, port]);
        assert.equal(r.code, 0, `node ${n.name} must reach etcd at ${gw}:${port}: ${r.stderr}`);
      }
    }
  });

  // Issue 14, fault 1 on the etcd backend: the lab etcd runs with mutual TLS, each agent with its own certificate.
  it('the attack of issue 14 fails: a pod PUT to the etcd gateway API, the node without a certificate', async () => {
    await podsCannotRewriteLeases(requireLab(name));
    await nodesListenOnlyReadOnly(requireLab(name));
  });

  it('a local non-root user can neither list nor change the etcd store (CLI, socket, loopback, keys)', async () => {
    await nonRootCannotTouchStore(requireLab(name));
  });
});

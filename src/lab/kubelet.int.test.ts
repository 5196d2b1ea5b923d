/**
 * Pod objects become real pods, end to end, as root: a real lab (VNet, two nodes with real agents, pods
 * through the real CNI plugin) and the lab kubelet over a versioned store. A Pod applied with
 * `spec.nodeName` and TCP/UDP/SCTP container ports runs on that node and answers on each port with its
 * name; deleting the object removes the pod. Everything goes through the lab's own store and the lab's own
 * kubelet daemon (started by `lab up`), as `podnet apply --lab` would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { listNetns } from '../kernel/netns.js';
import { execInNetns } from '../kernel/process.js';
import type { Pod } from '../objects/types.js';
import { openVersionedStore } from '../store/open.js';
import type { VersionedStore } from '../store/versioned.js';
import { addLabPod, deleteLabPod, labDown, labUp } from './lab.js';
import type { LabPod } from './model.js';
import { clusterDir } from './names.js';
import { decodePod, podKey } from './pod-objects.js';
import { isOurs, waitFor } from './processes.js';
import { readLab, requireLab, withLabLock } from './state.js';
import {
  nodesListenOnlyReadOnly,
  nonRootCannotTouchStore,
  podsCannotRewriteLeases,
} from './testing/store-attacks.js';

const name = `ept${randomBytes(2).toString('hex')}`;
let kv: VersionedStore;
/** The kubelet daemon resyncs every 5 s: twice that is long enough for it to have acted on any change. */
const KUBELET_RESYNCS_MS = 10_000;

/** Linux without SCTP (CONFIG_IP_SCTP unset, as in some VM kernels) refuses the socket: nothing to probe. */
async function kernelHasSctp(): Promise<boolean> {
  const r = await execInNetns(null, ['socat', '-u', '/dev/null', 'SCTP-CONNECT:127.0.0.1:9']);
  return !/Protocol not supported|Address family not supported/.test(r.stderr);
}

/** Waits for `probe` to give a value, as the lab itself waits (`waitFor`), 30 s at most. */
const eventually = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> =>
  waitFor(what, 30_000, async () => probe());

async function storedPod(ns: string, pod: string): Promise<Pod | null> {
  const got = await kv.get(podKey({ namespace: ns, name: pod }));
  return got ? decodePod(got) : null;
}

const podOf = (ns: string, pod: string): LabPod | undefined =>
  requireLab(name).pods.find((p) => p.namespace === ns && p.name === pod);

const web: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web',
    namespace: 'shop',
    uid: '6c1f8a52-0d0e-4c8e-9b7e-5d0b1c2a3f40',
    labels: { app: 'web' },
  },
  spec: {
    nodeName: 'user-0',
    containers: [
      {
        name: 'main',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'dns', containerPort: 5353, protocol: 'UDP' },
          { name: 'sig', containerPort: 9000, protocol: 'SCTP' },
        ],
      },
    ],
  },
};

describe('Pod objects in a lab', { concurrency: false }, () => {
  let client: LabPod;

  before(async () => {
    await labUp({ name, nodes: 2, podsPerNode: 1 });
    client = requireLab(name).pods.find((p) => p.node === 'sys-0') as LabPod;
    kv = await openVersionedStore(requireLab(name).store.url);
  });

  after(async () => {
    await kv?.close();
    if (readLab(name) || existsSync(clusterDir(name))) await labDown(name).catch(() => {});
  });

  it('lab up gave its pods a namespace and labels', () => {
    for (const p of requireLab(name).pods) {
      assert.equal(p.namespace, 'default');
      assert.deepEqual(Object.keys(p.labels ?? {}).sort(), ['app', 'pool']);
    }
  });

  it('a Pod with spec.nodeName starts there through the CNI path, and its status shows it', async () => {
    await kv.txn(
      [],
      [{ type: 'put', key: podKey({ namespace: 'shop', name: 'web' }), value: JSON.stringify(web) }],
    );
    const pod = await eventually('the pod to run', async () => {
      const p = podOf('shop', 'web');
      return p?.ip ? p : undefined;
    });
    assert.equal(pod.node, 'user-0');
    assert.equal(pod.netns, `pl-${name}-pod-shop.web`);
    assert.ok((await listNetns()).includes(pod.netns));
    const node = requireLab(name).nodes.find((n) => n.name === 'user-0');
    const status = await eventually('its status', async () => {
      const s = (await storedPod('shop', 'web'))?.status;
      return s?.phase === 'Running' ? s : undefined;
    });
    assert.deepEqual(status, {
      phase: 'Running',
      hostIP: node?.ip,
      hostIPs: [{ ip: node?.ip }],
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
    });
  });

  it('answers with its name on its TCP and UDP ports, from a pod on another node', async () => {
    const ip = podOf('shop', 'web')?.ip as string;
    const tcp = await eventually('a TCP answer', async () => {
      const r = await execInNetns(client.netns, ['nc', '-N', '-w', '2', ip, '8080'], { input: '' });
      return r.stdout.trim() || undefined;
    });
    assert.equal(tcp, 'shop/web');
    const udp = await eventually('a UDP answer', async () => {
      const r = await execInNetns(client.netns, ['nc', '-u', '-w', '1', ip, '5353'], { input: 'who\n' });
      return r.stdout.trim() || undefined;
    });
    assert.equal(udp, 'shop/web');
  });

  it('answers with its name on its SCTP port', async (t) => {
    if (!(await kernelHasSctp())) {
      t.skip('this kernel has no SCTP (CONFIG_IP_SCTP is not set)');
      return;
    }
    const ip = podOf('shop', 'web')?.ip as string;
    const sctp = await eventually('an SCTP answer', async () => {
      const r = await execInNetns(client.netns, ['socat', '-u', `SCTP-CONNECT:${ip}:9000`, 'STDOUT']);
      return r.stdout.trim() || undefined;
    });
    assert.equal(sctp, 'shop/web');
  });

  it('deleting the object stops the pod: CNI DEL, namespace and responder gone', async () => {
    const pod = podOf('shop', 'web') as LabPod;
    await kv.txn([], [{ type: 'delete', key: podKey(pod) }]);
    await eventually('the pod to stop', async () => (podOf('shop', 'web') ? undefined : true));
    assert.ok(!(await listNetns()).includes(pod.netns), 'its namespace is gone');
    assert.equal(isOurs(pod.responderPid as number, `${clusterDir(name)}/`), false, 'its responder is gone');
    const r = await execInNetns(client.netns, ['nc', '-N', '-w', '1', pod.ip as string, '8080'], {
      input: '',
    });
    assert.equal(r.stdout.trim(), '', 'nothing answers at its address');
  });

  it('a pod the lab adds itself is a Pod object with its labels; deleting the pod deletes the object', async () => {
    const pod = await withLabLock(name, () =>
      addLabPod(requireLab(name), 'sys-0', { name: 'cli', namespace: 'shop', labels: { tier: 'front' } }, kv),
    );
    const o = await storedPod('shop', 'cli');
    assert.equal(o?.spec.nodeName, 'sys-0');
    assert.deepEqual(o?.metadata.labels, { tier: 'front' });
    assert.equal(o?.metadata.uid, pod.uid);
    assert.equal(o?.status?.podIP, pod.ip);
    assert.ok(await kv.get('objects/namespaces/shop'), 'its namespace object exists');
    await new Promise((r) => setTimeout(r, KUBELET_RESYNCS_MS));
    assert.ok(podOf('shop', 'cli'), 'the kubelet leaves a pod with a live object alone');
    await withLabLock(name, () => deleteLabPod(requireLab(name), 'shop/cli', kv));
    assert.equal(await storedPod('shop', 'cli'), null);
  });

  // Issue 14, fault 1 on the sqlite backend (the same attacks as on etcd, src/lab/endpoints.int.test.ts).
  it('the attack of issue 14 fails on a sqlite store: from a pod, and as a local non-root user', async () => {
    await podsCannotRewriteLeases(requireLab(name));
    await nodesListenOnlyReadOnly(requireLab(name));
    await nonRootCannotTouchStore(requireLab(name));
  });
});

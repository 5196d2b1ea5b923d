/**
 * What the lab tests of Services (the proxy, cluster DNS, the load balancer) share: backend Pods written to the
 * lab's store for its kubelet to start, objects applied as `podnet apply` applies them, and a bounded wait.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeManifest } from '../../objects/decode.js';
import { applyDocuments } from '../../objects/store.js';
import type { Pod } from '../../objects/types.js';
import type { VersionedStore } from '../../store/versioned.js';
import { LAB_POD_IMAGE, podKey } from '../pod-objects.js';
import { waitFor } from '../processes.js';

export const eventually = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  waitFor(what, 30_000, probe);

/** A Pod labelled `app: be` on `node`, answering on its named port `http` (8080) with its name. */
export const backendPod = (pod: string, node: string, labels: Record<string, string> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: pod,
    namespace: 'default',
    uid: randomBytes(16).toString('hex'),
    labels: { app: 'be', ...labels },
  },
  // A valid Pod, as apply would have stored it (trace re-reads the store's objects with apply's checks).
  spec: {
    nodeName: node,
    containers: [{ name: 'main', image: LAB_POD_IMAGE, ports: [{ name: 'http', containerPort: 8080 }] }],
  },
});

/** Writes Pods to the store in one transaction, as the API server would hand them to the kubelet. */
export const putPods = (kv: VersionedStore, ...pods: Pod[]) =>
  kv.txn(
    [],
    pods.map((p) => ({
      type: 'put' as const,
      key: podKey({ namespace: p.metadata.namespace ?? 'default', name: p.metadata.name }),
      value: JSON.stringify(p),
    })),
  );

/** Applies objects as `podnet apply -f` does: decoded and validated first, then in one transaction. */
export async function applyObjects(kv: VersionedStore, ...values: unknown[]): Promise<void> {
  const decoded = decodeManifest(JSON.stringify(values), 'test.json');
  assert.deepEqual(decoded.problems, []);
  await applyDocuments(kv, decoded);
}

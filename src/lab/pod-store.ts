/**
 * The lab's Pod objects in the cluster store (thin: the decisions are in pod-objects.ts): create one for a
 * pod the lab starts, report its status as kubelet does, delete it with the pod. Every update is
 * compare-and-swap on the object's revision, so a label change applied meanwhile is never overwritten.
 */
import { objectStoreOf } from '../endpoints/object-store.js';
import { PodnetError } from '../errors/index.js';
import type { Pod } from '../objects/types.js';
import { openStore } from '../store/open.js';
import { type VersionedStore, createKey } from '../store/versioned.js';
import type { LabNode, LabPod, LabState } from './model.js';
import {
  decodePod,
  labPodObject,
  namespaceKey,
  namespaceObject,
  podKey,
  runningStatus,
} from './pod-objects.js';

const CAS_ATTEMPTS = 5;

/** Runs `fn` with the lab store's object store, or null when its backend offers none yet. */
export async function withObjects<T>(
  state: LabState,
  fn: (kv: VersionedStore | null) => Promise<T>,
): Promise<T> {
  const store = await openStore(state.store.url);
  try {
    return await fn(objectStoreOf(store));
  } finally {
    await store.close();
  }
}

/** Creates the pod's namespace (when missing) and its Pod object, bound to its node; returns the object. */
export async function createPodObject(kv: VersionedStore, pod: LabPod): Promise<Pod> {
  await createKey(kv, namespaceKey(pod.namespace), JSON.stringify(namespaceObject(pod.namespace)));
  const obj = labPodObject(pod, pod.node);
  if (!(await createKey(kv, podKey(pod), JSON.stringify(obj)))) {
    throw new PodnetError('PodExists', `the store already holds a Pod ${pod.namespace}/${pod.name}`, {
      field: '--pod',
      hint: 'pick another name, or delete that Pod first',
    });
  }
  return obj;
}

/** Changes the pod's own object (same uid) with `change`; false when it is gone or is another pod's now. */
async function updateOwn(kv: VersionedStore, pod: LabPod, change: (o: Pod) => Pod | null): Promise<boolean> {
  for (let i = 0; i < CAS_ATTEMPTS; i++) {
    const kv0 = await kv.get(podKey(pod));
    if (!kv0) return false;
    const o = decodePod(kv0);
    if (o.metadata.uid !== pod.uid) return false;
    const next = change(o);
    const ops = next
      ? [{ type: 'put' as const, key: kv0.key, value: JSON.stringify(next) }]
      : [{ type: 'delete' as const, key: kv0.key }];
    if ((await kv.txn([{ key: kv0.key, modRevision: kv0.modRevision }], ops)).succeeded) return true;
  }
  return false;
}

/** Reports the running pod's status (phase, pod IP, host IP) into its object. */
export function reportRunning(kv: VersionedStore, pod: LabPod, node: LabNode): Promise<boolean> {
  return updateOwn(kv, pod, (o) => ({ ...o, status: { ...o.status, ...runningStatus(pod, node) } }));
}

/** Deletes the pod's own object (not a newer one of the same name). */
export function deletePodObject(kv: VersionedStore, pod: LabPod): Promise<boolean> {
  return updateOwn(kv, pod, () => null);
}

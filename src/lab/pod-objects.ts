/**
 * Lab pods as Kubernetes `Pod` objects (src/objects/types.ts), the way kubelet's pods are API objects: what
 * the lab writes for a pod it starts, the status it reports, what a stored Pod means for the lab, and what
 * the lab kubelet must do to make its running pods match the Pod objects bound to its nodes. Pure.
 */
import { randomUUID } from 'node:crypto';
import { PodnetError } from '../errors/index.js';
import { namespaceKind } from '../objects/kinds/namespace.js';
import { podKind } from '../objects/kinds/pod.js';
import {
  type ContainerPort,
  type KubeObject,
  type L4Protocol,
  type Pod,
  type PodStatus,
  objectKey,
} from '../objects/types.js';
import { parseJson, storeCorrupt } from '../store/records.js';
import type { KeyValue } from '../store/versioned.js';
import type { LabNode, LabPod } from './model.js';

export const PODS_PREFIX = 'objects/pods/';

export const podKey = (p: { namespace: string; name: string }) => objectKey('pods', p.name, p.namespace);
export const namespaceKey = (ns: string) => objectKey('namespaces', ns);

/** RFC 3339 in seconds, as the API server writes timestamps. */
const timestamp = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/** The Pod object of a pod the lab starts itself (`lab up`, `lab pod add`), bound to its node. */
export function labPodObject(
  pod: Pick<LabPod, 'name' | 'namespace' | 'labels' | 'ports'>,
  node: string,
  now = new Date(),
): Pod {
  // Shaped and defaulted as `podnet apply` stores a Pod (the kind's own defaults), so every reader of the
  // store, trace included, takes the lab's pods as it takes applied ones. The "image" names what runs: the
  // lab's responder.
  return podKind.prepare(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod.name,
        namespace: pod.namespace,
        uid: randomUUID(),
        creationTimestamp: timestamp(now),
        labels: pod.labels ?? {},
      },
      spec: {
        nodeName: node,
        containers: [
          { name: 'main', image: LAB_POD_IMAGE, ...(pod.ports?.length ? { ports: pod.ports } : {}) },
        ],
      },
    },
    null,
  ) as Pod;
}

/** The image lab pods name: they run podnet's responder, not a container. */
export const LAB_POD_IMAGE = 'podnet.io/lab-responder:v1';

export function namespaceObject(ns: string, now = new Date()): KubeObject {
  return namespaceKind.prepare(
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, uid: randomUUID(), creationTimestamp: timestamp(now) },
    },
    null,
  );
}

/** The status kubelet reports for a running pod: its address from the CNI result, its node's address. */
export function runningStatus(pod: LabPod, node: LabNode): PodStatus {
  return {
    phase: 'Running',
    hostIP: node.ip,
    hostIPs: [{ ip: node.ip }, ...(node.ip6 ? [{ ip: node.ip6 }] : [])],
    ...(pod.ip ? { podIP: pod.ip, podIPs: [{ ip: pod.ip }, ...(pod.ip6 ? [{ ip: pod.ip6 }] : [])] } : {}),
  };
}

/** A stored Pod as the lab reads it; anything that is not one is `StoreCorrupt` naming the key. */
export function decodePod(kv: Pick<KeyValue, 'key' | 'value'>): Pod {
  const o = parseJson(kv.value, kv.key) as Partial<Pod> | null;
  const m = o?.metadata;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.kind !== 'Pod' ||
    typeof m?.name !== 'string' ||
    typeof m.namespace !== 'string' ||
    kv.key !== podKey({ namespace: m.namespace, name: m.name }) ||
    !Array.isArray(o.spec?.containers)
  ) {
    throw storeCorrupt(kv.key, 'it is not a Pod object stored under its own namespace and name');
  }
  return o as Pod;
}

/** The container ports of a Pod, protocol defaulted to TCP as the API server defaults it. */
export function podPorts(pod: Pod): ContainerPort[] {
  return pod.spec.containers.flatMap((c) =>
    (c.ports ?? []).map((p) => ({ ...p, protocol: (p.protocol ?? 'TCP') as L4Protocol })),
  );
}

export interface KubeletPlan {
  /** Pod objects bound to a lab node that run nowhere yet. */
  start: Pod[];
  /** Lab pods whose Pod object was deleted (or replaced by another with a new uid). */
  stop: LabPod[];
  /** Running lab pods whose object does not show their status yet. */
  report: { pod: LabPod; object: Pod }[];
}

const ref = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

/**
 * Level-based: compares the Pod objects with the lab's running pods. A lab pod started without an object
 * store (no uid) is left alone; one whose object went away is stopped; an object bound to a node of the
 * lab with no pod is started (after the old pod of the same name stopped, when its uid changed).
 */
export function kubeletPlan(objects: Pod[], pods: LabPod[], nodes: LabNode[]): KubeletPlan {
  const mine = objects.filter((o) => nodes.some((n) => n.name === o.spec.nodeName));
  const byRef = new Map(mine.map((o) => [ref(o.metadata as { namespace: string; name: string }), o]));
  const plan: KubeletPlan = { start: [], stop: [], report: [] };
  const running = new Set<string>();
  for (const pod of pods) {
    const o = byRef.get(ref(pod));
    if (pod.uid !== undefined && (!o || o.metadata.uid !== pod.uid)) {
      plan.stop.push(pod);
      continue;
    }
    running.add(ref(pod));
    const node = nodes.find((n) => n.name === pod.node);
    if (o && node && pod.ip && !sameStatus(o.status, runningStatus(pod, node)))
      plan.report.push({ pod, object: o });
  }
  for (const [r, o] of byRef) if (!running.has(r) && !plan.stop.some((p) => ref(p) === r)) plan.start.push(o);
  return plan;
}

function sameStatus(have: PodStatus | undefined, want: PodStatus): boolean {
  if (!have) return false;
  return (
    have.phase === want.phase &&
    have.podIP === want.podIP &&
    have.hostIP === want.hostIP &&
    JSON.stringify(have.podIPs) === JSON.stringify(want.podIPs)
  );
}

// Kubernetes label syntax (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue).
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash < 0 ? [null, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== null && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return 'its prefix must be a DNS subdomain (lower case, at most 253 characters)';
  if (!LABEL_NAME.test(name))
    return 'its name must be 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return null;
}

/** `k=v,k2=v2` as `--labels` takes it (kubectl's `--labels` form), checked with Kubernetes' label rules. */
export function parseLabels(text: string, field = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const pair of text.split(',')) {
    const i = pair.indexOf('=');
    const [key, value] = i < 0 ? [pair, null] : [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
    const problem =
      value === null
        ? 'it has no "=value"'
        : (labelKeyProblem(key) ??
          (value !== '' && !LABEL_NAME.test(value)
            ? 'its value must be empty or 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit'
            : key in labels
              ? 'the key is given twice'
              : null));
    if (problem) {
      throw new PodnetError('InvalidLabel', `label "${pair.slice(0, 80)}" is not valid: ${problem}`, {
        field,
        hint: 'pass labels as key=value pairs separated by commas, e.g. --labels app=web,tier=front',
      });
    }
    labels[key] = value as string;
  }
  return labels;
}

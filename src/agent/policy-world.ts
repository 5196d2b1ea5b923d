/**
 * The world a node's NetworkPolicy section is compiled from (src/policy/types.ts `PolicyWorld`), out of what
 * the agent watches in the cluster store: NetworkPolicy, Namespace and Pod objects, and the pod endpoints the
 * agents publish. Pure.
 *
 * A pod is a running attachment (an endpoint: its addresses and node), named by the runtime; its labels,
 * container ports and hostNetwork come from its `Pod` object when the store has one (fresher than the labels
 * copied into the endpoint, and the only source of named ports), else from the endpoint. An endpoint without
 * a pod name is not a Kubernetes pod: no selector picks it (an ipBlock still covers its address). An object
 * that does not decode is left out and reported, so one foreign key never blinds a node to the rest.
 */
import type { PodEndpoint } from '../endpoints/record.js';
import { NAMESPACE_NAME_LABEL } from '../objects/kinds/namespace.js';
import type { L4Protocol, Pod } from '../objects/types.js';
import type { NetworkPolicy, PolicyPod, PolicyWorld } from '../policy/types.js';

export const POLICY_PREFIXES = {
  policies: 'objects/networkpolicies.networking.k8s.io/',
  namespaces: 'objects/namespaces/',
  pods: 'objects/pods/',
} as const;

export interface PolicyObjects {
  /** Stored text by key, per prefix of POLICY_PREFIXES. */
  policies: ReadonlyMap<string, string>;
  namespaces: ReadonlyMap<string, string>;
  pods: ReadonlyMap<string, string>;
  endpoints: Iterable<PodEndpoint>;
}

type Obj = { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown; labels?: unknown } };

function decode<T>(key: string, value: string, kind: string, bad: string[]): T | null {
  try {
    const o = JSON.parse(value) as Obj;
    if (o?.kind === kind && typeof o.metadata?.name === 'string') return o as T;
  } catch {}
  bad.push(key);
  return null;
}

const textMap = (v: unknown): Record<string, string> =>
  typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string')
    ? (v as Record<string, string>)
    : {};

/** The policy world, and the keys that did not decode as the object their prefix holds. */
export function policyWorld(o: PolicyObjects): { world: PolicyWorld; corrupt: string[] } {
  const corrupt: string[] = [];
  const namespaces = new Map<string, Record<string, string>>();
  for (const [key, value] of o.namespaces) {
    const ns = decode<{ metadata: { name: string; labels?: unknown } }>(key, value, 'Namespace', corrupt);
    if (ns)
      namespaces.set(ns.metadata.name, {
        ...textMap(ns.metadata.labels),
        [NAMESPACE_NAME_LABEL]: ns.metadata.name,
      });
  }
  const podObjects = new Map<string, Pod>();
  for (const [key, value] of o.pods) {
    const p = decode<Pod>(key, value, 'Pod', corrupt);
    if (p && Array.isArray(p.spec?.containers))
      podObjects.set(`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, p);
  }
  const policies: NetworkPolicy[] = [];
  for (const [key, value] of o.policies) {
    const p = decode<NetworkPolicy>(key, value, 'NetworkPolicy', corrupt);
    if (p && typeof p.spec === 'object' && p.spec !== null) policies.push(p);
  }
  const pods = new Map<string, PolicyPod>();
  for (const e of o.endpoints) {
    if (e.namespace === null || e.name === null) continue;
    const key = `${e.namespace}/${e.name}`;
    const known = pods.get(key);
    if (known) {
      known.ips.push(...e.ips.filter((ip) => !known.ips.includes(ip)));
      continue;
    }
    const obj = podObjects.get(key);
    pods.set(key, {
      namespace: e.namespace,
      name: e.name,
      labels: obj ? textMap(obj.metadata.labels) : e.labels,
      ips: [...e.ips],
      node: e.node,
      ports: (obj?.spec.containers ?? []).flatMap((c) =>
        (c.ports ?? []).map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          containerPort: p.containerPort,
          protocol: (p.protocol ?? 'TCP') as L4Protocol,
        })),
      ),
      ...(obj?.spec.hostNetwork ? { hostNetwork: true } : {}),
    });
  }
  for (const p of pods.values()) {
    if (!namespaces.has(p.namespace)) namespaces.set(p.namespace, { [NAMESPACE_NAME_LABEL]: p.namespace });
  }
  const byKey = (a: PolicyPod, b: PolicyPod) =>
    a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
  return { world: { namespaces, pods: [...pods.values()].sort(byKey), policies }, corrupt };
}

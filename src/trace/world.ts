/**
 * The world `podnet trace` decides over, from documents in any order: a podnet cluster profile, Kubernetes
 * objects (Namespaces, Pods with `status.podIP`, `status.hostIP` and `spec.nodeName`, NetworkPolicies, Services
 * with their cluster IPs and `status.loadBalancer` frontends) checked
 * and defaulted as `podnet apply` checks them, and Azure NSGs and NICs in the shape `az ... show -o json`
 * prints (read by apply's own kinds, src/objects/kinds/azure.ts). Unusable input fails as apply fails, every
 * problem named.
 */
import { prepareApply } from '../objects/apply.js';
import type { Document } from '../objects/decode.js';
import { isPlainObject } from '../objects/json.js';
import { nicKind, nicOfObject, nsgKind, nsgOfObject } from '../objects/kinds/azure.js';
import { NAMESPACE_NAME_LABEL } from '../objects/kinds/namespace.js';
import { readManifests } from '../objects/manifests.js';
import { objectsInvalid } from '../objects/problems.js';
import type { Pod } from '../objects/types.js';
import type { NetworkPolicy } from '../policy/types.js';
import { profileFromObject } from '../profile/load.js';
import type { Service } from '../services/types.js';
import { openStore } from '../store/open.js';
import type { TracePod, TraceWorld } from './trace.js';

type Obj = Record<string, unknown>;

function isProfile(o: Obj): boolean {
  return (
    o.kind === 'ClusterProfile' ||
    (o.apiVersion === undefined && ('networkProfile' in o || 'agentPoolProfiles' in o))
  );
}

function tracePod(p: Pod): TracePod {
  const status = (p.status ?? {}) as NonNullable<Pod['status']>;
  const ips = status.podIPs?.map((x) => x.ip) ?? (status.podIP ? [status.podIP] : []);
  return {
    namespace: p.metadata.namespace ?? 'default',
    name: p.metadata.name,
    labels: p.metadata.labels ?? {},
    ips,
    ...(p.spec.nodeName ? { node: p.spec.nodeName } : {}),
    ...(status.hostIP ? { hostIP: status.hostIP } : {}),
    ...((status.hostIPs?.length ?? 0) > 1 ? { hostIPs: status.hostIPs?.map((x) => x.ip) } : {}),
    ...(p.spec.hostNetwork ? { hostNetwork: true } : {}),
    ports: p.spec.containers.flatMap((c) =>
      (c.ports ?? []).map((x) => ({
        ...(x.name ? { name: x.name } : {}),
        containerPort: x.containerPort,
        protocol: x.protocol ?? 'TCP',
      })),
    ),
  };
}

export function traceWorldFromDocuments(documents: Document[]): TraceWorld {
  const world: TraceWorld = {
    namespaces: new Map(),
    pods: [],
    policies: [],
    nsgs: [],
    nics: [],
    services: [],
  };
  const kube: Document[] = [];
  for (const d of documents) {
    const o = d.value as Obj;
    if (isProfile(o)) world.profile = profileFromObject(o);
    else kube.push(d);
  }
  const { candidates, problems } = prepareApply(kube);
  if (problems.length > 0) throw objectsInvalid(problems, 'read');
  const original = new Map(kube.map((d) => [d.source, d.value as Obj]));
  for (const c of candidates) {
    const prepared = c.kind.prepare(c.object, null);
    if (c.kind.kind === 'Namespace')
      world.namespaces.set(prepared.metadata.name, prepared.metadata.labels ?? {});
    else if (c.kind.kind === 'Pod') {
      // The status is the kubelet's report; apply drops it, trace needs it (podIP, hostIP).
      const status = original.get(c.source)?.status;
      world.pods.push(
        tracePod({ ...(prepared as Pod), ...(isPlainObject(status) ? { status } : {}) } as Pod),
      );
    } else if (c.kind.kind === 'Service') {
      // The load balancer's frontends are in the status, which apply drops as it drops a Pod's.
      const status = original.get(c.source)?.status;
      world.services?.push({
        ...(prepared as Service),
        ...(isPlainObject(status) ? { status } : {}),
      } as Service);
    } else if (c.kind.kind === 'NetworkPolicy') world.policies.push(prepared as unknown as NetworkPolicy);
    else if (c.kind === nsgKind) world.nsgs.push(nsgOfObject(prepared));
    else if (c.kind === nicKind) world.nics.push(nicOfObject(prepared));
  }
  for (const ns of new Set(world.pods.map((p) => p.namespace))) {
    if (!world.namespaces.has(ns)) world.namespaces.set(ns, { [NAMESPACE_NAME_LABEL]: ns });
  }
  return world;
}

/** The world of files (`-f FILE|DIR|-`, repeatable), every decoding problem refused at once. */
export function worldFromFiles(paths: string[]): TraceWorld {
  const decoded = readManifests(paths);
  if (decoded.problems.length > 0) throw objectsInvalid(decoded.problems, 'read');
  return traceWorldFromDocuments(decoded.documents);
}

/** The world of a cluster's store: every object under `objects/` and the cluster's profile. */
export async function worldFromStore(url: string): Promise<TraceWorld> {
  const store = await openStore(url, { create: false });
  try {
    const record = await store.getCluster();
    const { items } = await store.kv.list('objects/');
    const world = traceWorldFromDocuments(
      items.map((kv, index) => ({ source: { file: url, index }, value: JSON.parse(kv.value) })),
    );
    if (record?.profile) world.profile = record.profile;
    return world;
  } finally {
    await store.close();
  }
}

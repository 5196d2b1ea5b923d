/**
 * Cluster objects in the shapes users already have: Kubernetes objects (`apiVersion`, `kind`, `metadata`,
 * `spec`, `status`) and, later, Azure's network objects. Only the fields podnet reads are typed; the stored
 * object keeps everything the API would keep.
 *
 * Storage layout (over the versioned store, src/store/versioned.ts), as the Kubernetes registry lays it out:
 *   objects/<resource>/<namespace>/<name>   namespaced kinds (resource = plural, group-qualified when not core:
 *                                           `pods`, `networkpolicies.networking.k8s.io`)
 *   objects/<resource>/<name>               cluster-scoped kinds (`namespaces`)
 * `metadata.resourceVersion` is the key's mod revision, as text (the API server does the same with etcd's).
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

export interface Namespace extends KubeObject {
  apiVersion: 'v1';
  kind: 'Namespace';
  spec?: { finalizers?: string[] };
  status?: { phase?: 'Active' | 'Terminating' };
}

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: L4Protocol;
  hostPort?: number;
  hostIP?: string;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  terminationMessagePath?: string;
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
}

export interface PodSpec {
  nodeName?: string;
  containers: Container[];
  hostNetwork?: boolean;
  hostname?: string;
  subdomain?: string;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  schedulerName?: string;
  enableServiceLinks?: boolean;
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  hostIPs?: { ip: string }[];
}

export interface Pod extends KubeObject {
  apiVersion: 'v1';
  kind: 'Pod';
  spec: PodSpec;
  status?: PodStatus;
}

/** The store key of an object of `resource` (e.g. `pods`), namespaced or cluster-scoped. */
export function objectKey(resource: string, name: string, namespace?: string): string {
  return namespace === undefined ? `objects/${resource}/${name}` : `objects/${resource}/${namespace}/${name}`;
}

/** `objects/<resource>/` or, for a namespaced kind in one namespace, `objects/<resource>/<namespace>/`. */
export function objectPrefix(resource: string, namespace?: string): string {
  return namespace === undefined ? `objects/${resource}/` : `objects/${resource}/${namespace}/`;
}

/**
 * The stored text of an object: everything but `metadata.resourceVersion`, which is the key's mod revision and
 * so only known once the write commits.
 */
export function storedValue(obj: KubeObject): string {
  const { resourceVersion: _, ...metadata } = obj.metadata;
  return JSON.stringify({ ...obj, metadata });
}

/** An object as read: its stored text with `metadata.resourceVersion` set from the key's mod revision. */
export function fromStored(kv: { value: string; modRevision: number }): KubeObject {
  const obj = JSON.parse(kv.value) as KubeObject;
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(kv.modRevision) } };
}

/** A `v1 List` of objects, as `kubectl get -o json|yaml` prints several. */
export interface KubeList {
  apiVersion: 'v1';
  kind: 'List';
  metadata: { resourceVersion: string };
  items: KubeObject[];
}

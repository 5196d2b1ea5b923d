/**
 * Pod endpoints as the cluster store holds them: one key per pod attachment, written by the node that runs
 * the pod, on that node's own store lease (docs/endpoints.md has the figures behind the layout):
 *
 *   endpoints/<node>/<containerId>/<ifname>   {"v":1,"namespace","name","ips","nodeIp","labels"}
 *
 * The key carries the node and the attachment (CNI's own key, never reused by a later pod of the same name,
 * so a late DEL of an old pod never removes its successor's endpoint); the value carries the rest. A pod
 * start is one put, a watcher sees one small event per change, and a dead node's keys go with its lease.
 *
 * Pure: encode, decode and validate records, and decide which store operations bring a node's published
 * endpoints to what its pod address list says.
 */
import { formatIp, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import type { PodAddress } from '../ipam/types.js';
import { objectKey } from '../objects/types.js';
import { parseJson, storeCorrupt } from '../store/records.js';
import type { KeyValue, TxnOp } from '../store/versioned.js';

export const ENDPOINTS_PREFIX = 'endpoints/';
export const ENDPOINT_RECORD_VERSION = 1;
/** The namespace of a pod whose runtime named it but gave no namespace (podman), as kubectl defaults it. */
export const DEFAULT_NAMESPACE = 'default';

/** A pod's name in DNS, from its `Pod` object (`spec.hostname`, `spec.subdomain`). */
export interface PodHost {
  hostname?: string;
  subdomain?: string;
}

/** Its `Pod` object's `spec.hostname` and `spec.subdomain` (PodHost) name it in DNS under a headless Service. */
export interface PodEndpoint extends PodHost {
  node: string;
  nodeIp: string;
  containerId: string;
  ifname: string;
  /** The attachment's addresses (one per family). */
  ips: string[];
  /** The pod as the runtime named it (K8S_POD_NAMESPACE/K8S_POD_NAME); null when it gave no name. */
  namespace: string | null;
  name: string | null;
  /** The labels of its `Pod` object; empty when there is none. */
  labels: Record<string, string>;
  /** The named container ports of its `Pod` object, which a Service's `targetPort` may name; absent = none. */
  ports?: NamedPort[];
}

export interface NamedPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** What a stored value holds: the rest is in the key. `ports` is left out when there are none. */
interface StoredEndpoint extends PodHost {
  v: number;
  namespace: string | null;
  name: string | null;
  ips: string[];
  nodeIp: string;
  labels: Record<string, string>;
  ports?: NamedPort[];
}

export const nodeEndpointsPrefix = (node: string) => `${ENDPOINTS_PREFIX}${node}/`;

export function endpointKey(e: Pick<PodEndpoint, 'node' | 'containerId' | 'ifname'>): string {
  return `${nodeEndpointsPrefix(e.node)}${e.containerId}/${e.ifname}`;
}

export function encodeEndpoint(e: PodEndpoint): string {
  const v: StoredEndpoint = {
    v: ENDPOINT_RECORD_VERSION,
    namespace: e.namespace,
    name: e.name,
    ips: e.ips,
    nodeIp: e.nodeIp,
    labels: sortedLabels(e.labels),
    ...(e.ports?.length ? { ports: sortedPorts(e.ports) } : {}),
    ...hostOf(e),
  };
  return JSON.stringify(v);
}

/** The host fields that are set, and only those. */
const hostOf = (h: PodHost): PodHost => ({
  ...(h.hostname ? { hostname: h.hostname } : {}),
  ...(h.subdomain ? { subdomain: h.subdomain } : {}),
});

/** A DNS-1123 label, as the API server validates `spec.hostname` and `spec.subdomain`. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const isHostField = (v: unknown) => v === undefined || (typeof v === 'string' && DNS_LABEL.test(v));

const KEY_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => typeof x === 'string');

const isIp = (v: unknown): boolean => {
  try {
    return typeof v === 'string' && formatIp(parseIp(v)) === v;
  } catch {
    return false;
  }
};

/** Decodes one stored endpoint; foreign or edited data is `StoreCorrupt` naming the key and what is wrong. */
export function decodeEndpoint(kv: Pick<KeyValue, 'key' | 'value'>): PodEndpoint {
  const parts = kv.key.startsWith(ENDPOINTS_PREFIX) ? kv.key.slice(ENDPOINTS_PREFIX.length).split('/') : [];
  if (parts.length !== 3 || !parts.every((p) => KEY_PART.test(p))) {
    throw storeCorrupt(kv.key, 'it is not an endpoint key (endpoints/<node>/<containerId>/<ifname>)');
  }
  const raw = parseJson(kv.value, kv.key) as Partial<StoredEndpoint> | null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw storeCorrupt(kv.key, 'an endpoint record must be a JSON object');
  }
  if (typeof raw.v === 'number' && raw.v > ENDPOINT_RECORD_VERSION) {
    throw new PodnetError(
      'StoreSchemaMismatch',
      `the endpoint at ${kv.key} has record version ${raw.v}; this podnet reads version ${ENDPOINT_RECORD_VERSION}`,
      { field: kv.key, hint: 'a newer podnet wrote it: upgrade podnet on this host' },
    );
  }
  const nameOk = (x: unknown) => x === null || (typeof x === 'string' && x !== '');
  const why =
    raw.v !== ENDPOINT_RECORD_VERSION
      ? `"v" must be ${ENDPOINT_RECORD_VERSION}`
      : !nameOk(raw.namespace) || !nameOk(raw.name)
        ? '"namespace" and "name" must be non-empty text or null'
        : !Array.isArray(raw.ips) || raw.ips.length === 0 || !raw.ips.every(isIp)
          ? '"ips" must be a non-empty list of addresses in canonical form'
          : !isIp(raw.nodeIp)
            ? '"nodeIp" must be an address in canonical form'
            : !isStringMap(raw.labels)
              ? '"labels" must map text to text'
              : raw.ports !== undefined && !(Array.isArray(raw.ports) && raw.ports.every(isNamedPort))
                ? '"ports" must be a list of {name, port 1-65535, protocol TCP|UDP|SCTP}'
                : !isHostField(raw.hostname) || !isHostField(raw.subdomain)
                  ? '"hostname" and "subdomain" must be DNS labels'
                  : null;
  if (why) throw storeCorrupt(kv.key, why);
  const [node, containerId, ifname] = parts;
  return {
    node,
    nodeIp: raw.nodeIp as string,
    containerId,
    ifname,
    ips: raw.ips as string[],
    namespace: raw.namespace as string | null,
    name: raw.name as string | null,
    labels: raw.labels as Record<string, string>,
    ...(raw.ports?.length ? { ports: raw.ports } : {}),
    ...hostOf(raw),
  };
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

function isNamedPort(p: unknown): p is NamedPort {
  const x = p as NamedPort;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.name === 'string' &&
    x.name !== '' &&
    Number.isInteger(x.port) &&
    x.port >= 1 &&
    x.port <= 65535 &&
    PROTOCOLS.includes(x.protocol)
  );
}

const sortedPorts = (ports: NamedPort[]) =>
  ports
    .map((p) => ({ name: p.name, port: p.port, protocol: p.protocol }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

function sortedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The pod an attachment belongs to, as the runtime named it; a name without a namespace is in `default`. */
export function podOf(
  a: Pick<PodAddress, 'podName' | 'podNamespace'>,
): { namespace: string; name: string } | null {
  if (!a.podName) return null;
  return { namespace: a.podNamespace || DEFAULT_NAMESPACE, name: a.podName };
}

/** The store key of the `Pod` object whose labels an attachment's endpoint carries. */
export const podObjectKey = (pod: { namespace: string; name: string }) =>
  objectKey('pods', pod.name, pod.namespace);

/** What an endpoint carries from its pod's `Pod` object. */
export interface PodObjectFacts {
  labels: Record<string, string>;
  ports: NamedPort[];
  host: PodHost;
}

/**
 * What a stored `Pod` object gives its endpoint, read in one parse: its labels (`metadata.labels`, empty when
 * it has none), its named container ports (unnamed ones no Service can name; protocol defaults to TCP as the
 * API server defaults it), and its `spec.hostname` and `spec.subdomain` (as apply validated them; others left
 * out). A value that is not a Kubernetes Pod with text labels is `StoreCorrupt`.
 */
export function podObjectFacts(kv: Pick<KeyValue, 'key' | 'value'>): PodObjectFacts {
  const o = parseJson(kv.value, kv.key) as {
    kind?: unknown;
    metadata?: { labels?: unknown };
    spec?: {
      hostname?: unknown;
      subdomain?: unknown;
      containers?: { ports?: { name?: unknown; containerPort?: unknown; protocol?: unknown }[] }[];
    };
  } | null;
  if (typeof o !== 'object' || o === null || o.kind !== 'Pod' || typeof o.metadata !== 'object') {
    throw storeCorrupt(kv.key, 'it is not a Pod object (kind Pod with metadata)');
  }
  const labels = o.metadata?.labels ?? {};
  if (!isStringMap(labels)) throw storeCorrupt(kv.key, 'metadata.labels must map text to text');
  const ports: NamedPort[] = [];
  for (const c of o.spec?.containers ?? [])
    for (const p of c.ports ?? []) {
      const port = { name: p.name, port: p.containerPort, protocol: p.protocol ?? 'TCP' } as NamedPort;
      if (isNamedPort(port)) ports.push(port);
    }
  const field = (v: unknown) => (typeof v === 'string' && DNS_LABEL.test(v) ? v : undefined);
  const host = hostOf({ hostname: field(o.spec?.hostname), subdomain: field(o.spec?.subdomain) } as PodHost);
  return { labels, ports, host };
}

export interface NodeEndpointsInput {
  node: string;
  nodeIp: string;
  /** The node's pod address list: the truth the published endpoints follow. */
  addresses: PodAddress[];
  /** Labels of the pod's `Pod` object; undefined when none is known. */
  labelsOf(pod: { namespace: string; name: string }): Record<string, string> | undefined;
  /** Named container ports of the pod's `Pod` object; undefined or empty when none are known. */
  portsOf?(pod: { namespace: string; name: string }): NamedPort[] | undefined;
  /** The pod's `spec.hostname` and `spec.subdomain`; undefined when none are known. */
  hostOf?(pod: { namespace: string; name: string }): PodHost | undefined;
}

/**
 * Every endpoint the node should publish: one per attachment that holds an address, with its addresses of
 * every family, IPv4 first (a dual-stack pod's two; what a Service's `ipFamilies` picks from).
 */
export function desiredEndpoints(input: NodeEndpointsInput): PodEndpoint[] {
  const byKey = new Map<string, PodEndpoint>();
  for (const a of [...input.addresses].sort((x, y) => x.family - y.family)) {
    const held = byKey.get(endpointKey({ node: input.node, containerId: a.containerId, ifname: a.ifname }));
    if (held) {
      held.ips.push(a.ip);
      continue;
    }
    const e: PodEndpoint = {
      node: input.node,
      nodeIp: input.nodeIp,
      containerId: a.containerId,
      ifname: a.ifname,
      ips: [a.ip],
      namespace: null,
      name: null,
      labels: {},
    };
    const pod = podOf(a);
    if (pod) {
      Object.assign(e, pod, { labels: input.labelsOf(pod) ?? {} });
      const ports = input.portsOf?.(pod);
      if (ports?.length) e.ports = ports;
      Object.assign(e, hostOf(input.hostOf?.(pod) ?? {}));
    }
    byKey.set(endpointKey(e), e);
  }
  return [...byKey.values()];
}

/** A published key as the publisher last saw it: its value and the store lease it lives on. */
export interface PublishedKey {
  value: string;
  lease: string | null;
}

/**
 * The puts and deletes that turn `published` (the node's keys in the store) into `desired`: a put for each
 * endpoint that is missing, different, or not on the node's current lease (so it would outlive the node);
 * a delete for each key no pod holds any more. Unchanged endpoints cost nothing.
 */
export function endpointChanges(
  desired: PodEndpoint[],
  published: ReadonlyMap<string, PublishedKey>,
  lease: string,
): TxnOp[] {
  const ops: TxnOp[] = [];
  const wanted = new Set<string>();
  for (const e of desired) {
    const key = endpointKey(e);
    wanted.add(key);
    const value = encodeEndpoint(e);
    const have = published.get(key);
    if (have?.value !== value || have.lease !== lease) ops.push({ type: 'put', key, value, lease });
  }
  for (const key of [...published.keys()].sort()) {
    if (!wanted.has(key)) ops.push({ type: 'delete', key });
  }
  return ops;
}

/** Splits operations into transactions of at most `size` (etcd refuses more than 128 per transaction). */
export function batches<T>(ops: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ops.length; i += size) out.push(ops.slice(i, i + size));
  return out;
}

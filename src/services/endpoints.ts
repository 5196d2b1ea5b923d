/**
 * The endpoints of a Service, derived from the pod endpoints the nodes publish (src/endpoints: labels and named
 * container ports copied from each Pod object), as the EndpointSlice controller derives them
 * (pkg/controller/endpointslice, staging/src/k8s.io/endpointslice/reconciler.go, podutil.FindPort):
 *
 * - a Service with a selector selects the pods of its namespace whose labels carry every selector pair; a
 *   Service without a selector has no derived endpoints (its EndpointSlices would be the user's);
 * - each service port goes to the pod's `targetPort`: a number as is, a name to the pod's container port of that
 *   name and the same protocol; a pod without that name gets no such port;
 * - endpoints with the same resolved ports share a slice, one slice per address family, at most 100 endpoints.
 *
 * Pure: a Service and the endpoints in, the proxy's backends and the discovery.k8s.io/v1 objects out. podnet
 * stores no slices: `podnet get endpointslices` and every node's proxy derive the same ones from the same records.
 */
import { createHash } from 'node:crypto';
import { parseIp } from '../addr/index.js';
import type { PodEndpoint } from '../endpoints/record.js';
import type { L4Protocol } from '../objects/types.js';
import type {
  Endpoint,
  EndpointSlice,
  EndpointSlicePort,
  IpFamilyName,
  Service,
  ServicePort,
} from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** The pod endpoints `svc` selects. */
export function selectedEndpoints(svc: Service, endpoints: Iterable<PodEndpoint>): PodEndpoint[] {
  const selector = svc.spec.selector;
  if (!selector || Object.keys(selector).length === 0 || svc.spec.type === 'ExternalName') return [];
  const out: PodEndpoint[] = [];
  for (const e of endpoints) {
    if (e.namespace !== svc.metadata.namespace || e.name === null) continue;
    if (Object.entries(selector).every(([k, v]) => e.labels[k] === v)) out.push(e);
  }
  return out;
}

/** podutil.FindPort: the container port `sp.targetPort` means on endpoint `e`, or null when it names none. */
export function targetPortOf(sp: ServicePort, e: PodEndpoint): number | null {
  const t = sp.targetPort ?? sp.port;
  if (typeof t === 'number') return t;
  const named = (e.ports ?? []).find((p) => p.name === t && p.protocol === (sp.protocol ?? 'TCP'));
  return named ? named.port : null;
}

/** One backend of one service port, as the proxy programs it. */
export interface Backend {
  ip: string;
  port: number;
  node: string;
}

/** Per service port (in spec order), the backends of family `family`, sorted by address. */
export function serviceBackends(
  svc: Service,
  endpoints: Iterable<PodEndpoint>,
  family: 4 | 6 = 4,
): Backend[][] {
  const selected = selectedEndpoints(svc, endpoints);
  return (svc.spec.ports ?? []).map((sp) => {
    const out: Backend[] = [];
    for (const e of selected) {
      const port = targetPortOf(sp, e);
      const ip = e.ips.find((a) => parseIp(a).family === family);
      if (port !== null && ip) out.push({ ip, port, node: e.node });
    }
    return out.sort((a, b) => compareIps(a.ip, b.ip) || a.port - b.port);
  });
}

const compareIps = (a: string, b: string) => {
  const x = parseIp(a).value;
  const y = parseIp(b).value;
  return x < y ? -1 : x > y ? 1 : 0;
};

interface Group {
  ports: EndpointSlicePort[];
  endpoints: Endpoint[];
}

/** Endpoints of one family grouped by their resolved ports (the key of a slice). */
function groups(svc: Service, endpoints: Iterable<PodEndpoint>, family: 4 | 6): Group[] {
  const byPorts = new Map<string, Group>();
  const selected = selectedEndpoints(svc, endpoints).sort((a, b) => compareIps(a.ips[0], b.ips[0]));
  for (const e of selected) {
    const ip = e.ips.find((a) => parseIp(a).family === family);
    if (!ip) continue;
    const ports: EndpointSlicePort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = targetPortOf(sp, e);
      if (port !== null)
        ports.push({ name: sp.name ?? '', protocol: (sp.protocol ?? 'TCP') as L4Protocol, port });
    }
    const key = JSON.stringify(ports);
    const g = byPorts.get(key) ?? { ports, endpoints: [] };
    byPorts.set(key, g);
    const hostname = endpointHostname(svc, e);
    g.endpoints.push({
      addresses: [ip],
      ...(hostname ? { hostname } : {}),
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: e.node,
      targetRef: { kind: 'Pod', namespace: e.namespace as string, name: e.name as string },
    });
  }
  return [...byPorts.values()];
}

/**
 * The endpoint's hostname under `svc`, as the endpointslice controller sets it (ShouldSetHostname in
 * pkg/controller/util/endpoint): the pod's `spec.hostname` when its `spec.subdomain` is the service's name
 * (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-hostname-and-subdomain-fields).
 */
export function endpointHostname(svc: Service, e: PodEndpoint): string | undefined {
  return e.hostname && e.subdomain === svc.metadata.name && e.namespace === svc.metadata.namespace
    ? e.hostname
    : undefined;
}

const FAMILY: Record<IpFamilyName, 4 | 6> = { IPv4: 4, IPv6: 6 };

/** The discovery.k8s.io/v1 EndpointSlices of `svc`; names are stable (a hash of the port set, not random). */
export function endpointSlices(svc: Service, endpoints: PodEndpoint[]): EndpointSlice[] {
  if (!svc.spec.selector || svc.spec.type === 'ExternalName') return [];
  const out: EndpointSlice[] = [];
  for (const family of svc.spec.ipFamilies ?? ['IPv4']) {
    const gs = groups(svc, endpoints, FAMILY[family]);
    // A selected service with no endpoints still has its (empty) slice, as the controller keeps one.
    if (gs.length === 0) gs.push({ ports: [], endpoints: [] });
    for (const g of gs) {
      const hash = createHash('sha256')
        .update(`${family}${JSON.stringify(g.ports)}`)
        .digest('hex')
        .slice(0, 5);
      for (let i = 0; i === 0 || i * MAX_ENDPOINTS_PER_SLICE < g.endpoints.length; i++) {
        out.push({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: `${svc.metadata.name}-${hash}${i ? `-${i}` : ''}`,
            namespace: svc.metadata.namespace,
            labels: { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY },
            ...(svc.metadata.creationTimestamp ? { creationTimestamp: svc.metadata.creationTimestamp } : {}),
            ownerReferences: [
              {
                apiVersion: 'v1',
                kind: 'Service',
                name: svc.metadata.name,
                uid: svc.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          } as EndpointSlice['metadata'],
          addressType: family,
          endpoints: g.endpoints.slice(i * MAX_ENDPOINTS_PER_SLICE, (i + 1) * MAX_ENDPOINTS_PER_SLICE),
          ports: g.ports,
        });
      }
    }
  }
  return out;
}

/** The legacy v1 Endpoints object of `svc` (subsets grouped by port set, as the endpoints controller packs them). */
export function endpointsObject(svc: Service, endpoints: PodEndpoint[]) {
  const family = FAMILY[svc.spec.ipFamilies?.[0] ?? 'IPv4'];
  const subsets = groups(svc, endpoints, family)
    .filter((g) => g.endpoints.length > 0)
    .map((g) => ({
      addresses: g.endpoints.map((e) => ({
        ip: e.addresses[0],
        ...(e.hostname ? { hostname: e.hostname } : {}),
        nodeName: e.nodeName,
        targetRef: e.targetRef,
      })),
      ports: g.ports,
    }));
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata.name,
      namespace: svc.metadata.namespace,
      ...(svc.metadata.labels ? { labels: svc.metadata.labels } : {}),
      ...(svc.metadata.creationTimestamp ? { creationTimestamp: svc.metadata.creationTimestamp } : {}),
    },
    subsets,
  };
}

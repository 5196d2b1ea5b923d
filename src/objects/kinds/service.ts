/**
 * v1 Service: the schema of core/v1 ServiceSpec, ValidateService / ValidateServiceUpdate, SetDefaults_Service,
 * and the registry's cluster IP and node port allocation, made inside the apply's transaction. The semantics
 * live in src/services (validate.ts, defaults.ts, allocate.ts); this file wires them into the objects layer.
 */
import { parseCidr } from '../../addr/index.js';
import {
  FRONTEND_LOCKS,
  FRONTEND_RANGE_KEY,
  type FrontendRange,
  allocateFrontend,
  frontendsTakenBy,
} from '../../loadbalancer/frontends.js';
import { DEFAULTS } from '../../profile/normalize.js';
import {
  NODE_PORT_LOCKS,
  SERVICE_IP_LOCKS,
  type ServiceNetwork,
  allocateService,
  takenBy,
} from '../../services/allocate.js';
import { defaultService } from '../../services/defaults.js';
import type { Service } from '../../services/types.js';
import { validateService, validateServiceUpdate } from '../../services/validate.js';
import { CLUSTER_KEY } from '../../store/cluster-store.js';
import { decodeCluster, parseJson } from '../../store/records.js';
import type { Compare, TxnOp } from '../../store/versioned.js';
import { type Allocator, type ObjectKind, type StoreRead, ageColumn } from '../kind.js';
import { any, bool, int, list, map, obj, opaque, str } from '../schema.js';
import { type KubeObject, fromStored, objectPrefix } from '../types.js';

const RESOURCE = 'services';

const servicePort = obj({
  name: str,
  protocol: str,
  appProtocol: str,
  port: int,
  targetPort: any,
  nodePort: int,
});

/** The service CIDRs and DNS address of the store's cluster profile; AKS's defaults when it holds none. */
export function serviceNetworkOf(read: StoreRead): ServiceNetwork {
  const kv = read.get(CLUSTER_KEY);
  const network = kv
    ? decodeCluster(parseJson(kv.value, `key ${CLUSTER_KEY}`), `key ${CLUSTER_KEY}`).profile.network
    : { serviceCidrs: [DEFAULTS.serviceCidr], dnsServiceIp: DEFAULTS.dnsServiceIp };
  return { cidrs: network.serviceCidrs.map((c) => parseCidr(c)), dnsServiceIp: network.dnsServiceIp };
}

const serviceAllocator: Allocator = {
  keys: [CLUSTER_KEY, FRONTEND_RANGE_KEY],
  prefixes: [objectPrefix(RESOURCE), SERVICE_IP_LOCKS, NODE_PORT_LOCKS, FRONTEND_LOCKS],
  begin(read, random) {
    const net = serviceNetworkOf(read);
    const stored = read.list(objectPrefix(RESOURCE)).map((kv) => fromStored(kv) as Service);
    const taken = takenBy(stored);
    const frontends = frontendsTakenBy(stored);
    const rangeKv = read.get(FRONTEND_RANGE_KEY);
    const range = rangeKv ? (parseJson(rangeKv.value, `key ${FRONTEND_RANGE_KEY}`) as FrontendRange) : null;
    const lockRevision = new Map(
      [...read.list(SERVICE_IP_LOCKS), ...read.list(NODE_PORT_LOCKS), ...read.list(FRONTEND_LOCKS)].map(
        (kv) => [kv.key, kv.modRevision],
      ),
    );
    return {
      allocate(next, old) {
        const s = allocateService(next as Service, old as Service | null, net, taken, random);
        const f = s.problems.length
          ? { service: s.service, locks: [] }
          : allocateFrontend(s.service, old as Service | null, range, frontends);
        const a = { ...s, service: f.service, locks: [...s.locks, ...f.locks] };
        const owner = JSON.stringify({
          namespace: next.metadata.namespace,
          name: next.metadata.name,
          uid: next.metadata.uid,
        });
        // A changed profile (service CIDRs), frontend range, or a lock another apply took since the read
        // voids the plan.
        const compares: Compare[] = [
          { key: CLUSTER_KEY, modRevision: read.get(CLUSTER_KEY)?.modRevision ?? 0 },
          { key: FRONTEND_RANGE_KEY, modRevision: rangeKv?.modRevision ?? 0 },
          ...a.locks.map((key) => ({ key, modRevision: lockRevision.get(key) ?? 0 })),
        ];
        const ops: TxnOp[] = a.locks.map((key) => ({ type: 'put', key, value: owner }));
        return { object: a.service as KubeObject, compares, ops, problems: a.problems };
      },
    };
  },
};

const ports = (s: Service) =>
  (s.spec.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`).join(',') ||
  '<none>';

export const serviceKind: ObjectKind = {
  apiVersion: 'v1',
  kind: 'Service',
  resource: RESOURCE,
  aliases: ['service', 'svc'],
  namespaced: true,
  nameRule: 'label',
  fields: {
    spec: obj({
      type: str,
      selector: map(str),
      ports: list(servicePort),
      clusterIP: str,
      clusterIPs: list(str),
      ipFamilies: list(str),
      ipFamilyPolicy: str,
      externalIPs: list(str),
      externalName: str,
      sessionAffinity: str,
      sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int }) }),
      externalTrafficPolicy: str,
      internalTrafficPolicy: str,
      healthCheckNodePort: int,
      loadBalancerIP: str,
      loadBalancerSourceRanges: list(str),
      loadBalancerClass: str,
      allocateLoadBalancerNodePorts: bool,
      publishNotReadyAddresses: bool,
      ...opaque('trafficDistribution'),
    }),
    status: obj({ ...opaque('loadBalancer', 'conditions') }),
  },
  validate: (o) => validateService(o as Service),
  validateUpdate: (next, old) => validateServiceUpdate(next as Service, old as Service),
  prepare: (o, old) => defaultService(o as Service, old as Service | null) as KubeObject,
  allocator: serviceAllocator,
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'TYPE', value: (o) => (o as Service).spec.type ?? '' },
    { header: 'CLUSTER-IP', value: (o) => (o as Service).spec.clusterIP ?? '<none>' },
    {
      header: 'EXTERNAL-IP',
      value: (o) => {
        const s = o as Service;
        const ingress = (s.status?.loadBalancer?.ingress ?? [])
          .map((i) => i.ip ?? i.hostname)
          .filter(Boolean);
        if (ingress.length) return ingress.join(',');
        if (s.spec.type === 'ExternalName') return s.spec.externalName ?? '<none>';
        if ((s.spec.externalIPs ?? []).length) return (s.spec.externalIPs ?? []).join(',');
        return s.spec.type === 'LoadBalancer' ? '<pending>' : '<none>';
      },
    },
    { header: 'PORT(S)', value: (o) => ports(o as Service) },
    ageColumn,
    {
      header: 'SELECTOR',
      wide: true,
      value: (o) =>
        Object.entries((o as Service).spec.selector ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '<none>',
    },
  ],
};

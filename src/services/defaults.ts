/**
 * Service defaults as the API server sets them before validation: SetDefaults_Service
 * (pkg/apis/core/v1/defaults.go), the service strategy's normalizeClusterIPs (pkg/registry/core/service/
 * strategy.go), and the storage's patchAllocatedValues (pkg/registry/core/service/storage/storage.go): an update
 * that omits the allocated clusterIP or nodePorts keeps the stored ones. Address and port allocation (and the IP
 * family fields that depend on the cluster) are in allocate.ts: they need the store.
 */
import {
  DEFAULT_AFFINITY_SECONDS,
  type Service,
  type ServiceSpec,
  externallyAccessible,
  needsClusterIp,
  needsNodePorts,
} from './types.js';

export function defaultService(svc: Service, old: Service | null): Service {
  const s: ServiceSpec = { ...svc.spec };
  if (!s.sessionAffinity) s.sessionAffinity = 'None';
  if (s.sessionAffinity === 'None') s.sessionAffinityConfig = undefined;
  if (s.sessionAffinity === 'ClientIP' && s.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined)
    s.sessionAffinityConfig = { clientIP: { timeoutSeconds: DEFAULT_AFFINITY_SECONDS } };
  if (!s.type) s.type = 'ClusterIP';
  s.ports = (s.ports ?? []).map((p) => ({
    ...p,
    protocol: p.protocol ?? 'TCP',
    targetPort:
      p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '' ? p.port : p.targetPort,
  }));
  if (svc.spec.ports === undefined) s.ports = undefined;
  if (externallyAccessible(s) && !s.externalTrafficPolicy) s.externalTrafficPolicy = 'Cluster';
  if (s.internalTrafficPolicy === undefined && s.type !== 'ExternalName') s.internalTrafficPolicy = 'Cluster';
  if (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts === undefined)
    s.allocateLoadBalancerNodePorts = true;
  if (old) keepAllocated(s, old.spec);
  // normalizeClusterIPs: clusterIPs follows clusterIP when only the latter is given.
  if (s.clusterIP && (s.clusterIPs ?? []).length === 0) s.clusterIPs = [s.clusterIP];
  return { ...svc, spec: s, status: old ? old.status : (svc.status ?? { loadBalancer: {} }) };
}

/** patchAllocatedValues: what the server allocated stays when an update leaves it out. */
function keepAllocated(s: ServiceSpec, old: ServiceSpec): void {
  if (needsClusterIp(old) && needsClusterIp(s) && !s.clusterIP) {
    s.clusterIP = old.clusterIP;
    if ((s.clusterIPs ?? []).length === 0) s.clusterIPs = old.clusterIPs;
    if (s.ipFamilies === undefined) s.ipFamilies = old.ipFamilies;
    if (s.ipFamilyPolicy === undefined) s.ipFamilyPolicy = old.ipFamilyPolicy;
  }
  if (needsNodePorts(old) && needsNodePorts(s)) {
    const byKey = new Map((old.ports ?? []).map((p) => [`${p.protocol}/${p.port}`, p.nodePort]));
    s.ports = (s.ports ?? []).map((p) =>
      p.nodePort ? p : { ...p, nodePort: byKey.get(`${p.protocol}/${p.port}`) },
    );
  }
  if (old.healthCheckNodePort && s.healthCheckNodePort === undefined && s.type === 'LoadBalancer')
    s.healthCheckNodePort = old.healthCheckNodePort;
}

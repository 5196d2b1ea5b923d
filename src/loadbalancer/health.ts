/**
 * What a node answers to the load balancer's health probes, as kube-proxy answers them (pure):
 *
 * - the proxy's own health, `GET /healthz` on port 10256 (pkg/proxy/healthcheck/proxy_health.go): 200 while
 *   the node's rules are in force, else 503; the body `{"lastUpdated", "currentTime", "nodeEligible"}`.
 *   Load balancers probe it for `externalTrafficPolicy: Cluster` (KEP-3836; cloud-provider-azure's shared
 *   probe), so a node whose proxy is down takes no new flows;
 * - per LoadBalancer Service with `externalTrafficPolicy: Local`, any path on its `healthCheckNodePort`
 *   (service_health.go): 200 when the node has a local endpoint and the proxy is healthy, else 503; the body
 *   `{"service": {"namespace", "name"}, "localEndpoints": N, "serviceProxyHealthy": B}` and the header
 *   `X-Load-Balancing-Endpoint-Weight: N`. "nodes without local endpoints fail the health check"
 *   (https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#preserving-the-client-source-ip).
 */
import { serviceBackends } from '../services/endpoints.js';
import type { ServiceWorld } from '../services/proxy.js';
import { needsHealthCheck } from '../services/types.js';

/** kube-proxy's --healthz-bind-address port. */
export const PROXY_HEALTHZ_PORT = 10256;

export interface ServiceHealthCheck {
  port: number;
  namespace: string;
  name: string;
  /** Ready endpoints of the Service on this node (pod addresses, both families counted once each). */
  localEndpoints: number;
}

/** The health check node ports this node serves, with its local endpoint counts. */
export function serviceHealthChecks(world: ServiceWorld, node: string): ServiceHealthCheck[] {
  const out: ServiceHealthCheck[] = [];
  for (const svc of world.services) {
    const port = svc.spec.healthCheckNodePort;
    if (!needsHealthCheck(svc.spec) || !port) continue;
    const local = new Set<string>();
    for (const family of [4, 6] as const)
      for (const backends of serviceBackends(svc, world.endpoints, family))
        for (const b of backends) if (b.node === node) local.add(b.ip);
    out.push({
      port,
      namespace: svc.metadata.namespace ?? 'default',
      name: svc.metadata.name,
      localEndpoints: local.size,
    });
  }
  return out.sort((a, b) => a.port - b.port);
}

export interface HealthReply {
  status: 200 | 503;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' };

export function serviceHealthReply(check: ServiceHealthCheck, proxyHealthy: boolean): HealthReply {
  const body = {
    service: { namespace: check.namespace, name: check.name },
    localEndpoints: check.localEndpoints,
    serviceProxyHealthy: proxyHealthy,
  };
  return {
    status: check.localEndpoints > 0 && proxyHealthy ? 200 : 503,
    headers: { ...JSON_HEADERS, 'X-Load-Balancing-Endpoint-Weight': String(check.localEndpoints) },
    body: JSON.stringify(body, null, '\t'),
  };
}

export function proxyHealthReply(healthy: boolean, lastUpdated: Date | null, now: Date): HealthReply {
  return {
    status: healthy ? 200 : 503,
    headers: JSON_HEADERS,
    body: JSON.stringify({
      lastUpdated: (lastUpdated ?? new Date(0)).toISOString(),
      currentTime: now.toISOString(),
      nodeEligible: healthy,
    }),
  };
}

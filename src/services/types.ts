/**
 * core/v1 Service and discovery.k8s.io/v1 EndpointSlice, the fields podnet reads (the stored object keeps every
 * field the API keeps). Shapes as in k8s.io/api/core/v1/types.go and k8s.io/api/discovery/v1/types.go.
 */
import type { KubeObject, L4Protocol } from '../objects/types.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type IpFamilyName = 'IPv4' | 'IPv6';
export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface ServicePort {
  name?: string;
  protocol?: L4Protocol;
  port: number;
  /** IntOrString: a port number or the name of a container port. */
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface ServiceSpec {
  type?: ServiceType;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: IpFamilyName[];
  ipFamilyPolicy?: IpFamilyPolicy;
  externalIPs?: string[];
  externalName?: string;
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  externalTrafficPolicy?: TrafficPolicy;
  internalTrafficPolicy?: TrafficPolicy;
  healthCheckNodePort?: number;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  loadBalancerClass?: string;
  allocateLoadBalancerNodePorts?: boolean;
  publishNotReadyAddresses?: boolean;
}

export interface Service extends KubeObject {
  apiVersion: 'v1';
  kind: 'Service';
  spec: ServiceSpec;
  status?: {
    loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: 'VIP' | 'Proxy' }[] };
  };
}

export interface EndpointSlicePort {
  name: string;
  protocol: L4Protocol;
  port: number;
}

export interface Endpoint {
  addresses: string[];
  /** The pod's spec.hostname, when its spec.subdomain is the service's name (the endpointslice controller). */
  hostname?: string;
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName?: string;
  targetRef?: { kind: 'Pod'; namespace: string; name: string };
}

export interface EndpointSlice extends KubeObject {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  addressType: IpFamilyName;
  endpoints: Endpoint[];
  ports: EndpointSlicePort[];
}

/** ClusterIP `None`: a headless service (pkg/apis/core: ClusterIPNone). */
export const CLUSTER_IP_NONE = 'None';
/** core.MaxClientIPServiceAffinitySeconds and v1.DefaultClientIPServiceAffinitySeconds. */
export const MAX_AFFINITY_SECONDS = 86400;
export const DEFAULT_AFFINITY_SECONDS = 10800;
/** ports.KubeletPort: a LoadBalancer may not expose it. */
export const KUBELET_PORT = 10250;

export const isHeadless = (s: ServiceSpec) => s.clusterIP === CLUSTER_IP_NONE;

/** apiservice.ExternallyAccessible: reachable from outside the cluster. */
export const externallyAccessible = (s: ServiceSpec) =>
  s.type === 'LoadBalancer' ||
  s.type === 'NodePort' ||
  (s.type === 'ClusterIP' && (s.externalIPs ?? []).length > 0);

/** apiservice.NeedsHealthCheck: LoadBalancer with externalTrafficPolicy Local. */
export const needsHealthCheck = (s: ServiceSpec) =>
  s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';

/** Whether the service gets cluster IPs allocated (not ExternalName, not headless). */
export const needsClusterIp = (s: ServiceSpec) => s.type !== 'ExternalName' && !isHeadless(s);

/** Whether the service's ports get node ports (NodePort, and LoadBalancer unless turned off). */
export const needsNodePorts = (s: ServiceSpec) =>
  s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);

/**
 * The service step of `podnet trace`: a flow to a ClusterIP, LoadBalancer frontend or node port meets the node's
 * service proxy before anything else, and goes on to one of the service's endpoints. Pure, and decided by the
 * proxy's own code (src/services/proxy.ts): `compileServiceProxy` finds the entry as the node's `svc_ips` map
 * holds it, `proxyRoute` says which endpoints the random choice is among and whether the proxy masquerades,
 * `isHairpin` the pod reaching itself. Nothing here decides what the proxy does not.
 *
 * Which node proxies: the client's own (DNAT happens on the client's node, reference B.5), so a pod's node or the
 * node itself; a node port is proxied by the node whose address it is; an outside client of a frontend reaches whichever node the load balancer picks: every node of the
 * cluster for externalTrafficPolicy Cluster, only nodes with an endpoint for Local (their health probe answers).
 */
import { formatIp, parseIp } from '../addr/index.js';
import type { PodEndpoint } from '../endpoints/record.js';
import type { Backend } from '../services/endpoints.js';
import {
  type ProxyClient,
  type ProxyEntry,
  compileServiceProxy,
  isHairpin,
  proxyEntryFor,
  proxyRoute,
  sourceAllowed,
} from '../services/proxy.js';
import type { Service } from '../services/types.js';
import type { TracePod } from './trace.js';

/** One endpoint the proxy may send the flow to, through one node. */
export interface ServiceCandidate {
  /** `IP:PORT` the DNAT writes. */
  endpoint: string;
  ip: string;
  port: number;
  /** `NAMESPACE/NAME` of the endpoint's pod. */
  pod: string;
  /** The node whose proxy chooses it. */
  via: string;
  /** Masqueraded to `via`'s address: from outside the pod CIDR, externalTrafficPolicy Cluster, or hairpin. */
  masquerade: boolean;
  hairpin: boolean;
}

/** What the proxy does with the flow: the service port it matched and every endpoint it may choose. */
export interface ServiceMatch {
  /** `NAMESPACE/NAME`. */
  service: string;
  /** The service port's name, or its number when unnamed. */
  port: string;
  frontend: 'ClusterIP' | 'LoadBalancer' | 'NodePort';
  externalTrafficPolicy?: 'Cluster' | 'Local';
  /** A frontend's loadBalancerSourceRanges of the flow's family, and whether the client is in them. */
  sourceRanges?: { ranges: string[]; allowed: boolean };
  /** The proxy's reasons (pool, masquerade), per proxying node when they differ. */
  why: string[];
  candidates: ServiceCandidate[];
}

interface Client {
  ip: string;
  pod?: TracePod;
  /** The node the client is, when it is one (its address is a pod's hostIP). */
  node?: string;
  kind: 'pod' | 'node' | 'external';
}

const familyOf = (ip: string) => parseIp(ip).family;

/** A pod as the proxy sees its endpoint record: addresses, labels, named ports, node. */
function endpointOf(p: TracePod): PodEndpoint {
  return {
    node: p.node ?? '',
    nodeIp: p.hostIP ?? '',
    containerId: `${p.namespace}/${p.name}`,
    ifname: 'eth0',
    ips: p.ips,
    namespace: p.namespace,
    name: p.name,
    labels: p.labels,
    ports: (p.ports ?? []).flatMap((x) =>
      x.name ? [{ name: x.name, port: x.containerPort, protocol: x.protocol ?? 'TCP' }] : [],
    ),
  };
}

/**
 * The service step of a flow from `client` to `ip:port`, or null when no service port has that address. The
 * pods are the running ones (with addresses and nodes); `podCidrs` those of the profile (none without one).
 */
export function serviceMatch(
  services: readonly Service[],
  pods: readonly TracePod[],
  podCidrs: readonly string[],
  client: Client,
  dst: { ip: string; protocol: string; port: number; node?: string },
): ServiceMatch | null {
  if (services.length === 0) return null;
  const family = familyOf(dst.ip);
  const ip = formatIp(parseIp(dst.ip));
  const cidrs = podCidrs.filter((c) => familyOf(c.split('/')[0]) === family);
  const endpoints = pods.filter((p) => p.node && !p.hostNetwork && p.ips.length > 0).map(endpointOf);
  const compileFor = (node: string) =>
    compileServiceProxy({ services: [...services], endpoints }, node, [{ family, podCidrs: cidrs }]);
  const clientNode = client.pod?.node ?? client.node;
  const probe =
    proxyEntryFor(compileFor(clientNode ?? ''), ip, dst.protocol, dst.port) ??
    (dst.node ? proxyEntryFor(compileFor(dst.node), ip, dst.protocol, dst.port, true) : undefined);
  if (!probe) return null;
  // Another node's address is not a pod's: to a node port it is an outside client.
  const kind: ProxyClient =
    client.kind === 'pod'
      ? 'pod'
      : client.kind === 'node' && (!probe.nodePort || client.node === dst.node)
        ? 'node'
        : 'outside';
  // The proxying nodes: a node port's own node; the client's; or those a load balancer sends outsiders to.
  const lookup = (node: string) =>
    proxyEntryFor(compileFor(node), ip, dst.protocol, dst.port, probe.nodePort) as ProxyEntry;
  const nodes = probe.nodePort
    ? [dst.node as string]
    : kind !== 'outside' && clientNode
      ? [clientNode]
      : [...new Set(pods.map((p) => p.node).filter((n): n is string => !!n))]
          .sort()
          .filter((n) => probe.external !== 'Local' || probe.backends.some((b) => b.node === n));
  const byIp = new Map(pods.flatMap((p) => p.ips.map((a) => [a, p] as const)));
  const why = new Set<string>();
  const candidates: ServiceCandidate[] = [];
  for (const node of nodes) {
    const route = proxyRoute(lookup(node), kind);
    why.add(route.why);
    for (const b of route.targets) candidates.push(candidate(b, node, route.masquerade, client.ip, byIp));
  }
  return {
    service: probe.service,
    port: probe.portName,
    frontend: probe.nodePort ? 'NodePort' : probe.external ? 'LoadBalancer' : 'ClusterIP',
    ...(probe.external ? { externalTrafficPolicy: probe.external } : {}),
    ...(probe.sourceRanges
      ? { sourceRanges: { ranges: probe.sourceRanges, allowed: sourceAllowed(probe, client.ip) } }
      : {}),
    why: [...why],
    candidates,
  };
}

function candidate(
  b: Backend,
  via: string,
  masquerade: boolean,
  clientIp: string,
  byIp: Map<string, TracePod>,
): ServiceCandidate {
  const p = byIp.get(b.ip);
  const hairpin = isHairpin(clientIp, b);
  return {
    endpoint: familyOf(b.ip) === 6 ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`,
    ip: b.ip,
    port: b.port,
    pod: p ? `${p.namespace}/${p.name}` : b.ip,
    via,
    masquerade: masquerade || hairpin,
    hairpin,
  };
}

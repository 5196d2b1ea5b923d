/**
 * The lab's load balancer, as Azure's Standard Load Balancer in front of AKS nodes (pure): which frontends
 * and rules exist, what is probed, which nodes take new flows, and the kernel state that says so.
 *
 * - **Rules.** One per Service port: frontend IP . protocol . port, as cloud-provider-azure makes them
 *   with floating IP on (its default): the packet reaches the node with the frontend IP as destination, and
 *   the node's proxy (`svc_x_<id>` in the node table) takes it from there. Traffic to a frontend on a port no
 *   rule names is dropped, as Azure's load balancer drops it.
 * - **Backends.** Every node of the cluster (the block leases), kept or left out by its probe: for
 *   `externalTrafficPolicy: Local` the Service's `healthCheckNodePort` (200 only with a local endpoint, so
 *   only nodes with one take traffic: https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer
 *   and .../create-external-load-balancer/#preserving-the-client-source-ip); for `Cluster` the node's proxy
 *   `/healthz` on 10256 (cloud-provider-azure's shared probe, KEP-3836). A node is in while its last probe
 *   answered 200 (Azure's probe threshold 1: https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview).
 * - **Distribution.** Azure hashes the 5-tuple; the lab routes each frontend with a multipath route over its
 *   healthy nodes and `fib_multipath_hash_policy=1` (layer 4 hash), so each new flow picks a node by its
 *   5-tuple. No healthy node: a blackhole route (Azure sends no new flows when every probe is down).
 */
import type { Service } from '../services/types.js';
import { ingressIps, servedHere } from './frontends.js';
import { PROXY_HEALTHZ_PORT } from './health.js';

/** Route protocol of the load balancer's routes in the VNet namespace (the fabric router's is 147). */
export const LB_ROUTE_PROTO = 148;

export interface LbRule {
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
}

export interface LbFrontend {
  ip: string;
  /** `namespace/name` of the Service. */
  service: string;
  policy: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  rules: LbRule[];
}

export interface LbNode {
  name: string;
  ip: string;
}

export interface Probe {
  ip: string;
  port: number;
  path: string;
}

export const probeKey = (p: Probe) => `${p.ip}:${p.port}${p.path}`;

/** The frontends of the Services this load balancer serves whose address is in `range`. */
export function lbFrontends(services: Service[], inRange: (ip: string) => boolean): LbFrontend[] {
  const out: LbFrontend[] = [];
  for (const s of services) {
    if (!servedHere(s)) continue;
    const local = s.spec.externalTrafficPolicy === 'Local';
    for (const ip of ingressIps(s).filter(inRange))
      out.push({
        ip,
        service: `${s.metadata.namespace}/${s.metadata.name}`,
        policy: local ? 'Local' : 'Cluster',
        ...(local && s.spec.healthCheckNodePort ? { healthCheckNodePort: s.spec.healthCheckNodePort } : {}),
        rules: (s.spec.ports ?? []).map((p) => ({
          protocol: (p.protocol ?? 'TCP').toLowerCase() as LbRule['protocol'],
          port: p.port,
        })),
      });
  }
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

/** The probe that says whether `node` takes new flows of `f`; null: a Local Service without its port yet. */
export function probeOf(f: LbFrontend, node: LbNode): Probe | null {
  if (f.policy === 'Local')
    return f.healthCheckNodePort ? { ip: node.ip, port: f.healthCheckNodePort, path: '/healthz' } : null;
  return { ip: node.ip, port: PROXY_HEALTHZ_PORT, path: '/healthz' };
}

/** Every probe to run, once each (Cluster Services share the node's proxy probe). */
export function plannedProbes(frontends: LbFrontend[], nodes: LbNode[]): Probe[] {
  const all = new Map<string, Probe>();
  for (const f of frontends)
    for (const n of nodes) {
      const p = probeOf(f, n);
      if (p) all.set(probeKey(p), p);
    }
  return [...all.values()];
}

export interface FrontendRoute {
  ip: string;
  /** The healthy nodes' addresses, sorted; empty: no node takes new flows (blackhole). */
  via: string[];
}

/** Per frontend, the nodes whose probe last answered 200 (`healthy` holds the probe keys that did). */
export function chooseBackends(
  frontends: LbFrontend[],
  nodes: LbNode[],
  healthy: ReadonlySet<string>,
): FrontendRoute[] {
  return frontends.map((f) => ({
    ip: f.ip,
    via: nodes
      .filter((n) => {
        const p = probeOf(f, n);
        return p !== null && healthy.has(probeKey(p));
      })
      .map((n) => n.ip)
      .sort(),
  }));
}

/** `ip -batch` lines turning the load balancer's routes `have` into `want`; each line is atomic. */
export function renderRouteChanges(want: FrontendRoute[], have: FrontendRoute[]): string[] {
  const tail = `proto ${LB_ROUTE_PROTO}`;
  const key = (r: FrontendRoute) => r.via.join(',');
  const had = new Map(have.map((r) => [r.ip, key(r)]));
  const lines: string[] = [];
  for (const r of want) {
    if (had.get(r.ip) === key(r)) continue;
    lines.push(
      r.via.length === 0
        ? `route replace blackhole ${r.ip}/32 ${tail}`
        : `route replace ${r.ip}/32 ${tail} ${r.via.map((v) => `nexthop via ${v}`).join(' ')}`,
    );
  }
  const wanted = new Set(want.map((r) => r.ip));
  for (const r of have) if (!wanted.has(r.ip)) lines.push(`route del ${r.ip}/32 ${tail}`);
  return lines;
}

/** A route as `ip -json route show proto 148` prints it. */
export interface ListedRoute {
  dst: string;
  type?: string;
  gateway?: string;
  nexthops?: { gateway?: string }[];
}

export function routesOf(listed: ListedRoute[]): FrontendRoute[] {
  return listed.map((r) => ({
    ip: r.dst.replace(/\/32$/, ''),
    via:
      r.type === 'blackhole'
        ? []
        : (r.nexthops ? r.nexthops.map((n) => n.gateway ?? '') : [r.gateway ?? '']).filter(Boolean).sort(),
  }));
}

/** The cluster's load balancer rules table in the VNet namespace. */
export const lbTable = (cluster: string) => ({ family: 'ip' as const, name: `podnet_lb_${cluster}` });

/**
 * The rules as one nftables transaction replacing the cluster's table: a new flow to the cluster's frontend
 * range that no rule names is dropped before it is routed (without it, the node that got it would send it
 * back to the VNet's gateway).
 */
export function renderLbRules(cluster: string, frontendCidr: string, frontends: LbFrontend[]): string {
  const t = lbTable(cluster);
  const elements = frontends.flatMap((f) => f.rules.map((r) => `${f.ip} . ${r.protocol} . ${r.port}`));
  return [
    `add table ${t.family} ${t.name}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
    `  comment "load balancer of cluster ${cluster}"`,
    '  set rules {',
    '    type ipv4_addr . inet_proto . inet_service;',
    ...(elements.length ? [`    elements = { ${elements.join(', ')} }`] : []),
    '  }',
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    `    ct state new ip daddr ${frontendCidr} ip daddr . meta l4proto . th dport != @rules counter drop comment "no load balancing rule"`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function renderLbRulesRemoval(cluster: string): string {
  const t = lbTable(cluster);
  return `add table ${t.family} ${t.name}\ndelete table ${t.family} ${t.name}\n`;
}

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
 * - **Distribution.** Azure's modes (https://learn.microsoft.com/azure/load-balancer/distribution-mode-concepts):
 *   a hash of the 5-tuple (source and destination address and port, protocol) by default, and of the 2-tuple
 *   (source and destination address) for session persistence "Client IP", which cloud-provider-azure sets for
 *   `sessionAffinity: ClientIP`. The lab hashes the same fields with nft's `jhash` over the healthy nodes, so one
 *   5-tuple (or one client) always lands on the same node while the healthy set holds.
 * - **Flows stay.** Azure keeps a flow table: a new flow is given a healthy backend, and its later packets go
 *   to the same one, even after that backend's probe fails ("established TCP connections to this backend
 *   instance continue"). The lab does it with conntrack: a new flow to a rule is marked with its node
 *   (`ct mark`), each of its packets carries the mark, and a policy routing rule per node sends marked packets
 *   to that node, the frontend still their destination (floating IP). No healthy node: new flows are dropped.
 */
import { ipv4ToNumber, numberToIpv4, parseIp } from '../addr/index.js';
import { NFT_IP } from '../dataplane/nft-table.js';
import type { Service } from '../services/types.js';
import { ingressIps, servedHere } from './frontends.js';
import { PROXY_HEALTHZ_PORT } from './health.js';

/** Route protocol of the load balancer's per-node routes in the VNet namespace (the fabric router's is 147). */
export const LB_ROUTE_PROTO = 148;

/**
 * The mark (and routing table) of a node: its IPv4 address as a number, unique in the VNet (subnets do not
 * overlap), so a mark stays the node's whatever other nodes come and go.
 */
export const nodeMark = (ip: string): number => ipv4ToNumber(parseIp(ip));

/** Priority of a cluster's per-node rules: before the clusters' `iif` rules (priority = table, 100 and up). */
export const lbRulePriority = (clusterTable: number) => clusterTable - 50;

export interface LbRule {
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
}

export interface LbFrontend {
  ip: string;
  /** `namespace/name` of the Service. */
  service: string;
  policy: 'Cluster' | 'Local';
  /** Azure's distribution mode: `fiveTuple` (Default), `sourceIp` for sessionAffinity ClientIP (SourceIP). */
  distribution: 'fiveTuple' | 'sourceIp';
  healthCheckNodePort?: number;
  rules: LbRule[];
}

export interface LbNode {
  name: string;
  /** Its IPv4 address: its probes, its mark, and the next hop of IPv4 frontend flows. */
  ip: string;
  /** A dual-stack node's IPv6 address: the next hop of IPv6 frontend flows. */
  ip6?: string;
}

/**
 * The nodes behind the load balancer, from the block leases: each node once, by its IPv4 address, with the
 * IPv6 address of its IPv6 lease when it holds one (the same node, not another).
 */
export function lbNodes(leases: readonly { nodeName: string; nodeIp: string; family: 4 | 6 }[]): LbNode[] {
  const v6 = new Map(leases.filter((l) => l.family === 6).map((l) => [l.nodeName, l.nodeIp]));
  return leases
    .filter((l) => l.family === 4)
    .map((l) => {
      const ip6 = v6.get(l.nodeName);
      return { name: l.nodeName, ip: l.nodeIp, ...(ip6 ? { ip6 } : {}) };
    });
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
        distribution: s.spec.sessionAffinity === 'ClientIP' ? 'sourceIp' : 'fiveTuple',
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

export interface FrontendBackends {
  ip: string;
  /** The healthy nodes' addresses, sorted; empty: no node takes new flows. */
  via: string[];
}

/** Per frontend, the nodes whose probe last answered 200 (`healthy` holds the probe keys that did). */
export function chooseBackends(
  frontends: LbFrontend[],
  nodes: LbNode[],
  healthy: ReadonlySet<string>,
): FrontendBackends[] {
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

/** A policy routing rule as `ip -json rule show` prints it. */
export interface ListedRule {
  priority: number;
  fwmark?: string;
  table?: string;
}

/**
 * `ip -batch` lines (of one family: `ip -6` for 6) making the per-node routing what `nodes` needs: for each node
 * a rule `fwmark <mark> lookup <mark>` at the cluster's priority and a table with `default via <node>` (its
 * address of the family; replaced every time, so a hand-deleted route returns); rules of nodes that left go,
 * with their tables. A node without an address of the family gets none.
 */
export function renderNodeRouting(
  nodes: LbNode[],
  priority: number,
  have: ListedRule[],
  family: 4 | 6 = 4,
): string[] {
  const via = (n: LbNode) => (family === 4 ? n.ip : n.ip6);
  const routed = nodes.filter((n) => via(n) !== undefined);
  const mine = have.filter((r) => r.priority === priority && r.fwmark !== undefined);
  const had = new Set(mine.map((r) => Number(r.fwmark)));
  const want = new Set(routed.map((n) => nodeMark(n.ip)));
  const lines: string[] = [];
  for (const n of routed) {
    const mark = nodeMark(n.ip);
    lines.push(`route replace default via ${via(n)} table ${mark} proto ${LB_ROUTE_PROTO}`);
    if (!had.has(mark)) lines.push(`rule add fwmark ${mark} lookup ${mark} pref ${priority}`);
  }
  for (const r of mine) {
    const mark = Number(r.fwmark);
    if (want.has(mark)) continue;
    lines.push(`rule del fwmark ${mark} pref ${priority}`, `route flush table ${r.table ?? mark}`);
  }
  return lines;
}

/** The cluster's load balancer table in the VNet namespace (inet: IPv4 and, dual-stack, IPv6 frontends). */
export const lbTable = (cluster: string) => ({ family: 'inet' as const, name: `podnet_lb_${cluster}` });

/** A frontend's chain: `fe_198_51_100_1`, `fe6_2001_db8_198_51__1`. */
const frontendChain = (ip: string) =>
  ip.includes(':') ? `fe6_${ip.replaceAll(':', '_')}` : `fe_${ip.replaceAll('.', '_')}`;

/** The fields each distribution mode hashes, per family. */
const HASHED = (d: LbFrontend['distribution'], ip: (typeof NFT_IP)[4 | 6]) =>
  d === 'sourceIp'
    ? `${ip} saddr . ${ip} daddr`
    : `${ip} saddr . ${ip} daddr . meta l4proto . th sport . th dport`;

/**
 * The load balancer as one nftables transaction replacing the cluster's table (so a health change is atomic):
 * a new flow to a rule is marked with the healthy node its hash picks, or dropped when there is none; a new
 * flow to the frontend range that no rule names is dropped before it is routed (without it, the node that got
 * it would send it back to the VNet's gateway); every packet of a marked flow carries its node's mark.
 */
export function renderLbTable(
  cluster: string,
  ranges: { cidr: string; cidr6?: string },
  frontends: LbFrontend[],
  backends: FrontendBackends[],
): string {
  const t = lbTable(cluster);
  const via = new Map(backends.map((b) => [b.ip, b.via]));
  const chains: string[] = [];
  const elements: Record<4 | 6, string[]> = { 4: [], 6: [] };
  for (const f of frontends) {
    const family = f.ip.includes(':') ? 6 : 4;
    const chain = frontendChain(f.ip);
    for (const r of f.rules) elements[family].push(`${f.ip} . ${r.protocol} . ${r.port} : jump ${chain}`);
    const nodes = via.get(f.ip) ?? [];
    const pick =
      nodes.length === 0
        ? 'drop comment "no healthy node"'
        : nodes.length === 1
          ? `ct mark set ${nodeMark(nodes[0])}`
          : `ct mark set jhash ${HASHED(f.distribution, NFT_IP[family])} mod ${nodes.length} seed 0x0 map { ${nodes.map((n, i) => `${i} : ${nodeMark(n)}`).join(', ')} }`;
    chains.push(
      `  chain ${chain} {`,
      `    comment "${f.service} ${f.policy}: ${nodes.join(', ') || 'none'}"`,
      `    ${pick}`,
      '  }',
    );
  }
  const families: [4 | 6, string | undefined][] = [
    [4, ranges.cidr],
    [6, ranges.cidr6],
  ];
  const maps: string[] = [];
  const dispatch: string[] = [];
  for (const [family, cidr] of families) {
    if (cidr === undefined) continue;
    const [ip, map] = [NFT_IP[family], `rules${family === 6 ? '_v6' : ''}`];
    maps.push(
      `  map ${map} {`,
      `    type ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'} . inet_proto . inet_service : verdict;`,
      ...(elements[family].length ? [`    elements = { ${elements[family].join(', ')} }`] : []),
      '  }',
    );
    dispatch.push(
      `    ${ip} daddr ${cidr} ct state new ${ip} daddr . meta l4proto . th dport vmap @${map}`,
      `    ${ip} daddr ${cidr} ct state new ct mark 0 counter drop comment "no load balancing rule"`,
      `    ${ip} daddr ${cidr} meta mark set ct mark`,
    );
  }
  return [
    `add table ${t.family} ${t.name}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
    `  comment "load balancer of cluster ${cluster}"`,
    ...maps,
    ...chains,
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    ...dispatch,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The backends of each frontend as `nft list table` prints the load balancer's table (sorted addresses). */
export function backendsOfListing(text: string): FrontendBackends[] {
  const out: FrontendBackends[] = [];
  for (const m of text.matchAll(/chain fe(6?)_([0-9a-f_]+) \{([^{}]*(?:\{[^{}]*\}[^{}]*)?)\}/g)) {
    const body = m[3];
    const marks = /ct mark set (?:jhash [^{]* map \{([^}]*)\}|(\S+))/.exec(body);
    const values = marks ? (marks[1] ? marks[1].split(',').map((e) => e.split(':')[1]) : [marks[2]]) : [];
    out.push({
      ip: m[1] ? m[2].replaceAll('_', ':') : m[2].replaceAll('_', '.'),
      via: values.map((v) => numberToIpv4(Number(v.trim()))).sort(),
    });
  }
  return out;
}

export function renderLbRulesRemoval(cluster: string): string {
  const t = lbTable(cluster);
  return `add table ${t.family} ${t.name}\ndelete table ${t.family} ${t.name}\n`;
}

/**
 * The service proxy: the `svc` section of the node table, in the shape of kube-proxy's nftables mode
 * (pkg/proxy/nftables/proxier.go, KEP-3866; reference/policy-services.md B.2), compiled from Services and the
 * pod endpoints. Pure: plain data in, a table section out. Per family (`_v4`, `_v6`):
 *
 *   svc_ips_v4       map  daddr . l4proto . dport : goto svc_s_<id> | svc_x_<id>   ClusterIPs, LB frontends
 *   svc_nodeports_v4 map  l4proto . dport : goto svc_x_<id>   node ports, on the node's addresses (not loopback)
 *   svc_noep_v4      set  daddr . l4proto . dport (and svc_noep_nodeports_v4)   no usable endpoint: reject
 *   svc_dnat         nat prerouting and output at dstnat: a vmap lookup for service addresses, one for node
 *                    ports, so the per-packet cost does not grow with the number of services
 *   svc_s_<id>       a ClusterIP port: pods DNAT as they are, everything else marked for masquerade first
 *   svc_x_<id>       a LoadBalancer frontend or node port: Cluster = masquerade, every endpoint; Local = only
 *                    this node's endpoints, the client's address kept (pods and the node itself take every endpoint);
 *                    a frontend of a Service with loadBalancerSourceRanges first drops every source outside them
 *   svc_m_<id>       map  numgen slot : ip . port    one pool of endpoints (all, or this node's), DNATed
 *                    straight from the random choice: `dnat ip to numgen random mod N map @svc_m_<id>`
 *   svc_pod_cidrs_v4 set  the cluster's pod CIDRs: who is a pod
 *   svc_hairpin_v4   set  ip . ip                    this node's endpoints paired with themselves: a pod that
 *                    reached itself through a service is masqueraded in postrouting (after the DNAT)
 *   svc_masq         nat postrouting at srcnat: masquerade what carries the mark bit, and hairpin; nothing else
 *
 * With ClientIP affinity a pool keeps kube-proxy's per-endpoint chains: `svc_p_<id>` looks the client up in
 * each endpoint's set (`svc_a_<ep>`, dynamic, with the timeout) before `numgen random mod N vmap @svc_m_<id>`,
 * and `svc_e_<ep>` records the client and DNATs.
 *
 * What each kind of client gets (which pool, masquerade or not) is `proxyRoute`, the one decision the section
 * is compiled from and `podnet trace` shows. An endpoint keeps its slot while it stays (`keepSlots`, from the
 * previous compile), so one endpoint coming or going is a few map elements and the pool's dispatch rules,
 * whatever the number of services or endpoints. Pod-to-service traffic that lands on a pod of another node
 * keeps the pod's source address (no mark: its source is in the pod CIDR, and the node's SNAT section leaves
 * pod-CIDR destinations alone). `internalTrafficPolicy: Local` sends cluster traffic only to this node's
 * endpoints (none: dropped, as kube-proxy drops it); a service with no endpoint at all is rejected (ICMP port
 * unreachable).
 */
import { createHash } from 'node:crypto';
import { type Cidr, type Family, containsIp, formatCidr, parseCidr, parseIp } from '../addr/index.js';
import type { NftChain, NftSet, TableSection } from '../dataplane/nft-table.js';
import type { PodEndpoint } from '../endpoints/record.js';
import { parseLooseCidr } from '../policy/validate.js';
import { type Backend, serviceBackends } from './endpoints.js';
import { type IpFamilyName, type Service, needsClusterIp, needsNodePorts } from './types.js';

/** kube-proxy's masquerade bit (--masquerade-bit 14). */
export const MASQUERADE_MARK = '0x00004000';

export interface ServiceWorld {
  services: Service[];
  endpoints: PodEndpoint[];
}

/** One address . protocol . port the proxy answers, and where it sends it. */
export interface ProxyEntry {
  /** `ns/name:port-name/proto`, for comments and stable names. */
  ref: string;
  /** `ns/name` of the service, and its port's name (the number when unnamed). */
  service: string;
  portName: string;
  /** The service address; '' for a node port (every address of the node). */
  ip: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
  /** Every endpoint of the service port (this family), in slot order. */
  backends: Backend[];
  /** This node's endpoints, in slot order. */
  localBackends: Backend[];
  /** ClientIP affinity timeout, seconds; unset = none. */
  affinitySeconds?: number;
  /** internalTrafficPolicy Local: cluster traffic only to this node's endpoints. */
  internalLocal: boolean;
  /** Set on LoadBalancer frontends and node ports: externalTrafficPolicy. */
  external?: 'Cluster' | 'Local';
  /** A node port: `port` is the node port, on any address of the node. */
  nodePort?: boolean;
  /**
   * A frontend's `spec.loadBalancerSourceRanges` of this family (canonical CIDRs): only these sources pass. Unset
   * when the Service has none of this family, as kube-proxy keeps a family's ranges only (MapCIDRsByIPFamily).
   */
  sourceRanges?: string[];
}

export interface FamilyProxy {
  family: Family;
  /** The cluster's pod CIDRs of this family: traffic from elsewhere is masqueraded. */
  podCidrs: string[];
  entries: ProxyEntry[];
}

export interface ServiceProxyInput {
  selfNode: string;
  families: FamilyProxy[];
}

/**
 * Who sends to a service address, as the node's rules tell them apart: a pod (source in the pod CIDR), the
 * node itself (`fib saddr type local`), or anyone else (another node, a load balancer's client).
 */
export type ProxyClient = 'pod' | 'node' | 'outside';

/** What the proxy does with a new connection of one kind of client to one entry. */
export interface ProxyRoute {
  /** The endpoints the random choice is among; empty = dropped. */
  pool: 'cluster' | 'local';
  targets: Backend[];
  /** Marked for masquerade: the endpoint sees the node's address. (Hairpin is masqueraded regardless.) */
  masquerade: boolean;
  /** Why, in kube-proxy's terms. */
  why: string;
}

/**
 * kube-proxy's choice of endpoint pool and masquerade (proxier.go: internalPolicyChain, externalPolicyChain,
 * IfLocal, mark-for-masquerade): a ClusterIP takes the internal pool (this node's endpoints under
 * internalTrafficPolicy Local) and masquerades what is not from a pod; a frontend with externalTrafficPolicy
 * Cluster masquerades everything to every endpoint; with Local, outside clients keep their address and reach only
 * this node's endpoints, while pods (short-circuited) and the node itself (masqueraded) take every endpoint.
 */
export function proxyRoute(e: ProxyEntry, client: ProxyClient): ProxyRoute {
  const pool = (p: 'cluster' | 'local') => ({
    pool: p,
    targets: p === 'local' ? e.localBackends : e.backends,
  });
  if (!e.external) {
    const p = e.internalLocal ? 'local' : 'cluster';
    return client === 'pod'
      ? { ...pool(p), masquerade: false, why: 'from a pod: the source is kept' }
      : { ...pool(p), masquerade: true, why: 'from outside the pod CIDR: masqueraded' };
  }
  if (e.external === 'Cluster')
    return { ...pool('cluster'), masquerade: true, why: 'externalTrafficPolicy Cluster: masqueraded' };
  if (client === 'pod')
    return { ...pool('cluster'), masquerade: false, why: 'a pod to a frontend takes every endpoint' };
  if (client === 'node')
    return { ...pool('cluster'), masquerade: true, why: 'the node to a frontend: masqueraded' };
  return {
    ...pool('local'),
    masquerade: false,
    why: "externalTrafficPolicy Local: the client's address is kept, this node's endpoints only",
  };
}

/**
 * Whether the proxy lets `clientIp` reach the entry: a frontend with source ranges drops every other source
 * before the DNAT (kube-proxy's firewall check; https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer:
 * "traffic through the cloud-provider load-balancer will be restricted to the specified client IPs").
 */
export function sourceAllowed(e: ProxyEntry, clientIp: string): boolean {
  if (!e.sourceRanges) return true;
  const ip = parseIp(clientIp);
  return e.sourceRanges.some((r) => {
    const c = parseCidr(r);
    return c.family === ip.family && containsIp(c, ip);
  });
}

/** The frontend's source ranges of `family` (spaces trimmed, as the API server allows them padded). */
function sourceRangesOf(svc: Service, family: Family): string[] | undefined {
  const ranges = (svc.spec.loadBalancerSourceRanges ?? [])
    .map((r) => parseLooseCidr(r.trim()))
    .filter((c): c is Cidr => c !== null && c.family === family)
    .map(formatCidr);
  return ranges.length > 0 ? ranges : undefined;
}

/** Whether the proxy masquerades a connection from `client` that the random choice sent to `to` (hairpin). */
export const isHairpin = (clientIp: string, to: Backend) => clientIp === to.ip;

/**
 * The entry a packet to `ip . protocol . port` meets in the node's `svc_ips` map, or, when `ip` is an address of
 * the node, in its `svc_nodeports` map.
 */
export function proxyEntryFor(
  input: ServiceProxyInput,
  ip: string,
  protocol: string,
  port: number,
  nodeAddress = false,
): ProxyEntry | undefined {
  const p = protocol.toLowerCase();
  const family = familyOf(ip);
  for (const f of input.families) {
    const e =
      f.entries.find((x) => !x.nodePort && x.ip === ip && x.protocol === p && x.port === port) ??
      (nodeAddress && f.family === family
        ? f.entries.find((x) => x.nodePort && x.protocol === p && x.port === port)
        : undefined);
    if (e) return e;
  }
  return undefined;
}

const NFT = {
  4: { v: 'v4', match: 'ip', type: 'ipv4_addr', nfproto: 'ipv4' },
  6: { v: 'v6', match: 'ip6', type: 'ipv6_addr', nfproto: 'ipv6' },
} as const;

const FAMILY_NAME: Record<Family, IpFamilyName> = { 4: 'IPv4', 6: 'IPv6' };

const familyOf = (ip: string): Family | null => {
  try {
    return parseIp(ip).family;
  } catch {
    return null;
  }
};

const backendKey = (b: Backend) => `${b.ip}:${b.port}`;

/**
 * `next` in the slots of `prev`: an endpoint that stays keeps its slot, a new one takes a freed slot or is
 * appended, and a slot left empty takes the last endpoint, so the slots stay 0..N-1 and one endpoint coming or
 * going moves at most one other.
 */
export function keepSlots(prev: readonly Backend[] | undefined, next: readonly Backend[]): Backend[] {
  if (!prev || prev.length === 0) return [...next];
  const wanted = new Map(next.map((b) => [backendKey(b), b]));
  const known = new Set(prev.map(backendKey));
  const added = next.filter((b) => !known.has(backendKey(b)));
  const slots: (Backend | null)[] = prev.map((b) => wanted.get(backendKey(b)) ?? null);
  for (let i = 0; i < slots.length && added.length > 0; i++)
    if (slots[i] === null) slots[i] = added.shift() ?? null;
  slots.push(...added);
  for (let hole = slots.indexOf(null); hole !== -1; hole = slots.indexOf(null)) {
    const last = slots.pop() ?? null;
    if (hole < slots.length) slots[hole] = last;
  }
  return slots as Backend[];
}

/**
 * The proxy entries of every service, per family the node has pod CIDRs in. `previous` (the last compile) keeps
 * each endpoint in its slot.
 */
export function compileServiceProxy(
  world: ServiceWorld,
  selfNode: string,
  families: { family: Family; podCidrs: string[] }[],
  previous?: ServiceProxyInput,
): ServiceProxyInput {
  // Endpoints by namespace and label pair: a service looks only at those carrying its first selector pair,
  // not at every endpoint of the cluster.
  const byPair = new Map<string, PodEndpoint[]>();
  for (const e of world.endpoints)
    for (const [k, v] of Object.entries(e.labels)) {
      const key = `${e.namespace}\0${k}=${v}`;
      const list = byPair.get(key);
      if (list) list.push(e);
      else byPair.set(key, [e]);
    }
  const candidates = (svc: Service) => {
    const first = Object.entries(svc.spec.selector ?? {})[0];
    return first ? (byPair.get(`${svc.metadata.namespace}\0${first[0]}=${first[1]}`) ?? []) : [];
  };
  const before = new Map<string, ProxyEntry>();
  for (const f of previous?.families ?? []) for (const e of f.entries) before.set(`${f.family}/${e.ref}`, e);
  return {
    selfNode,
    families: families.map(({ family, podCidrs }) => {
      const entries: ProxyEntry[] = [];
      for (const svc of world.services) {
        if (!needsClusterIp(svc.spec)) continue;
        // spec.ipFamilies names the families the service has; clusterIPs hold one address of each.
        if (svc.spec.ipFamilies && !svc.spec.ipFamilies.includes(FAMILY_NAME[family])) continue;
        const clusterIps = (svc.spec.clusterIPs ?? []).filter((ip) => familyOf(ip) === family);
        const frontends = (svc.status?.loadBalancer?.ingress ?? [])
          .map((i) => i.ip)
          .filter((ip): ip is string => ip !== undefined && familyOf(ip) === family);
        if (clusterIps.length + frontends.length === 0) continue;
        const backends = serviceBackends(svc, candidates(svc), family);
        const affinity =
          svc.spec.sessionAffinity === 'ClientIP'
            ? (svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800)
            : undefined;
        (svc.spec.ports ?? []).forEach((sp, i) => {
          const protocol = (sp.protocol ?? 'TCP').toLowerCase() as ProxyEntry['protocol'];
          const ref = `${svc.metadata.namespace}/${svc.metadata.name}:${sp.name || sp.port}/${protocol}`;
          const old = before.get(`${family}/${ref}`);
          const all = keepSlots(old?.backends, backends[i]);
          const base = {
            ref,
            service: `${svc.metadata.namespace}/${svc.metadata.name}`,
            portName: sp.name || String(sp.port),
            protocol,
            port: sp.port,
            backends: all,
            localBackends: keepSlots(
              old?.localBackends,
              all.filter((b) => b.node === selfNode),
            ),
            ...(affinity !== undefined ? { affinitySeconds: affinity } : {}),
            internalLocal: svc.spec.internalTrafficPolicy === 'Local',
          };
          for (const ip of clusterIps) entries.push({ ...base, ip });
          const external = svc.spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
          const sourceRanges = sourceRangesOf(svc, family);
          for (const ip of frontends)
            entries.push({ ...base, ip, external, ...(sourceRanges ? { sourceRanges } : {}) });
          if (sp.nodePort && needsNodePorts(svc.spec))
            entries.push({ ...base, ip: '', port: sp.nodePort, external, nodePort: true });
        });
      }
      entries.sort((a, b) =>
        a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0,
      );
      return { family, podCidrs, entries };
    }),
  };
}

/** A stable, short id (kube-proxy hashes the same way: base32 of SHA-256; hex here). */
const id = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export const emptyServiceProxy = (families: { family: Family; podCidrs: string[] }[]): ServiceProxyInput => ({
  selfNode: '',
  families: families.map((f) => ({ family: f.family, podCidrs: f.podCidrs, entries: [] })),
});

const MARK = `meta mark set meta mark | ${MASQUERADE_MARK}`;

/** The section being built: each set and chain once. */
class SectionBuilder {
  readonly sets = new Map<string, NftSet>();
  readonly chains = new Map<string, NftChain>();
  set(s: NftSet) {
    if (!this.sets.has(s.name)) this.sets.set(s.name, s);
  }
  chain(c: NftChain) {
    if (!this.chains.has(c.name)) this.chains.set(c.name, c);
  }
}

/**
 * The statement that sends a packet into one pool: a map of the pool's own (slot 0..N-1 to `ip . port`) that
 * the DNAT reads straight from the random choice, or with affinity, to the endpoint chains, after the client
 * is looked up in each endpoint's set (the pool's chain). No endpoint: drop. One map per pool, not one for
 * all services: the kernel checks a map's every element each time a chain binds it (nf_tables_bind_set), so
 * a shared map would cost services x endpoints per table load.
 */
function poolVerdict(e: ProxyEntry, family: Family, route: ProxyRoute, out: SectionBuilder): string {
  const { match } = NFT[family];
  const n = route.targets.length;
  if (n === 0) return `drop comment "${e.ref}: no local endpoint"`;
  const pid = id(`${family}/${e.ref}/${route.pool}`);
  const map = `svc_m_${pid}`;
  const slots = { name: map, type: 'numgen random mod 1', typeOf: true, interval: false };
  if (e.affinitySeconds === undefined) {
    out.set({
      ...slots,
      data: `${match} daddr . ${e.protocol} dport`,
      elements: route.targets.map((b, i) => `${i} : ${b.ip} . ${b.port}`),
    });
    return `meta l4proto ${e.protocol} dnat ${match} to numgen random mod ${n} map @${map}`;
  }
  const endpoints = route.targets.map((b) => {
    const eid = id(`${e.ref}/${b.ip}:${b.port}`);
    const chain = `svc_e_${eid}`;
    const aff = `svc_a_${eid}`;
    out.set({
      name: aff,
      type: NFT[family].type,
      interval: false,
      dynamicTimeoutSeconds: e.affinitySeconds,
      elements: [],
    });
    out.chain({
      name: chain,
      rules: [
        `update @${aff} { ${match} saddr }`,
        `meta l4proto ${e.protocol} dnat ${match} to ${family === 6 ? `[${b.ip}]` : b.ip}:${b.port}`,
      ],
    });
    return { chain, aff };
  });
  out.set({ ...slots, verdictMap: true, elements: endpoints.map((x, i) => `${i} : goto ${x.chain}`) });
  out.chain({
    name: `svc_p_${pid}`,
    rules: [
      ...endpoints.map((x) => `${match} saddr @${x.aff} goto ${x.chain}`),
      `numgen random mod ${n} vmap @${map}`,
    ],
  });
  return `goto svc_p_${pid}`;
}

/**
 * An entry's chain, compiled from `proxyRoute` for each kind of client. When every kind takes the same pool
 * (ClusterIP, externalTrafficPolicy Cluster) a mark rule says who is masqueraded and one rule chooses;
 * otherwise (externalTrafficPolicy Local) pods and the node get rules of their own before everyone else's.
 */
function entryRules(e: ProxyEntry, f: FamilyProxy, out: SectionBuilder): string[] {
  const { match, v } = NFT[f.family];
  const pods = `${match} saddr @svc_pod_cidrs_${v}`;
  const [pod, node, rest] = (['pod', 'node', 'outside'] as const).map((c) => proxyRoute(e, c));
  if (pod.pool === rest.pool && node.pool === rest.pool && node.masquerade === rest.masquerade) {
    const choose = poolVerdict(e, f.family, rest, out);
    if (rest.targets.length === 0 || (!pod.masquerade && !rest.masquerade)) return [choose];
    if (pod.masquerade && rest.masquerade) return [`${MARK} ${choose}`];
    if (rest.masquerade) return [`${match} saddr != @svc_pod_cidrs_${v} ${MARK}`, choose];
  }
  const verdict = (r: ProxyRoute) =>
    `${r.masquerade && r.targets.length > 0 ? `${MARK} ` : ''}${poolVerdict(e, f.family, r, out)}`;
  return [`${pods} ${verdict(pod)}`, `fib saddr type local ${verdict(node)}`, verdict(rest)];
}

/** The `svc` section of the node table; empty while the cluster has no service. */
export function serviceSection(input: ServiceProxyInput): TableSection {
  if (input.families.every((f) => f.entries.length === 0)) return { name: 'svc', sets: [], chains: [] };
  const out = new SectionBuilder();
  const dispatch: string[] = [];
  const rejects: string[] = [];
  const masq = [
    `meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} meta mark set meta mark ^ ${MASQUERADE_MARK} masquerade fully-random comment "podnet: marked: from outside the pod CIDR, or externalTrafficPolicy Cluster"`,
  ];
  const maps: NftSet[] = [];
  for (const f of input.families) {
    const { v, match, type } = NFT[f.family];
    const vmap: string[] = [];
    const noEndpoints: string[] = [];
    const nodePorts: string[] = [];
    const noEndpointNodePorts: string[] = [];
    const hairpin = new Set<string>();
    for (const e of f.entries) {
      const key = e.nodePort ? `${e.protocol} . ${e.port}` : `${e.ip} . ${e.protocol} . ${e.port}`;
      if (e.backends.length === 0) {
        (e.nodePort ? noEndpointNodePorts : noEndpoints).push(key);
        continue;
      }
      for (const b of e.localBackends) hairpin.add(`${b.ip} . ${b.ip}`);
      const chain = e.external
        ? `svc_x_${id(`${f.family}/${e.ref}/${e.nodePort ? 'nodeport' : e.ip}`)}`
        : `svc_s_${id(`${f.family}/${e.ref}`)}`;
      const firewall = e.sourceRanges
        ? [
            `${NFT[f.family].match} saddr != { ${e.sourceRanges.join(', ')} } drop comment "${e.ref}: not in loadBalancerSourceRanges"`,
          ]
        : [];
      out.chain({ name: chain, rules: [...firewall, ...entryRules(e, f, out)] });
      (e.nodePort ? nodePorts : vmap).push(`${key} : goto ${chain}`);
    }
    maps.push(
      {
        name: `svc_ips_${v}`,
        type: `${type} . inet_proto . inet_service`,
        verdictMap: true,
        interval: false,
        elements: vmap,
      },
      {
        name: `svc_noep_${v}`,
        type: `${type} . inet_proto . inet_service`,
        interval: false,
        elements: noEndpoints,
      },
      {
        name: `svc_nodeports_${v}`,
        type: 'inet_proto . inet_service',
        verdictMap: true,
        interval: false,
        elements: nodePorts,
      },
      {
        name: `svc_noep_nodeports_${v}`,
        type: 'inet_proto . inet_service',
        interval: false,
        elements: noEndpointNodePorts,
      },
      { name: `svc_hairpin_${v}`, type: `${type} . ${type}`, interval: false, elements: [...hairpin] },
      { name: `svc_pod_cidrs_${v}`, type, interval: true, elements: f.podCidrs },
    );
    // Node ports on the node's own addresses but not loopback, as kube-proxy's nftables mode (no route_localnet).
    const onNode = `fib daddr type local ${match} daddr != ${f.family === 4 ? '127.0.0.0/8' : '::1'}`;
    dispatch.push(
      `${match} daddr . meta l4proto . th dport vmap @svc_ips_${v}`,
      `${onNode} meta l4proto . th dport vmap @svc_nodeports_${v}`,
    );
    rejects.push(
      `${match} daddr . meta l4proto . th dport @svc_noep_${v} reject comment "podnet: a service without endpoints"`,
      `${onNode} meta l4proto . th dport @svc_noep_nodeports_${v} reject comment "podnet: a node port without endpoints"`,
    );
    masq.push(
      `ct status dnat ${match} saddr . ${match} daddr @svc_hairpin_${v} masquerade fully-random comment "podnet: a pod reached itself through a service (hairpin)"`,
    );
  }
  return {
    name: 'svc',
    sets: [...maps, ...out.sets.values()],
    chains: [
      ...out.chains.values(),
      { name: 'svc_reject', base: { type: 'filter', hook: 'prerouting', priority: '-110' }, rules: rejects },
      { name: 'svc_reject_out', base: { type: 'filter', hook: 'output', priority: '-110' }, rules: rejects },
      { name: 'svc_dnat', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: dispatch },
      { name: 'svc_dnat_out', base: { type: 'nat', hook: 'output', priority: '-100' }, rules: dispatch },
      { name: 'svc_masq', base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' }, rules: masq },
    ],
  };
}

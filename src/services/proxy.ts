/**
 * The service proxy: the `svc` section of the node table, in the shape of kube-proxy's nftables mode
 * (pkg/proxy/nftables/proxier.go, KEP-3866; reference/policy-services.md B.2), compiled from Services and the
 * pod endpoints. Pure: plain data in, a table section out.
 *
 *   svc_ips_v4       map  daddr . l4proto . dport : goto svc_s_<id>   ClusterIPs (and LoadBalancer frontends)
 *   svc_noep_v4      set  daddr . l4proto . dport                     services without a usable endpoint: reject
 *   svc_dnat         nat prerouting and output at dstnat: one vmap lookup, so the per-packet cost does not
 *                    grow with the number of services
 *   svc_s_<id>       per service port: traffic not from the pod CIDR is marked for masquerade; ClientIP
 *                    affinity (`ip saddr @svc_a_<ep> goto svc_e_<ep>`); `numgen random mod N vmap` over endpoints
 *   svc_x_<id>       a LoadBalancer frontend: Cluster = masquerade, then the service chain; Local = only this
 *                    node's endpoints, the client's address kept (pod-originated traffic takes the service chain)
 *   svc_e_<id>       per endpoint: hairpin (the endpoint reaching itself) marked for masquerade, affinity
 *                    update, `dnat ip to IP:PORT`
 *   svc_a_<id>       per endpoint with ClientIP affinity: a dynamic set of client addresses with a timeout
 *   svc_masq         nat postrouting at srcnat: masquerade what carries the mark bit, and only that
 *
 * Pod-to-service traffic that lands on a pod of another node keeps the pod's source address (no mark: its
 * source is in the pod CIDR, and the node's SNAT section leaves pod-CIDR destinations alone).
 * `internalTrafficPolicy: Local` sends cluster traffic only to this node's endpoints (none: dropped, as
 * kube-proxy drops it); a service with no endpoint at all is rejected (ICMP port unreachable).
 */
import { createHash } from 'node:crypto';
import { type Family, parseIp } from '../addr/index.js';
import type { NftChain, NftSet, TableSection } from '../dataplane/nft-table.js';
import type { PodEndpoint } from '../endpoints/record.js';
import { type Backend, serviceBackends } from './endpoints.js';
import { type Service, needsClusterIp } from './types.js';

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
  ip: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
  backends: Backend[];
  /** ClientIP affinity timeout, seconds; unset = none. */
  affinitySeconds?: number;
  /** internalTrafficPolicy Local: cluster traffic only to this node's endpoints. */
  internalLocal: boolean;
  /** Set on LoadBalancer frontends: externalTrafficPolicy. */
  external?: 'Cluster' | 'Local';
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

const NFT = {
  4: { v: 'v4', match: 'ip', type: 'ipv4_addr', nfproto: 'ipv4' },
  6: { v: 'v6', match: 'ip6', type: 'ipv6_addr', nfproto: 'ipv6' },
} as const;

const familyOf = (ip: string): Family | null => {
  try {
    return parseIp(ip).family;
  } catch {
    return null;
  }
};

/** The proxy entries of every service, per family the node has pod CIDRs in. */
export function compileServiceProxy(
  world: ServiceWorld,
  selfNode: string,
  families: { family: Family; podCidrs: string[] }[],
): ServiceProxyInput {
  return {
    selfNode,
    families: families.map(({ family, podCidrs }) => {
      const entries: ProxyEntry[] = [];
      for (const svc of world.services) {
        if (!needsClusterIp(svc.spec)) continue;
        const backends = serviceBackends(svc, world.endpoints, family);
        const affinity =
          svc.spec.sessionAffinity === 'ClientIP'
            ? (svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800)
            : undefined;
        const frontends = (svc.status?.loadBalancer?.ingress ?? [])
          .map((i) => i.ip)
          .filter((ip): ip is string => ip !== undefined && familyOf(ip) === family);
        (svc.spec.ports ?? []).forEach((sp, i) => {
          const base = {
            ref: `${svc.metadata.namespace}/${svc.metadata.name}:${sp.name || sp.port}/${(sp.protocol ?? 'TCP').toLowerCase()}`,
            protocol: (sp.protocol ?? 'TCP').toLowerCase() as ProxyEntry['protocol'],
            port: sp.port,
            backends: backends[i],
            ...(affinity !== undefined ? { affinitySeconds: affinity } : {}),
            internalLocal: svc.spec.internalTrafficPolicy === 'Local',
          };
          for (const ip of svc.spec.clusterIPs ?? [])
            if (familyOf(ip) === family) entries.push({ ...base, ip });
          for (const ip of frontends)
            entries.push({
              ...base,
              ip,
              external: svc.spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
            });
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

/** The `svc` section of the node table; empty while the cluster has no service. */
export function serviceSection(input: ServiceProxyInput): TableSection {
  if (input.families.every((f) => f.entries.length === 0)) return { name: 'svc', sets: [], chains: [] };
  const sets: NftSet[] = [];
  const chains = new Map<string, NftChain>();
  const endpointChains = new Map<string, NftChain>();
  const dispatch: string[] = [];
  const rejects: string[] = [];
  for (const f of input.families) {
    const { v, match, type } = NFT[f.family];
    const vmap: string[] = [];
    const noEndpoints: string[] = [];
    const podCidrs = f.podCidrs.length ? `{ ${f.podCidrs.join(', ')} }` : null;
    for (const e of f.entries) {
      const key = `${e.ip} . ${e.protocol} . ${e.port}`;
      const local = e.backends.filter((b) => b.node === input.selfNode);
      const clusterTargets = e.internalLocal ? local : e.backends;
      const sid = id(`${f.family}/${e.ref}`);
      if (e.backends.length === 0) {
        noEndpoints.push(key);
        continue;
      }
      const svcChain = `svc_s_${sid}`;
      if (!chains.has(svcChain)) {
        chains.set(svcChain, {
          name: svcChain,
          rules: [
            ...(podCidrs
              ? [
                  `${match} saddr != ${podCidrs} meta mark set meta mark | ${MASQUERADE_MARK} comment "${e.ref}: from outside the pod CIDR"`,
                ]
              : []),
            ...endpointDispatch(e, clusterTargets, f.family, endpointChains),
          ],
        });
      }
      if (!e.external) {
        vmap.push(`${key} : goto ${svcChain}`);
        continue;
      }
      const xChain = `svc_x_${id(`${e.ref}/${e.ip}`)}`;
      const rules =
        e.external === 'Cluster'
          ? [`meta mark set meta mark | ${MASQUERADE_MARK}`, `goto ${svcChain}`]
          : [
              ...(podCidrs
                ? [`${match} saddr ${podCidrs} goto ${svcChain} comment "pods take the cluster path"`]
                : []),
              `fib saddr type local meta mark set meta mark | ${MASQUERADE_MARK} goto ${svcChain}`,
              ...(local.length
                ? endpointDispatch(e, local, f.family, endpointChains)
                : ['drop comment "no local endpoint"']),
            ];
      chains.set(xChain, { name: xChain, rules });
      vmap.push(`${key} : goto ${xChain}`);
    }
    sets.push({
      name: `svc_ips_${v}`,
      type: `${type} . inet_proto . inet_service`,
      verdictMap: true,
      interval: false,
      elements: vmap,
    });
    sets.push({
      name: `svc_noep_${v}`,
      type: `${type} . inet_proto . inet_service`,
      interval: false,
      elements: noEndpoints,
    });
    dispatch.push(`${match} daddr . meta l4proto . th dport vmap @svc_ips_${v}`);
    rejects.push(
      `${match} daddr . meta l4proto . th dport @svc_noep_${v} reject comment "podnet: a service without endpoints"`,
    );
  }
  for (const c of endpointChains.values()) chains.set(c.name, c);
  const affinitySets = new Set<string>();
  for (const e of input.families.flatMap((f) => f.entries))
    if (e.affinitySeconds !== undefined)
      for (const b of e.backends) {
        const name = `svc_a_${id(`${e.ref}/${b.ip}:${b.port}`)}`;
        if (!affinitySets.has(name) && affinitySets.add(name))
          sets.push({
            name,
            type: NFT[familyOf(b.ip) as Family].type,
            interval: false,
            dynamicTimeoutSeconds: e.affinitySeconds,
            elements: [],
          });
      }
  return {
    name: 'svc',
    sets,
    chains: [
      ...chains.values(),
      { name: 'svc_reject', base: { type: 'filter', hook: 'prerouting', priority: '-110' }, rules: rejects },
      { name: 'svc_reject_out', base: { type: 'filter', hook: 'output', priority: '-110' }, rules: rejects },
      { name: 'svc_dnat', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: dispatch },
      { name: 'svc_dnat_out', base: { type: 'nat', hook: 'output', priority: 'dstnat' }, rules: dispatch },
      {
        name: 'svc_masq',
        base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' },
        rules: [
          `meta mark & ${MASQUERADE_MARK} == ${MASQUERADE_MARK} meta mark set meta mark ^ ${MASQUERADE_MARK} masquerade fully-random comment "podnet: hairpin and traffic from outside the pod CIDR"`,
        ],
      },
    ],
  };
}

/** Affinity lookups, then a random choice among `targets`; no target: drop (Local policy without a local one). */
function endpointDispatch(
  e: ProxyEntry,
  targets: Backend[],
  family: Family,
  made: Map<string, NftChain>,
): string[] {
  if (targets.length === 0) return [`drop comment "${e.ref}: no local endpoint"`];
  const { match } = NFT[family];
  const names = targets.map((b) => {
    const eid = id(`${e.ref}/${b.ip}:${b.port}`);
    const name = `svc_e_${eid}`;
    const aff = `svc_a_${eid}`;
    if (!made.has(name))
      made.set(name, {
        name,
        rules: [
          `${match} saddr ${b.ip} meta mark set meta mark | ${MASQUERADE_MARK} comment "${e.ref}: hairpin"`,
          ...(e.affinitySeconds !== undefined ? [`update @${aff} { ${match} saddr }`] : []),
          `meta l4proto ${e.protocol} dnat ${match} to ${family === 6 ? `[${b.ip}]` : b.ip}:${b.port}`,
        ],
      });
    return { name, aff };
  });
  const affinity =
    e.affinitySeconds !== undefined ? names.map((n) => `${match} saddr @${n.aff} goto ${n.name}`) : [];
  const choice =
    names.length === 1
      ? `goto ${names[0].name}`
      : `numgen random mod ${names.length} vmap { ${names.map((n, i) => `${i} : goto ${n.name}`).join(', ')} }`;
  return [...affinity, choice];
}

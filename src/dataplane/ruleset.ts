/**
 * The node's own nftables table, `inet podnet_node`, as a list of sections (`nft-table.ts`), each rendered
 * purely from its own typed, per-family input so it is golden-tested; `node-ruleset.ts` applies the table.
 *
 * Sections and where they hook, in the order a forwarded pod packet meets them:
 *   antispoof  filter prerouting, priority raw (-300): before conntrack, so spoofed packets leave no state
 *   guard      filter forward and input, priority filter (0): pods never reach the cluster store
 *   dns        nat prerouting and output, priority -120: the DNS service IP to the node's own DNS server
 *              (src/dns/nft.ts), before the service proxy sees it
 *   svc        nat prerouting and output, priority dstnat (-100): Service DNAT (src/services/proxy.ts); its
 *              reject of services without endpoints at filter prerouting/output -110, before DNAT
 *   pol        filter forward and input, priority filter (0): NetworkPolicy of the node's own pods, after
 *              DNAT, so it sees the chosen endpoint (src/policy/nft.ts)
 *   snat       nat postrouting, priority srcnat (100): last, after routing chose the way out
 * The text follows the same order; hooks and priorities, not the text, order the chains in the kernel.
 *
 * SNAT follows ip-masq-agent as AKS configures it for overlay: traffic from the pod CIDR(s) to a destination
 * outside the pod CIDR(s), outside the profile's `nonMasqueradeCidrs`, and not local to the node leaves with the
 * node's address. Pod-to-pod traffic (same node or across nodes) keeps the pod's own source.
 */
import { type Cidr, type Family, formatCidr, outermostCidrs, parseCidr } from '../addr/index.js';
import { type NodeDnsInput, dnsSection } from '../dns/nft.js';
import { type NodePolicyInput, emptyNodePolicy, policySection } from '../policy/nft.js';
import { type ServiceProxyInput, emptyServiceProxy, serviceSection } from '../services/proxy.js';
import { type NftTableId, type TableSection, renderTable } from './nft-table.js';
import { HOST_VETH_PREFIX } from './pod-network.js';

/** podnet's table on a node; nothing else in the ruleset is ever touched. */
export const NODE_TABLE: NftTableId = { family: 'inet', name: 'podnet_node' };

/** One address family's SNAT exemptions, canonical and minimal (`normalizeCidrs`). */
export interface FamilySnat {
  family: Family;
  /** The cluster's pod CIDR(s) of this family: pod traffic to these keeps its source. */
  podCidrs: string[];
  /** Extra destinations reached without SNAT (ip-masq-agent's nonMasqueradeCIDRs). */
  nonMasqueradeCidrs: string[];
}

export interface SnatInput {
  /** One entry per family the cluster has pod CIDRs in, IPv4 first. */
  families: FamilySnat[];
}

export interface AntiSpoofInput {
  /** The families pods get addresses in: each gets its own reverse-path rule. */
  families: Family[];
}

/** An address and TCP port the cluster store listens on (an etcd member). */
export interface StoreEndpoint {
  family: Family;
  ip: string;
  port: number;
}

export interface GuardInput {
  /** The cluster store's endpoints: a pod that could write there could rewrite any node's lease. */
  storeEndpoints: StoreEndpoint[];
}

/** Everything the node table is rendered from, one input per section. */
export interface NodeTableInput {
  antiSpoof: AntiSpoofInput;
  guard: GuardInput;
  snat: SnatInput;
  services: ServiceProxyInput;
  policy: NodePolicyInput;
  /** The DNS service IP sent to the node's own DNS server (src/dns/nft.ts); none = no such section. */
  dns?: NodeDnsInput;
}

const NFT_FAMILY = {
  4: { v: 'v4', match: 'ip', nfproto: 'ipv4', type: 'ipv4_addr' },
  6: { v: 'v6', match: 'ip6', nfproto: 'ipv6', type: 'ipv6_addr' },
} as const;

/**
 * Canonical, minimal CIDR list per family: parsed, deduplicated, without CIDRs nested in another one (nft's
 * interval sets reject overlapping elements), sorted by address.
 */
export function normalizeCidrs(cidrs: string[], field: string): { v4: string[]; v6: string[] } {
  const kept = outermostCidrs(cidrs.map((c) => parseCidr(c, field)));
  const byAddress = (a: Cidr, b: Cidr) =>
    a.network < b.network ? -1 : a.network > b.network ? 1 : a.prefix - b.prefix;
  const fmt = (family: Family) =>
    kept
      .filter((c) => c.family === family)
      .sort(byAddress)
      .map(formatCidr);
  return { v4: fmt(4), v6: fmt(6) };
}

/**
 * The table input for a cluster's pod CIDRs and non-masquerade list (profile fields, named in errors): a
 * family takes part when the cluster has pod CIDRs in it.
 */
export function nodeTableInput(
  network: {
    podCidrs: string[];
    nonMasqueradeCidrs: string[];
  },
  storeEndpoints: StoreEndpoint[] = [],
): NodeTableInput {
  const pod = normalizeCidrs(network.podCidrs, 'network.podCidrs');
  const nonMasq = normalizeCidrs(network.nonMasqueradeCidrs, 'network.nonMasqueradeCidrs');
  const families = ([4, 6] as const)
    .map((family) => ({
      family,
      podCidrs: pod[NFT_FAMILY[family].v],
      nonMasqueradeCidrs: nonMasq[NFT_FAMILY[family].v],
    }))
    .filter((f) => f.podCidrs.length > 0);
  return {
    antiSpoof: { families: families.map((f) => f.family) },
    guard: { storeEndpoints },
    snat: { families },
    // No service until the agent compiles the cluster's Services in (agent/desired.ts).
    services: emptyServiceProxy(families),
    // No local pod isolated until the agent compiles the cluster's policies in (agent/desired.ts).
    policy: emptyNodePolicy(families.map((f) => f.family)),
  };
}

/**
 * Reverse-path check on pod veths: the /32 (or /128) route to each pod points at its own veth, so a packet whose
 * source does not route back out of the veth it came in on is spoofed. Static: a CNI ADD needs no nft call.
 */
export function antiSpoofSection(input: AntiSpoofInput): TableSection {
  return {
    name: 'antispoof',
    sets: [],
    chains: [
      {
        name: 'antispoof_prerouting',
        base: { type: 'filter', hook: 'prerouting', priority: 'raw' },
        rules: input.families.map(
          (f) =>
            `meta nfproto ${NFT_FAMILY[f].nfproto} iifname "${HOST_VETH_PREFIX}*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"`,
        ),
      },
    ],
  };
}

/**
 * Pods never reach the cluster store: packets from a pod veth to a store endpoint are dropped whether the store
 * is elsewhere (forward) or on this node (input). Without this, one HTTP PUT from a pod to etcd's gateway API
 * rewrote another node's lease (issue 14). Chains only when the store has network endpoints (etcd; a sqlite
 * store is a root-only file).
 */
export function guardSection(input: GuardInput): TableSection {
  const families = ([4, 6] as const)
    .map((family) => ({ family, eps: input.storeEndpoints.filter((e) => e.family === family) }))
    .filter((f) => f.eps.length > 0);
  const rules = families.map(({ family, eps }) => {
    const { nfproto, match } = NFT_FAMILY[family];
    const elements = eps.map((e) => `${e.ip} . ${e.port}`).join(', ');
    return `meta nfproto ${nfproto} iifname "${HOST_VETH_PREFIX}*" ${match} daddr . tcp dport { ${elements} } counter drop comment "podnet: pods never reach the cluster store"`;
  });
  return {
    name: 'guard',
    sets: [],
    chains:
      rules.length === 0
        ? []
        : (['forward', 'input'] as const).map((hook) => ({
            name: `guard_${hook}`,
            base: { type: 'filter' as const, hook, priority: 'filter' },
            rules,
          })),
  };
}

/** Masquerade of pod traffic leaving the pod CIDR, one pair of interval sets and one rule per family. */
export function snatSection(input: SnatInput): TableSection {
  return {
    name: 'snat',
    sets: input.families.flatMap((f) => {
      const { v, type } = NFT_FAMILY[f.family];
      return [
        { name: `snat_pod_cidrs_${v}`, type, interval: true, elements: f.podCidrs },
        { name: `snat_nonmasq_${v}`, type, interval: true, elements: f.nonMasqueradeCidrs },
      ];
    }),
    chains: [
      {
        name: 'snat_postrouting',
        base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' },
        rules: input.families.map((f) => {
          const { v, match } = NFT_FAMILY[f.family];
          return `${match} saddr @snat_pod_cidrs_${v} ${match} daddr != @snat_pod_cidrs_${v} ${match} daddr != @snat_nonmasq_${v} fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"`;
        }),
      },
    ],
  };
}

/** The sections of the node table, in packet order (see the top of this file); a new section goes here. */
export function nodeTableSections(input: NodeTableInput): TableSection[] {
  return [
    antiSpoofSection(input.antiSpoof),
    guardSection(input.guard),
    ...(input.dns ? [dnsSection(input.dns)] : []),
    serviceSection(input.services),
    policySection(input.policy),
    snatSection(input.snat),
  ];
}

/** The node table's text (`table inet podnet_node { ... }`). */
export function renderNodeTable(input: NodeTableInput): string {
  return renderTable(NODE_TABLE, nodeTableSections(input));
}

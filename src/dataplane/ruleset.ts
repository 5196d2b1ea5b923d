/**
 * The node's own nftables table: SNAT (masquerade) of pod traffic leaving the pod CIDR, and pod anti-spoofing.
 * Rendering is pure (text in, text out) so it is golden-tested; `node-ruleset.ts` applies it.
 *
 * Semantics follow ip-masq-agent as AKS configures it for overlay: traffic from the pod CIDR(s) to a destination
 * outside the pod CIDR(s), outside the profile's `nonMasqueradeCidrs`, and not local to the node leaves with the
 * node's address. Pod-to-pod traffic (same node or across nodes) keeps the pod's own source.
 */
import { type Cidr, containsCidr, formatCidr, parseCidr } from '../addr/index.js';
import { HOST_VETH_PREFIX } from './pod-network.js';

/** podnet's table on a node; nothing else in the ruleset is ever touched. */
export const NODE_TABLE = { family: 'inet', name: 'podnet_node' } as const;

export interface NodeRulesetInput {
  /** The cluster's pod CIDR(s): pod traffic to these keeps its source. */
  podCidrs: string[];
  /** Extra destinations reached without SNAT (ip-masq-agent's nonMasqueradeCIDRs). */
  nonMasqueradeCidrs: string[];
}

/**
 * Canonical, minimal CIDR list per family: parsed, deduplicated, without CIDRs nested in another one (nft's
 * interval sets reject overlapping elements), sorted by address.
 */
export function normalizeCidrs(cidrs: string[], field: string): { v4: string[]; v6: string[] } {
  const parsed = cidrs.map((c) => parseCidr(c, field));
  const kept = parsed.filter(
    (c, i) =>
      !parsed.some(
        (o, j) => j !== i && o.family === c.family && containsCidr(o, c) && (o.prefix < c.prefix || j < i),
      ),
  );
  const byAddress = (a: Cidr, b: Cidr) =>
    a.network < b.network ? -1 : a.network > b.network ? 1 : a.prefix - b.prefix;
  const fmt = (family: 4 | 6) =>
    kept
      .filter((c) => c.family === family)
      .sort(byAddress)
      .map(formatCidr);
  return { v4: fmt(4), v6: fmt(6) };
}

function set(name: string, type: string, elements: string[]): string[] {
  return [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    '\t\tflags interval',
    ...(elements.length > 0 ? [`\t\telements = { ${elements.join(', ')} }`] : []),
    '\t}',
  ];
}

/** The table definition (`table inet podnet_node { ... }`) for the given pod and non-masquerade CIDRs. */
export function renderNodeRuleset(input: NodeRulesetInput): string {
  const pod = normalizeCidrs(input.podCidrs, 'network.podCidrs');
  const nonMasq = normalizeCidrs(input.nonMasqueradeCidrs, 'network.nonMasqueradeCidrs');
  const families = [
    { v: 'v4', match: 'ip', type: 'ipv4_addr', pod: pod.v4, nonMasq: nonMasq.v4 },
    { v: 'v6', match: 'ip6', type: 'ipv6_addr', pod: pod.v6, nonMasq: nonMasq.v6 },
  ].filter((f) => f.pod.length > 0);
  const lines = [`table ${NODE_TABLE.family} ${NODE_TABLE.name} {`];
  for (const f of families) {
    lines.push(...set(`pod_cidrs_${f.v}`, f.type, f.pod), ...set(`nonmasq_${f.v}`, f.type, f.nonMasq));
  }
  lines.push(
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    ...families.map(
      (f) =>
        `\t\t${f.match} saddr @pod_cidrs_${f.v} ${f.match} daddr != @pod_cidrs_${f.v} ${f.match} daddr != @nonmasq_${f.v} fib daddr type != local masquerade comment "podnet: pod traffic leaving the pod CIDR takes the node IP"`,
    ),
    '\t}',
    // Reverse-path check on pod veths: the /32 route to each pod points at its own veth, so a packet whose
    // source does not route back out of the veth it came in on is spoofed. Static: ADD needs no nft call.
    '\tchain antispoof {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
    `\t\tiifname "${HOST_VETH_PREFIX}*" fib saddr . iif oif missing counter drop comment "podnet: a pod sends only with its own address"`,
    '\t}',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * One transaction that replaces the table atomically: declare (so the delete cannot fail when it is missing),
 * delete, recreate. Packets see either the old table or the new one, never none.
 */
export function replaceTableScript(tableText: string): string {
  const t = `${NODE_TABLE.family} ${NODE_TABLE.name}`;
  return `table ${t}\ndelete table ${t}\n${tableText}`;
}

/** A table listing with its counters blanked, so counting packets is not mistaken for drift. */
export function normalizeListing(listing: string): string {
  return listing.replace(/counter packets \d+ bytes \d+/g, 'counter');
}

/**
 * The VNet's firewall: packets to a cluster's pod CIDR pass only when they come in from that cluster's own
 * subnets; everything else addressed to a pod CIDR (the internet, a connected network, another cluster's
 * subnet) is rejected, because endpoints outside a cluster cannot reach its pods directly.
 *
 * One nftables table per address family, rendered from typed input (pure), applied as one transaction per
 * table. NSG rules, load balancer frontends and the NAT gateway will add their own chains here.
 */
import { type Family, formatCidr, outermostCidrs, parseCidr } from '../addr/index.js';
import { NFT_IP } from '../dataplane/nft-table.js';
import { nftApply } from '../kernel/nft.js';
import type { Vnet } from './model.js';

/** The families the VNet carries: IPv4, and IPv6 once a dual-stack cluster gave its subnets IPv6 prefixes. */
export function vnetFamilies(vnet: Vnet): Family[] {
  return vnet.subnets.some((s) => s.gateway6) ? [4, 6] : [4];
}

/** The firewall's table for a family, as nft names it. */
export function vnetFirewallTable(family: Family): { family: 'ip' | 'ip6'; name: string } {
  return { family: NFT_IP[family], name: 'podnet_lab' };
}

export interface VnetFirewallInput {
  family: Family;
  /** Each cluster's ingress bridges (its subnets) and its pod CIDRs of this family. */
  clusters: { name: string; bridges: string[]; podCidrs: string[] }[];
}

/** The firewall's input for one family, from the VNet plan. */
export function vnetFirewallInput(vnet: Vnet, family: Family): VnetFirewallInput {
  return {
    family,
    clusters: vnet.clusters.map((c) => ({
      name: c.name,
      bridges: vnet.subnets.filter((s) => s.cluster === c.name).map((s) => s.bridge),
      podCidrs: c.podCidrs.filter((p) => parseCidr(p).family === family),
    })),
  };
}

/** The list's outermost CIDRs (`outermostCidrs`), as text. */
function outermost(cidrs: string[]): string[] {
  return outermostCidrs(cidrs.map((c) => parseCidr(c))).map(formatCidr);
}

/** The transaction that replaces the family's table (created first, so the delete never fails). */
export function renderVnetFirewall(input: VnetFirewallInput): string {
  const t = vnetFirewallTable(input.family);
  const match = t.family; // `ip daddr` / `ip6 daddr`
  const reject = input.family === 4 ? 'icmp type admin-prohibited' : 'icmpv6 type admin-prohibited';
  const allow: string[] = [];
  const all = new Set<string>();
  for (const c of input.clusters) {
    const cidrs = outermost(c.podCidrs);
    for (const p of cidrs) all.add(p);
    if (c.bridges.length > 0 && cidrs.length > 0) {
      allow.push(
        `    iifname { ${c.bridges.map((b) => `"${b}"`).join(', ')} } ${match} daddr { ${cidrs.join(', ')} } accept comment "cluster ${c.name}"`,
      );
    }
  }
  const lines = [
    `add table ${t.family} ${t.name}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...allow,
  ];
  if (all.size > 0) {
    lines.push(
      `    ${match} daddr { ${outermost([...all]).join(', ')} } counter reject with ${reject} comment "outside endpoints cannot reach pods"`,
    );
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

/** Replaces the firewall's table of every family the VNet carries (vnetFamilies), each in one transaction. */
export async function applyVnetFirewall(vnet: Vnet): Promise<void> {
  for (const family of vnetFamilies(vnet))
    await nftApply(renderVnetFirewall(vnetFirewallInput(vnet, family)), { netns: vnet.netns });
}

/**
 * What the kernel holds for a cluster's outbound type, rendered from its plan (pure): `ip -batch` lines for
 * the VNet's routes to an appliance, and the nftables transactions that SNAT (and, in the firewall, log).
 * `src/vnet/outbound.ts` applies them.
 */
import type { Vnet } from '../vnet/model.js';
import type { ClusterOutbound, OutboundAppliance } from './model.js';

/** The VNet's load-balancer SNAT table of a cluster (`loadBalancer`; inet: IPv6 egress too when dual-stack). */
export function lbOutboundTable(cluster: string): { family: 'inet'; name: string } {
  return { family: 'inet', name: `podnet_lbout_${cluster}` };
}

/** The appliance's table: `ip podnet_natgw` or `ip podnet_firewall`. */
export function applianceTable(a: OutboundAppliance): { family: 'ip'; name: string } {
  return { family: 'ip', name: a.kind === 'natGateway' ? 'podnet_natgw' : 'podnet_firewall' };
}

/** The firewall's flow log: a set of (source, destination, protocol, port), one element per new flow. */
export const FIREWALL_LOG_SET = 'flows';

/** The cluster's ingress bridges (its subnets) and the VNet's links to the internet. */
function paths(vnet: Vnet, cluster: string) {
  return {
    bridges: vnet.subnets.filter((s) => s.cluster === cluster).map((s) => s.bridge),
    internet: vnet.externalHosts.filter((h) => h.kind === 'internet'),
  };
}

const names = (xs: string[]) => `{ ${xs.map((x) => `"${x}"`).join(', ')} }`;

/**
 * `ip -batch` lines in the VNet namespace: traffic entering from the cluster's subnets for the internet looks
 * up the cluster's outbound table, whose default route is the appliance (the subnet's route table), and the
 * appliance's public address is routed to it (replies come back that way). `del` takes the rules out; the
 * routes go with the appliance's link.
 */
export function renderOutboundRoutes(vnet: Vnet, cluster: string, op: 'add' | 'del'): string[] {
  const o = vnet.clusters.find((c) => c.name === cluster)?.outbound;
  const a = o?.appliance;
  if (!o || !a) return [];
  const { bridges, internet } = paths(vnet, cluster);
  const rules = bridges.flatMap((b) =>
    internet.map((h) => `rule ${op} iif ${b} to ${h.cidr} lookup ${a.table} pref ${a.table}`),
  );
  if (op === 'del') return [...rules, `route flush table ${a.table}`];
  return [
    ...rules,
    `route replace default via ${a.ip} dev ${a.vnetLink} table ${a.table}`,
    `route replace ${o.publicIp}/32 via ${a.ip} dev ${a.vnetLink}`,
  ];
}

/** `ip -batch` lines in the appliance: its public address (so nothing unsolicited loops back to the VNet). */
export function renderApplianceAddress(o: ClusterOutbound): string[] {
  return ['link set lo up', `addr replace ${o.publicIp}/32 dev lo`];
}

/**
 * The VNet's SNAT of a `loadBalancer` cluster: new connections from its subnets leaving for the internet take
 * the load balancer's outbound frontend (replies are translated back by conntrack).
 */
export function renderLbOutbound(vnet: Vnet, cluster: string): string {
  const o = vnet.clusters.find((c) => c.name === cluster)?.outbound;
  const t = lbOutboundTable(cluster);
  const { bridges, internet } = paths(vnet, cluster);
  const lines = [`add table ${t.family} ${t.name}`, `delete table ${t.family} ${t.name}`];
  if (!o || o.type !== 'loadBalancer' || bridges.length === 0 || internet.length === 0)
    return `${lines.join('\n')}\n`;
  // From the cluster's subnets to the internet.
  const leaving = `iifname ${names(bridges)} oifname ${names(internet.map((h) => h.vnetLink))}`;
  lines.push(
    `table ${t.family} ${t.name} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ${leaving} meta nfproto ipv4 counter snat ip to ${o.publicIp} comment "outbound rule of cluster ${cluster}'s load balancer"`,
    ...(o.publicIp6
      ? [
          `    ${leaving} meta nfproto ipv6 counter snat ip6 to ${o.publicIp6} comment "IPv6 outbound rule of cluster ${cluster}'s load balancer"`,
        ]
      : []),
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * The appliance's table: SNAT of what it forwards (in and out through its one link to the VNet) to its
 * public address; the firewall also records every new TCP/UDP flow in its log set and counts what it forwards.
 */
export function renderAppliance(o: ClusterOutbound): string {
  const a = o.appliance;
  if (!a) return '';
  const t = applianceTable(a);
  const lines = [
    `add table ${t.family} ${t.name}`,
    `delete table ${t.family} ${t.name}`,
    `table ${t.family} ${t.name} {`,
  ];
  if (a.kind === 'firewall') {
    lines.push(
      `  set ${FIREWALL_LOG_SET} {`,
      '    type ipv4_addr . ipv4_addr . inet_proto . inet_service',
      '    flags dynamic, timeout',
      '    timeout 1h',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      `    ct state new meta l4proto { tcp, udp } update @${FIREWALL_LOG_SET} { ip saddr . ip daddr . meta l4proto . th dport } comment "network rule allow-all: logged"`,
      '    counter comment "forwarded"',
      '  }',
    );
  }
  lines.push(
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    iifname "eth0" oifname "eth0" counter snat to ${o.publicIp}`,
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** One flow the firewall logged. */
export interface FirewallFlow {
  source: string;
  destination: string;
  protocol: string;
  port: number;
}

/** The firewall's log, from `nft -j list set` output (pure). */
export function parseFirewallLog(json: string): FirewallFlow[] {
  const doc = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
  const elems = doc.nftables?.find((o) => o.set)?.set?.elem ?? [];
  return elems.flatMap((e) => {
    const val = (e as { elem?: { val?: unknown } }).elem?.val ?? e;
    const parts = (val as { concat?: unknown[] }).concat;
    if (!Array.isArray(parts) || parts.length !== 4) return [];
    const [source, destination, protocol, port] = parts;
    return [
      {
        source: String(source),
        destination: String(destination),
        protocol: String(protocol),
        port: Number(port),
      },
    ];
  });
}

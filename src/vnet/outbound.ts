/**
 * A cluster's outbound type in the kernel, from its plan (`src/outbound`): the VNet's load-balancer SNAT
 * table, or a NAT gateway or firewall namespace plugged into the VNet with the routes that lead to it. Every
 * step is idempotent; removal takes out the cluster's rules, its table and its appliance, and nothing else.
 */
import { parseCidr } from '../addr/index.js';
import { ipBatch, listLinks } from '../kernel/ip.js';
import { addNetns, deleteNetns, netnsExists } from '../kernel/netns.js';
import { nftApply, nftDeleteTable, nftListSetJson } from '../kernel/nft.js';
import { writeSysctl } from '../kernel/sysctl.js';
import type { ClusterOutbound } from '../outbound/model.js';
import {
  FIREWALL_LOG_SET,
  type FirewallFlow,
  applianceTable,
  lbOutboundTable,
  parseFirewallLog,
  renderAppliance,
  renderApplianceAddress,
  renderLbOutbound,
  renderOutboundRoutes,
} from '../outbound/render.js';
import type { Vnet } from './model.js';
import { plugIntoVnet, routerSysctls } from './network.js';

const REMOVE = { force: true, ignoreMissing: true } as const;

/** Creates what the cluster's outbound plan has and the kernel lacks (after `ensureVnet`). */
export async function ensureOutbound(vnet: Vnet, cluster: string): Promise<void> {
  const o = vnet.clusters.find((c) => c.name === cluster)?.outbound;
  if (!o) return;
  if (!o.appliance) {
    await nftApply(renderLbOutbound(vnet, cluster), { netns: vnet.netns });
    return;
  }
  const a = o.appliance;
  const links = new Set((await listLinks(vnet.netns)).map((l) => l.ifname));
  if (!netnsExists(a.netns)) await addNetns(a.netns);
  if (!links.has(a.vnetLink)) {
    const prefix = parseCidr(a.cidr).prefix;
    await plugIntoVnet(vnet.netns, a.vnetLink, a.netns, {
      vnetSide: [`addr add ${a.vnetIp}/${prefix} dev ${a.vnetLink}`],
      address: `${a.ip}/${prefix}`,
      gateway: a.vnetIp,
    });
  }
  await routerSysctls(a.netns);
  // It forwards back out of the link it came in on: no redirects to the VNet.
  await writeSysctl('net/ipv4/conf/all/send_redirects', '0', a.netns);
  await ipBatch(renderApplianceAddress(o), a.netns);
  await nftApply(renderAppliance(o), { netns: a.netns });
  // Rules left by an interrupted run would make `add` fail: delete them first.
  await ipBatch(renderOutboundRoutes(vnet, cluster, 'del'), vnet.netns, REMOVE);
  await ipBatch(renderOutboundRoutes(vnet, cluster, 'add'), vnet.netns);
}

/** Removes the cluster's outbound: its rules and table in the VNet, its SNAT table, its appliance. */
export async function removeOutbound(vnet: Vnet, cluster: string): Promise<void> {
  const o = vnet.clusters.find((c) => c.name === cluster)?.outbound;
  if (!o) return;
  if (netnsExists(vnet.netns)) {
    await ipBatch(renderOutboundRoutes(vnet, cluster, 'del'), vnet.netns, REMOVE);
    if (!o.appliance) {
      const t = lbOutboundTable(cluster);
      await nftDeleteTable(t.family, t.name, { netns: vnet.netns });
    }
  }
  // Its link (and the VNet's routes over it) goes with the namespace.
  if (o.appliance && netnsExists(o.appliance.netns)) await deleteNetns(o.appliance.netns);
}

/** The flows the firewall logged (`userDefinedRouting`); none for other types. */
export async function readFirewallLog(o: ClusterOutbound): Promise<FirewallFlow[]> {
  if (o.appliance?.kind !== 'firewall') return [];
  const t = applianceTable(o.appliance);
  const json = await nftListSetJson(t.family, t.name, FIREWALL_LOG_SET, { netns: o.appliance.netns });
  return json === null ? [] : parseFirewallLog(json);
}

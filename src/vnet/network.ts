/**
 * The VNet's network in the kernel: its namespace (a router), one bridge per subnet whose address is the
 * subnet's gateway, a link to each external host, and hosts (nodes, external hosts) plugged in by a veth.
 * Rendering is pure; every apply step is idempotent, so a join, a leave or a retry after a crash converges
 * to the plan.
 */
import { parseCidr } from '../addr/index.js';
import { ipBatch, listLinks } from '../kernel/ip.js';
import { addNetns, deleteNetns, netnsExists } from '../kernel/netns.js';
import { writeSysctl } from '../kernel/sysctl.js';
import { applyVnetFirewall } from './firewall.js';
import type { Vnet } from './model.js';

/** A router forwards, and does not drop packets whose source it would route elsewhere (asymmetric paths). */
export const ROUTER_SYSCTLS: readonly [key: string, value: string][] = [
  ['net/ipv4/ip_forward', '1'],
  ['net/ipv4/conf/all/rp_filter', '0'],
  ['net/ipv4/conf/default/rp_filter', '0'],
];

export async function routerSysctls(netns: string): Promise<void> {
  for (const [key, value] of ROUTER_SYSCTLS) await writeSysctl(key, value, netns);
}

/** `ip -batch` lines for the subnet bridges the VNet namespace lacks (`present`: its link names). */
export function renderSubnetBridges(vnet: Vnet, present: ReadonlySet<string>): string[] {
  return vnet.subnets
    .filter((s) => !present.has(s.bridge))
    .flatMap((s) => [
      `link add ${s.bridge} type bridge`,
      `addr add ${s.gateway}/${parseCidr(s.cidr).prefix} dev ${s.bridge}`,
      `link set ${s.bridge} up`,
    ]);
}

/** Creates what the VNet plan has and the kernel lacks: namespace, bridges, external hosts, firewall. */
export async function ensureVnet(vnet: Vnet): Promise<void> {
  if (!netnsExists(vnet.netns)) await addNetns(vnet.netns);
  await routerSysctls(vnet.netns);
  const links = new Set((await listLinks(vnet.netns)).map((l) => l.ifname));
  await ipBatch(renderSubnetBridges(vnet, links), vnet.netns);
  for (const h of vnet.externalHosts) {
    if (links.has(h.vnetLink) && netnsExists(h.netns)) continue;
    if (!netnsExists(h.netns)) await addNetns(h.netns);
    await plugIntoVnet(vnet.netns, h.vnetLink, h.netns, {
      vnetSide: [`addr add ${h.vnetIp}/${parseCidr(h.cidr).prefix} dev ${h.vnetLink}`],
      address: `${h.ip}/${parseCidr(h.cidr).prefix}`,
      gateway: h.vnetIp,
    });
  }
  await applyVnetFirewall(vnet);
}

/**
 * Connects a host namespace (a node or an outside host) to the VNet: a veth whose VNet end is `vnetLink` and
 * whose other end is `eth0` in `hostNetns`, with the host's address and default route to `gateway`.
 * `vnetSide` are extra `ip -batch` lines for the VNet end (enslave to a subnet bridge, or an address).
 */
export async function plugIntoVnet(
  vnetNetns: string,
  vnetLink: string,
  hostNetns: string,
  opts: { vnetSide: string[]; address: string; gateway: string },
): Promise<void> {
  await ipBatch([`link add ${vnetLink} netns ${vnetNetns} type veth peer name eth0 netns ${hostNetns}`]);
  await ipBatch([...opts.vnetSide, `link set ${vnetLink} up`], vnetNetns);
  await ipBatch(
    [`addr add ${opts.address} dev eth0`, 'link set eth0 up', `route add default via ${opts.gateway}`],
    hostNetns,
  );
}

/** Deletes the VNet namespace and its external hosts (what is inside goes with them). */
export async function destroyVnet(vnet: Vnet): Promise<void> {
  for (const h of vnet.externalHosts) await deleteNetns(h.netns);
  await deleteNetns(vnet.netns);
}

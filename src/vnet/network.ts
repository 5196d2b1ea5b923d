/**
 * The VNet's network in the kernel: its namespace (a router), one bridge per subnet whose address is the
 * subnet's gateway, a link to each external host, and hosts (nodes, external hosts) plugged in by a veth.
 * Rendering is pure; every apply step is idempotent, so a join, a leave or a retry after a crash converges
 * to the plan.
 */
import { type Family, parseCidr } from '../addr/index.js';
import { ipBatch, listLinks } from '../kernel/ip.js';
import { addNetns, deleteNetns, netnsExists } from '../kernel/netns.js';
import { writeSysctl } from '../kernel/sysctl.js';
import { applyVnetFirewall, vnetFamilies } from './firewall.js';
import type { Vnet } from './model.js';

/** A router forwards, and does not drop packets whose source it would route elsewhere (asymmetric paths). */
export const ROUTER_SYSCTLS: readonly [key: string, value: string][] = [
  ['net/ipv4/ip_forward', '1'],
  ['net/ipv4/conf/all/rp_filter', '0'],
  ['net/ipv4/conf/default/rp_filter', '0'],
];

/** A dual-stack router forwards IPv6 too (static addresses only: no router advertisements are taken). */
export const ROUTER_SYSCTLS6: readonly [key: string, value: string][] = [
  ['net/ipv6/conf/all/forwarding', '1'],
];

export async function routerSysctls(netns: string, families: readonly Family[] = [4]): Promise<void> {
  const keys = [...ROUTER_SYSCTLS, ...(families.includes(6) ? ROUTER_SYSCTLS6 : [])];
  for (const [key, value] of keys) await writeSysctl(key, value, netns);
}

/** `ip -batch` lines for the subnet bridges the VNet namespace lacks (`present`: its link names). */
export function renderSubnetBridges(vnet: Vnet, present: ReadonlySet<string>): string[] {
  return vnet.subnets
    .filter((s) => !present.has(s.bridge))
    .flatMap((s) => [
      `link add ${s.bridge} type bridge`,
      `addr add ${s.gateway}/${parseCidr(s.cidr).prefix} dev ${s.bridge}`,
      `link set ${s.bridge} up`,
    ])
    .concat(renderSubnetBridges6(vnet));
}

/**
 * The IPv6 gateway of every dual-stack subnet: `replace`, so a subnet whose bridge an IPv4-only cluster made
 * gets it when a dual-stack one joins, and a retry changes nothing. `nodad`: the gateway answers at once.
 */
export function renderSubnetBridges6(vnet: Vnet): string[] {
  return vnet.subnets.flatMap((s) =>
    s.cidr6 && s.gateway6
      ? [`addr replace ${s.gateway6}/${parseCidr(s.cidr6).prefix} dev ${s.bridge} nodad`]
      : [],
  );
}

/** Creates what the VNet plan has and the kernel lacks: namespace, bridges, external hosts, firewall. */
export async function ensureVnet(vnet: Vnet): Promise<void> {
  if (!netnsExists(vnet.netns)) await addNetns(vnet.netns);
  await routerSysctls(vnet.netns, vnetFamilies(vnet));
  const links = new Set((await listLinks(vnet.netns)).map((l) => l.ifname));
  await ipBatch(renderSubnetBridges(vnet, links), vnet.netns);
  for (const h of vnet.externalHosts) {
    if (!(links.has(h.vnetLink) && netnsExists(h.netns))) {
      if (!netnsExists(h.netns)) await addNetns(h.netns);
      await plugIntoVnet(vnet.netns, h.vnetLink, h.netns, {
        vnetSide: [`addr add ${h.vnetIp}/${parseCidr(h.cidr).prefix} dev ${h.vnetLink}`],
        address: `${h.ip}/${parseCidr(h.cidr).prefix}`,
        gateway: h.vnetIp,
      });
    }
    if (h.ip6 && h.cidr6 && h.vnetIp6) {
      const prefix = parseCidr(h.cidr6).prefix;
      await ipBatch([`addr replace ${h.vnetIp6}/${prefix} dev ${h.vnetLink} nodad`], vnet.netns);
      await ipBatch(hostSide6(`${h.ip6}/${prefix}`, h.vnetIp6), h.netns);
    }
  }
  await applyVnetFirewall(vnet);
}

/** A host's IPv6 address and default route on its `eth0` (idempotent: `replace`). */
export function hostSide6(address: string, gateway: string): string[] {
  return [`addr replace ${address} dev eth0 nodad`, `route replace default via ${gateway}`];
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
  opts: { vnetSide: string[]; address: string; gateway: string; v6?: { address: string; gateway: string } },
): Promise<void> {
  await ipBatch([`link add ${vnetLink} netns ${vnetNetns} type veth peer name eth0 netns ${hostNetns}`]);
  await ipBatch([...opts.vnetSide, `link set ${vnetLink} up`], vnetNetns);
  await ipBatch(
    [
      `addr add ${opts.address} dev eth0`,
      'link set eth0 up',
      `route add default via ${opts.gateway}`,
      ...(opts.v6 ? hostSide6(opts.v6.address, opts.v6.gateway) : []),
    ],
    hostNetns,
  );
}

/** Deletes the VNet namespace and its external hosts (what is inside goes with them). */
export async function destroyVnet(vnet: Vnet): Promise<void> {
  for (const h of vnet.externalHosts) await deleteNetns(h.netns);
  await deleteNetns(vnet.netns);
}

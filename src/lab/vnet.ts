/**
 * The VNet namespace: one bridge per subnet whose address is the subnet's gateway, a link to each external
 * host, the clusters' routing tables chosen by ingress subnet (`ip rule iif <bridge>`), and the firewall that
 * keeps outside endpoints away from pods. Every step is idempotent, so a join, a leave or a retry after a
 * crash converges to the plan in the VNet state.
 */
import { parseCidr } from '../addr/index.js';
import { run, runRaw } from '../kernel/exec.js';
import { writeNetSysctl } from '../kernel/ip.js';
import { addNetns, deleteNetns, netnsExists } from '../kernel/netns.js';
import type { LabVnet } from './model.js';
import { renderClusterRules, renderVnetFirewall } from './topology.js';

async function linkNames(netns: string): Promise<Set<string>> {
  const out = await run('ip', ['-json', 'link', 'show'], { netns });
  return new Set((JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname));
}

/**
 * A router: forwards, and does not drop packets whose source it would route elsewhere (asymmetric paths).
 * Written through /proc (no `sysctl` binary: procps is not on every fresh machine).
 */
export async function routerSysctls(netns: string): Promise<void> {
  for (const key of [
    'net/ipv4/ip_forward',
    'net/ipv4/conf/all/rp_filter',
    'net/ipv4/conf/default/rp_filter',
  ]) {
    await writeNetSysctl(key, key.endsWith('ip_forward') ? '1' : '0', netns);
  }
}

/** Creates what the VNet plan has and the kernel lacks: namespace, bridges, external hosts, firewall. */
export async function ensureVnet(vnet: LabVnet): Promise<void> {
  if (!netnsExists(vnet.netns)) await addNetns(vnet.netns);
  await routerSysctls(vnet.netns);
  const links = await linkNames(vnet.netns);
  const batch: string[] = [];
  for (const s of vnet.subnets) {
    if (links.has(s.bridge)) continue;
    batch.push(
      `link add ${s.bridge} type bridge`,
      `addr add ${s.gateway}/${parseCidr(s.cidr).prefix} dev ${s.bridge}`,
      `link set ${s.bridge} up`,
    );
  }
  if (batch.length > 0)
    await run('ip', ['-batch', '-'], { netns: vnet.netns, input: `${batch.join('\n')}\n` });
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
  await run('ip', [
    'link',
    'add',
    vnetLink,
    'netns',
    vnetNetns,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    hostNetns,
  ]);
  await run('ip', ['-batch', '-'], {
    netns: vnetNetns,
    input: `${[...opts.vnetSide, `link set ${vnetLink} up`].join('\n')}\n`,
  });
  await run('ip', ['-batch', '-'], {
    netns: hostNetns,
    input: `addr add ${opts.address} dev eth0\nlink set eth0 up\nroute add default via ${opts.gateway}\n`,
  });
}

export async function applyVnetFirewall(vnet: LabVnet): Promise<void> {
  await run('nft', ['-f', '-'], { netns: vnet.netns, input: renderVnetFirewall(vnet) });
}

/** Sends packets entering from the cluster's subnets to the cluster's own routing table. */
export async function addClusterRules(vnet: LabVnet, cluster: string): Promise<void> {
  const lines = renderClusterRules(vnet, cluster, 'add');
  // Rules left by an interrupted run would make `add` fail: delete first, ignoring "no such rule".
  const del = renderClusterRules(vnet, cluster, 'del');
  if (del.length > 0)
    await runRaw('ip', ['-force', '-batch', '-'], { netns: vnet.netns, input: `${del.join('\n')}\n` });
  if (lines.length > 0)
    await run('ip', ['-batch', '-'], { netns: vnet.netns, input: `${lines.join('\n')}\n` });
}

/** Removes the cluster's rules and its routing table's routes (the fabric router's routes). */
export async function removeClusterRouting(vnet: LabVnet, cluster: string): Promise<void> {
  if (!netnsExists(vnet.netns)) return;
  const c = vnet.clusters.find((x) => x.name === cluster);
  if (!c) return;
  const del = renderClusterRules(vnet, cluster, 'del');
  if (del.length > 0)
    await runRaw('ip', ['-force', '-batch', '-'], { netns: vnet.netns, input: `${del.join('\n')}\n` });
  // Rules of the table that no longer match the plan (e.g. after a crash between plan and kernel).
  const rules = JSON.parse(await run('ip', ['-json', 'rule', 'show'], { netns: vnet.netns })) as {
    table?: string;
    priority: number;
  }[];
  for (const r of rules.filter((x) => x.table === String(c.table))) {
    await runRaw('ip', ['rule', 'del', 'pref', String(r.priority), 'table', String(c.table)], {
      netns: vnet.netns,
    });
  }
  await runRaw('ip', ['route', 'flush', 'table', String(c.table)], { netns: vnet.netns });
}

/** Deletes the VNet namespace and its external hosts (what is inside goes with them). */
export async function destroyVnet(vnet: LabVnet): Promise<void> {
  for (const h of vnet.externalHosts) await deleteNetns(h.netns);
  await deleteNetns(vnet.netns);
}

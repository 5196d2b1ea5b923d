/**
 * A pod's network attachment in Azure's transparent mode: a veth pair, the pod address as /32, a link-local
 * gateway 169.254.1.1 with a permanent neighbour entry pointing at the host veth's MAC, and on the node a /32
 * route to the pod through the veth with proxy ARP on. Every pod packet, even to a pod on the same node, is
 * routed by the node (no bridge), which is what lets the node apply SNAT, policy and anti-spoofing per veth.
 *
 * Why /32 on the pod (Azure uses the pod-CIDR prefix and then deletes the connected route): with /32 the
 * kernel never creates a connected route, so there is nothing to delete and no moment where the pod believes
 * the whole pod CIDR is on its link; one command fewer per ADD, same forwarding.
 *
 * Rendering is pure (names, MACs, the `ip -batch` lines); applying is two execs: one `ip -batch` in the node
 * namespace creates the veth with its peer directly inside the pod namespace, one in the pod namespace
 * configures it.
 */
import { createHash } from 'node:crypto';
import { PodnetError } from '../errors/index.js';
import { kernelFailureOf } from '../kernel/failure.js';
import {
  type IpRoute,
  deleteLinkIfExists,
  getLink,
  ipBatch,
  ipJson,
  listLinks,
  listRoutes,
} from '../kernel/ip.js';
import { writeSysctl } from '../kernel/sysctl.js';

/** The pod's default gateway: link-local, never routed, the same on every node (Azure: getOverlayGateway). */
export const POD_GATEWAY = '169.254.1.1';
/**
 * Its IPv6 twin: Azure's transparent-mode IPv6 gateway (reference/azure-overlay.md, "Pod interface, gateway,
 * routes, ARP"), kept rather than fe80::1 so a pod sees the gateway it would see on AKS. Unlike the IPv4 one
 * it is a real address of every host veth (link-local addresses are per link, so each veth holds the same
 * one): the host answers neighbour solicitations for it without proxy NDP.
 */
export const POD_GATEWAY6 = 'fe80::1234:5678:9abc';
/** Host-side veth names start with this (the agent's anti-spoofing rule matches `pnv*`). */
export const HOST_VETH_PREFIX = 'pnv';
/** Host veths carry this alias prefix plus `containerId/ifname`, so cleanup finds its own links and only them. */
const ALIAS_PREFIX = 'podnet:';
/** The kernel keeps at most 255 bytes of an interface alias (IFALIASZ 256 with its NUL). */
const MAX_ALIAS_BYTES = 255;

/** True when the attachment's owner alias fits the kernel's limit (ADD refuses longer ids up front). */
export function ownerAliasFits(containerId: string, ifname: string): boolean {
  return Buffer.byteLength(`${ALIAS_PREFIX}${containerId}/${ifname}`) <= MAX_ALIAS_BYTES;
}

export interface PodPlumbing {
  containerId: string;
  ifname: string;
  /** The pod's network namespace path (CNI_NETNS). */
  netns: string;
  /** The pod address without prefix, e.g. 10.244.3.17. */
  ip: string;
  /** The pod's IPv6 address in a dual-stack cluster, e.g. fd12:3456:789a::11. */
  ip6?: string;
  mtu: number;
}

export interface PodLinkNames {
  hostVeth: string;
  hostMac: string;
  podMac: string;
  alias: string;
}

/**
 * Deterministic names and MACs for an attachment: DEL and GC find the host veth from (containerId, ifname)
 * alone, and CHECK knows the MACs without a prevResult. MACs are locally administered unicast.
 */
export function podLinkNames(containerId: string, ifname: string): PodLinkNames {
  const h = createHash('sha256').update(`${containerId}/${ifname}`).digest();
  const mac = (first: number, bytes: Buffer) =>
    [first, ...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return {
    hostVeth: `${HOST_VETH_PREFIX}${h.subarray(0, 6).toString('hex')}`,
    hostMac: mac(0x02, h.subarray(6, 11)),
    podMac: mac(0x0a, h.subarray(11, 16)),
    alias: `${ALIAS_PREFIX}${containerId}/${ifname}`,
  };
}

/** The attachment a host veth belongs to, from its alias; null for links that are not podnet's. */
export function parseOwnerAlias(alias: string | undefined): { containerId: string; ifname: string } | null {
  if (!alias?.startsWith(ALIAS_PREFIX)) return null;
  const rest = alias.slice(ALIAS_PREFIX.length);
  const i = rest.lastIndexOf('/');
  if (i <= 0 || i === rest.length - 1) return null;
  return { containerId: rest.slice(0, i), ifname: rest.slice(i + 1) };
}

/**
 * The `ip -batch` lines for the node side and for the pod side of one attachment. IPv6 mirrors IPv4: the
 * address as /128, a /128 route to the gateway and the default route via it, a permanent neighbour entry
 * for it; every address is added `nodad`, so duplicate address detection never holds a pod's start (the
 * addresses come from the node's own block: no other link can hold them).
 */
export function renderPodPlumbing(p: PodPlumbing): { node: string[]; pod: string[] } {
  const n = podLinkNames(p.containerId, p.ifname);
  const v6 = p.ip6;
  return {
    node: [
      `link add ${n.hostVeth} mtu ${p.mtu} address ${n.hostMac} type veth peer name ${p.ifname} mtu ${p.mtu} address ${n.podMac} netns ${p.netns}`,
      `link set dev ${n.hostVeth} alias ${n.alias} up`,
      `route add ${p.ip}/32 dev ${n.hostVeth} scope link`,
      ...(v6
        ? [`addr add ${POD_GATEWAY6}/64 dev ${n.hostVeth} nodad`, `route add ${v6}/128 dev ${n.hostVeth}`]
        : []),
    ],
    pod: [
      `addr add ${p.ip}/32 dev ${p.ifname}`,
      ...(v6 ? [`addr add ${v6}/128 dev ${p.ifname} nodad`] : []),
      `link set dev ${p.ifname} up`,
      `route add ${POD_GATEWAY}/32 dev ${p.ifname} scope link src ${p.ip}`,
      `route add default via ${POD_GATEWAY} dev ${p.ifname} src ${p.ip}`,
      `neigh replace ${POD_GATEWAY} lladdr ${n.hostMac} dev ${p.ifname} nud permanent`,
      ...(v6
        ? [
            `route add ${POD_GATEWAY6}/128 dev ${p.ifname}`,
            `route add ::/0 via ${POD_GATEWAY6} dev ${p.ifname} src ${v6}`,
            `neigh replace ${POD_GATEWAY6} lladdr ${n.hostMac} dev ${p.ifname} nud permanent`,
          ]
        : []),
    ],
  };
}

/**
 * Plumbs the pod. On failure nothing of it is left: if the veth was created it is deleted (which removes its
 * peer and the /32 route with it). A failure of the very first line (the veth name or the pod's interface
 * name exists) created nothing, so the existing link, maybe a live pod's, is left alone.
 */
export async function addPodNetwork(p: PodPlumbing, nodeNetns?: string): Promise<PodLinkNames> {
  const names = podLinkNames(p.containerId, p.ifname);
  const lines = renderPodPlumbing(p);
  try {
    await ipBatch(lines.node, nodeNetns);
  } catch (e) {
    const failure = kernelFailureOf(e);
    const line = failure?.batchLine ?? 0;
    if (line !== 1) await deleteLinkIfExists(names.hostVeth, nodeNetns).catch(() => {});
    if (line === 1 && failure?.errno === 'EEXIST') {
      throw new PodnetError(
        'InterfaceExists',
        `interface ${p.ifname} (host side ${names.hostVeth}) already exists for container ${p.containerId}`,
        {
          field: 'CNI_IFNAME',
          hint: 'DEL the attachment first, or use another CNI_IFNAME; a runtime must not ADD twice without DEL',
        },
      );
    }
    throw e;
  }
  // Both settle before any undo, so nothing is still being configured while the veth is removed.
  const [arp, pod] = await Promise.allSettled([
    // Answers ARP for the gateway should the pod's permanent neighbour entry be removed.
    writeSysctl(`net/ipv4/conf/${names.hostVeth}/proxy_arp`, '1', nodeNetns),
    ipBatch(lines.pod, p.netns),
  ]);
  const failed = [pod, arp].find((r) => r.status === 'rejected');
  if (failed) {
    await deleteLinkIfExists(names.hostVeth, nodeNetns).catch(() => {});
    throw failed.reason;
  }
  return names;
}

/**
 * Removes the attachment's veth pair (and with it the /32 route and the pod side). Idempotent: a veth that is
 * already gone (namespace deleted, repeated DEL, failed ADD) is success.
 */
export async function removePodNetwork(
  containerId: string,
  ifname: string,
  nodeNetns?: string,
): Promise<boolean> {
  return deleteLinkIfExists(podLinkNames(containerId, ifname).hostVeth, nodeNetns);
}

/** Host veths podnet created on this node, with the attachment each belongs to. */
export async function listPodVeths(
  nodeNetns?: string,
): Promise<{ hostVeth: string; containerId: string; ifname: string }[]> {
  const links = await listLinks(nodeNetns, ['type', 'veth']);
  const out: { hostVeth: string; containerId: string; ifname: string }[] = [];
  for (const l of links) {
    const owner = parseOwnerAlias(l.ifalias);
    if (owner && l.ifname.startsWith(HOST_VETH_PREFIX)) out.push({ hostVeth: l.ifname, ...owner });
  }
  return out;
}

/** The /32 (IPv6: /128) routes through podnet host veths in the node namespace (main table), as ADD installs them. */
export async function listPodRoutes(
  nodeNetns?: string,
  family: 4 | 6 = 4,
): Promise<{ ip: string; dev: string }[]> {
  const routes = await listRoutes(family === 4 ? ['scope', 'link'] : [], nodeNetns, family);
  return routes
    .filter((r) => r.dev?.startsWith(HOST_VETH_PREFIX) && !r.dst.includes('/'))
    .map((r) => ({ ip: r.dst, dev: r.dev as string }));
}

/** The pods' plumbing in the node namespace, as the IPAM check compares it with the pod addresses. */
export interface PodPlumbingSeen {
  veths: { hostVeth: string; containerId: string; ifname: string }[];
  podRoutes: { ip: string; dev: string }[];
}

export async function readPodPlumbing(nodeNetns?: string, family: 4 | 6 = 4): Promise<PodPlumbingSeen> {
  const [veths, podRoutes] = await Promise.all([listPodVeths(nodeNetns), listPodRoutes(nodeNetns, family)]);
  return { veths, podRoutes };
}

/**
 * Verifies an attachment against what ADD creates; returns the problems found (empty = healthy). Reads only:
 * the host veth, its /32 route, and in the pod the interface, address, routes and gateway neighbour.
 */
export async function checkPodNetwork(p: Omit<PodPlumbing, 'mtu'>, nodeNetns?: string): Promise<string[]> {
  const n = podLinkNames(p.containerId, p.ifname);
  const problems: string[] = [];
  const host = (await listLinks(nodeNetns, ['type', 'veth'])).find((l) => l.ifname === n.hostVeth);
  if (!host) return [`host veth ${n.hostVeth} is missing`];
  if (!host.flags.includes('UP')) problems.push(`host veth ${n.hostVeth} is down`);
  for (const [ip, bits, family] of addressesOf(p)) {
    const hostRoutes = await listRoutes([`${ip}/${bits}`], nodeNetns, family);
    if (!hostRoutes.some((r) => r.dev === n.hostVeth))
      problems.push(`node route ${ip}/${bits} dev ${n.hostVeth} is missing`);
  }
  let pod: Awaited<ReturnType<typeof getLink>>;
  try {
    pod = await getLink(p.ifname, p.netns);
  } catch (e) {
    // The pod's namespace is gone: so is its interface.
    if (kernelFailureOf(e)?.code !== 'NetnsNotFound') throw e;
    return [...problems, `interface ${p.ifname} is missing in ${p.netns}`];
  }
  if (!pod) return [...problems, `interface ${p.ifname} is missing in ${p.netns}`];
  if (pod.address !== n.podMac)
    problems.push(`interface ${p.ifname} has MAC ${pod.address}, expected ${n.podMac}`);
  if (!pod.flags.includes('UP')) problems.push(`interface ${p.ifname} is down`);
  const addrs = await ipJson<{ addr_info: { local: string; prefixlen: number }[] }>(
    ['addr', 'show', 'dev', p.ifname],
    p.netns,
  );
  for (const [ip, bits, family] of addressesOf(p)) {
    const gateway = family === 4 ? POD_GATEWAY : POD_GATEWAY6;
    if (!addrs.some((a) => a.addr_info.some((i) => i.local === ip && i.prefixlen === bits))) {
      problems.push(`interface ${p.ifname} lacks address ${ip}/${bits}`);
    }
    const routes = await listRoutes(['dev', p.ifname], p.netns, family);
    if (!routes.some((r) => r.dst === 'default' && r.gateway === gateway)) {
      problems.push(`pod route default via ${gateway} is missing`);
    }
    const neigh = await ipJson<{ dst: string; lladdr?: string; state?: string[] }>(
      ['neigh', 'show', gateway, 'dev', p.ifname],
      p.netns,
    );
    if (!neigh.some((e) => e.lladdr === n.hostMac && e.state?.includes('PERMANENT'))) {
      problems.push(`pod neighbour ${gateway} lladdr ${n.hostMac} (permanent) is missing`);
    }
  }
  return problems;
}

/** The attachment's addresses with their host-route length and family: IPv4, then IPv6 when dual-stack. */
function addressesOf(p: Pick<PodPlumbing, 'ip' | 'ip6'>): [string, number, 4 | 6][] {
  return [[p.ip, 32, 4], ...(p.ip6 ? [[p.ip6, 128, 6] as [string, number, 6]] : [])];
}

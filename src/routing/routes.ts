/**
 * The routing domain: one mechanism (`block via nodeIP` for every node that holds a block) used in two
 * places — the fabric router of a VNet (Azure's model: nodes need no per-peer routes) and the node agent's
 * direct routes to peers on a subnet it shares (flannel's host-gw).
 *
 * Deciding is pure (`desiredPeerRoutes`, `diffRoutes`); the kernel edge reads and writes only routes carrying
 * podnet's own route protocol number, so routes anyone else installed are never read as ours or changed.
 */
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
import { ipBatch, listRoutes } from '../kernel/ip.js';
import type { BlockLease } from '../store/types.js';

/** podnet's route protocol number (`proto 147`); not assigned in iproute2's rt_protos. */
export const PODNET_ROUTE_PROTO = 147;

export interface PeerRoute {
  /** The peer's block, canonical CIDR text. */
  dst: string;
  /** The peer node's IP. */
  via: string;
}

export interface RouteDiff {
  add: PeerRoute[];
  /** Routes whose destination is already ours but whose next hop changed. */
  replace: PeerRoute[];
  remove: PeerRoute[];
}

/**
 * Routes to install for a set of leases. Without `attachedSubnets` every lease gets a route (a fabric
 * router reaches every node); with it only peers whose node IP lies on one of those subnets (direct mode:
 * a next hop must be on a connected link). The node's own block never gets a peer route.
 */
export function desiredPeerRoutes(
  leases: readonly BlockLease[],
  opts: { selfNode?: string; attachedSubnets?: readonly string[] } = {},
): PeerRoute[] {
  const subnets = opts.attachedSubnets?.map((s) => parseCidr(s));
  const seen = new Set<string>();
  const routes: PeerRoute[] = [];
  for (const l of leases) {
    if (l.nodeName === opts.selfNode || seen.has(l.block)) continue;
    if (subnets && !subnets.some((s) => containsIp(s, parseIp(l.nodeIp)))) continue;
    seen.add(l.block);
    routes.push({ dst: l.block, via: l.nodeIp });
  }
  return routes.sort((a, b) => compareText(a.dst, b.dst));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What to change so that `actual` (podnet's routes in the kernel) becomes `desired`. */
export function diffRoutes(desired: readonly PeerRoute[], actual: readonly PeerRoute[]): RouteDiff {
  const have = new Map(actual.map((r) => [r.dst, r.via]));
  const want = new Map(desired.map((r) => [r.dst, r.via]));
  const diff: RouteDiff = { add: [], replace: [], remove: [] };
  for (const [dst, via] of want) {
    const cur = have.get(dst);
    if (cur === undefined) diff.add.push({ dst, via });
    else if (cur !== via) diff.replace.push({ dst, via });
  }
  for (const [dst, via] of have) if (!want.has(dst)) diff.remove.push({ dst, via });
  return diff;
}

export interface RouteTarget {
  /** Network namespace to act in; omitted = the current one. */
  netns?: string;
  /** Routing table; omitted = main. */
  table?: number;
}

function tableArgs(t: RouteTarget): string[] {
  return t.table === undefined ? [] : ['table', String(t.table)];
}

/**
 * podnet's peer routes currently in the kernel, IPv4 then IPv6 (only routes with podnet's proto and a
 * gateway): a dual-stack node routes each peer's /24 via its IPv4 and its /120 via its IPv6 address.
 */
export async function readPodnetRoutes(target: RouteTarget = {}): Promise<PeerRoute[]> {
  const args = [...tableArgs(target), 'proto', String(PODNET_ROUTE_PROTO)];
  const out: PeerRoute[] = [];
  for (const family of [4, 6] as const) {
    // A table that holds no route yet reads as empty (listRoutes), not as an error.
    for (const r of await listRoutes(args, target.netns, family)) {
      if (r.gateway === undefined) continue;
      out.push({ dst: r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`, via: r.gateway });
    }
  }
  return out;
}

/** The `ip -batch` lines for a diff; each line is one kernel operation. */
export function renderRouteBatch(diff: RouteDiff, target: RouteTarget = {}): string[] {
  const tail = [...tableArgs(target), 'proto', String(PODNET_ROUTE_PROTO)].join(' ');
  return [
    ...diff.remove.map((r) => `route del ${r.dst} via ${r.via} ${tail}`),
    // `add`, not `replace`: if someone else's route holds the destination, it stays and the add fails.
    ...diff.add.map((r) => `route add ${r.dst} via ${r.via} ${tail}`),
    ...diff.replace.map((r) => `route replace ${r.dst} via ${r.via} ${tail}`),
  ];
}

/**
 * Applies a diff in one `ip -batch` call and returns the number of kernel operations. With `-force` the
 * batch goes on past a failing line (a foreign route in the way), and the failure is still reported.
 */
export async function applyRouteDiff(diff: RouteDiff, target: RouteTarget = {}): Promise<number> {
  const lines = renderRouteBatch(diff, target);
  if (lines.length === 0) return 0;
  await ipBatch(lines, target.netns, { force: true });
  return lines.length;
}

export interface ReconcileResult {
  added: number;
  replaced: number;
  removed: number;
}

/** Level-based: reads podnet's routes, diffs them with `desired` and fixes the difference. */
export async function reconcileRoutes(
  desired: readonly PeerRoute[],
  target: RouteTarget = {},
): Promise<ReconcileResult> {
  const diff = diffRoutes(desired, await readPodnetRoutes(target));
  await applyRouteDiff(diff, target);
  return { added: diff.add.length, replaced: diff.replace.length, removed: diff.remove.length };
}

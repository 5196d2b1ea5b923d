import type { Family } from '../addr/index.js';
/**
 * The VNet's routing domain (Azure's model): each cluster has its own routing table in the VNet namespace,
 * chosen by the subnet its packets come in from (`ip rule iif <bridge>`), and a fabric router keeps
 * `block via nodeIP` in that table for every node holding a block lease. Nodes need no routes to their
 * peers, and pools on different subnets reach each other through it.
 *
 * The rules are rendered (pure) and applied idempotently; the router is a small daemon, level-based: every
 * lease change and a periodic resync compare the kernel with the leases and fix the difference, so a
 * hand-deleted route returns.
 */
import { daemonLogger } from '../agent/log.js';
import { ipBatch, listRules } from '../kernel/ip.js';
import { netnsExists } from '../kernel/netns.js';
import { desiredPeerRoutes, reconcileRoutes } from '../routing/routes.js';
import { openStore } from '../store/open.js';
import type { BlockLease } from '../store/types.js';
import { vnetFamilies } from './firewall.js';
import type { Vnet } from './model.js';

/**
 * `ip -batch` lines for one cluster's ingress rules of a family (the batch runs as `ip -6` for IPv6): packets
 * entering from its subnets use its table. IPv6 rules only for the subnets that carry IPv6.
 */
export function renderClusterRules(
  vnet: Vnet,
  cluster: string,
  op: 'add' | 'del',
  family: Family = 4,
): string[] {
  const c = vnet.clusters.find((x) => x.name === cluster);
  if (!c) return [];
  return vnet.subnets
    .filter((s) => s.cluster === cluster && (family === 4 || s.gateway6))
    .map((s) => `rule ${op} iif ${s.bridge} lookup ${c.table} pref ${c.table}`);
}

/** Rules already gone are fine when removing: removal is idempotent. */
const REMOVE = { force: true, ignoreMissing: true } as const;

/** Sends packets entering from the cluster's subnets to the cluster's own routing table, in each family. */
export async function addClusterRules(vnet: Vnet, cluster: string): Promise<void> {
  for (const family of vnetFamilies(vnet)) {
    // Rules left by an interrupted run would make `add` fail: delete them first.
    await ipBatch(renderClusterRules(vnet, cluster, 'del', family), vnet.netns, { ...REMOVE, family });
    await ipBatch(renderClusterRules(vnet, cluster, 'add', family), vnet.netns, { family });
  }
}

/** Removes the cluster's rules and its routing table's routes (the fabric router's routes). */
export async function removeClusterRouting(vnet: Vnet, cluster: string): Promise<void> {
  if (!netnsExists(vnet.netns)) return;
  const c = vnet.clusters.find((x) => x.name === cluster);
  if (!c) return;
  for (const family of vnetFamilies(vnet)) {
    const opts = { ...REMOVE, family };
    await ipBatch(renderClusterRules(vnet, cluster, 'del', family), vnet.netns, opts);
    // Rules of the table that no longer match the plan (e.g. after a crash between plan and kernel).
    const stale = (await listRules(vnet.netns, family)).filter((r) => r.table === String(c.table));
    await ipBatch(
      stale.map((r) => `rule del pref ${r.priority} table ${c.table}`),
      vnet.netns,
      opts,
    );
    await ipBatch([`route flush table ${c.table}`], vnet.netns, opts);
  }
}

const RESYNC_MS = 5000;

export interface FabricRouterOptions {
  /** The cluster whose leases are routed (for the log). */
  cluster: string;
  /** The cluster store holding the block leases. */
  storeUrl: string;
  /** The VNet namespace and the cluster's routing table in it. */
  netns: string;
  table: number;
}

/** Runs the fabric router of one cluster until SIGTERM or SIGINT. */
export async function runFabricRouter(o: FabricRouterOptions): Promise<void> {
  const target = { netns: o.netns, table: o.table };
  const log = daemonLogger({ component: 'lab-fabric', cluster: o.cluster, table: o.table });
  const store = await openStore(o.storeUrl);
  let leases: BlockLease[] | null = null;
  let busy: Promise<void> = Promise.resolve();
  const reconcile = () => {
    busy = busy.then(async () => {
      if (leases === null) return;
      try {
        const r = await reconcileRoutes(desiredPeerRoutes(leases, {}), target);
        if (r.added + r.replaced + r.removed > 0)
          log.info({ ...r, blocks: leases.length }, 'routes reconciled');
      } catch (e) {
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'route reconcile failed');
      }
    });
  };
  const stopWatch = await store.watchBlocks((l) => {
    leases = l;
    reconcile();
  });
  const timer = setInterval(reconcile, RESYNC_MS);
  log.info({ store: store.url }, 'fabric router started');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  clearInterval(timer);
  stopWatch();
  await busy;
  await store.close();
  log.info('fabric router stopped');
}

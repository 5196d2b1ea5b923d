/**
 * The VNet's fabric router for one cluster (Azure's routing domain): watches the cluster's block leases in
 * the store and keeps `block via nodeIP` for every node in the cluster's own routing table in the VNet
 * namespace. Nodes need no routes to their peers, and pools on different subnets reach each other through
 * it. Runs as a small daemon (`podnet lab fabric`, started by `lab up`), level-based: every change and a
 * periodic resync compare the kernel with the leases and fix the difference, so a hand-deleted route returns.
 */
import { readFileSync } from 'node:fs';
import { destination, pino } from 'pino';
import { desiredPeerRoutes, reconcileRoutes } from '../routing/routes.js';
import { openStore } from '../store/open.js';
import type { BlockLease } from '../store/types.js';
import type { LabState } from './model.js';
import { vnetNetns } from './names.js';

const RESYNC_MS = 5000;

export async function runFabric(statePath: string): Promise<void> {
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as LabState;
  const target = { netns: vnetNetns(state.vnet), table: state.table };
  const log = pino(
    {
      base: { component: 'lab-fabric', cluster: state.name, table: state.table },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest: 2, sync: true }),
  );
  const store = await openStore(state.store.url);
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

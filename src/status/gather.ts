/** What `podnet status` reads from the cluster store: one pass of reads, then the pure assessment. */
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { clusterNotFound } from '../store/records.js';
import type { ClusterStore } from '../store/types.js';
import type { StatusInput } from './health.js';
import { AGENTS_PREFIX, decodeHeartbeat } from './heartbeat.js';

export async function readStatusInput(store: ClusterStore, expectedNodes?: string[]): Promise<StatusInput> {
  const cluster = await store.getCluster();
  if (!cluster) throw clusterNotFound(store.url);
  const [leases, quarantined, agents, endpointKeys] = await Promise.all([
    store.listBlocks(),
    store.listQuarantined(),
    store.kv.list(AGENTS_PREFIX),
    store.kv.list(ENDPOINTS_PREFIX),
  ]);
  const endpoints: Record<string, number> = {};
  for (const kv of endpointKeys.items) {
    const node = kv.key.slice(ENDPOINTS_PREFIX.length).split('/')[0];
    endpoints[node] = (endpoints[node] ?? 0) + 1;
  }
  return {
    storeUrl: store.url,
    cluster,
    leases,
    quarantined,
    heartbeats: agents.items.map(decodeHeartbeat),
    endpoints,
    ...(expectedNodes ? { expectedNodes } : {}),
  };
}

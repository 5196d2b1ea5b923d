/**
 * The one seam between the cluster store and the object layer: the versioned store (src/store/versioned.ts)
 * a `ClusterStore` exposes as `store.kv`. Backends that do not offer one yet give null, and then the agent
 * publishes no endpoints and the lab keeps no Pod objects; the pod network works either way.
 */
import type { ClusterStore } from '../store/types.js';
import type { VersionedStore } from '../store/versioned.js';

export function objectStoreOf(store: ClusterStore): VersionedStore | null {
  return (store as ClusterStore & { kv?: VersionedStore }).kv ?? null;
}

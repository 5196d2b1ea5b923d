/**
 * The cluster's endpoints as a watcher (another node's agent, a tool) holds them: a map from key to endpoint
 * kept current by the store's watch updates. Pure: the caller owns the watch; this applies what it delivers.
 * A snapshot replaces everything (the start, or a resync after compaction); events change single keys. A
 * record that does not decode is left out and reported, so one foreign key never blinds a node to the rest.
 */
import type { PodnetError } from '../errors/index.js';
import type { WatchUpdate } from '../store/versioned.js';
import { type PodEndpoint, decodeEndpoint } from './record.js';

export interface EndpointView {
  endpoints: Map<string, PodEndpoint>;
  /** Keys whose records did not decode, with the reason. */
  corrupt: Map<string, PodnetError>;
  /** The store revision the view reflects. */
  revision: number;
}

export function emptyEndpointView(): EndpointView {
  return { endpoints: new Map(), corrupt: new Map(), revision: 0 };
}

function put(view: EndpointView, key: string, value: string): void {
  try {
    view.endpoints.set(key, decodeEndpoint({ key, value }));
    view.corrupt.delete(key);
  } catch (e) {
    view.endpoints.delete(key);
    view.corrupt.set(key, e as PodnetError);
  }
}

/** Applies one watch update in place; returns the keys it changed. */
export function applyEndpointUpdate(view: EndpointView, u: WatchUpdate): string[] {
  const changed: string[] = [];
  if (u.type === 'snapshot') {
    const before = new Set([...view.endpoints.keys(), ...view.corrupt.keys()]);
    view.endpoints.clear();
    view.corrupt.clear();
    for (const kv of u.items) {
      put(view, kv.key, kv.value);
      changed.push(kv.key);
      before.delete(kv.key);
    }
    changed.push(...before);
  } else {
    for (const e of u.events) {
      if (e.type === 'put') put(view, e.kv.key, e.kv.value);
      else {
        view.endpoints.delete(e.key);
        view.corrupt.delete(e.key);
      }
      changed.push(e.type === 'put' ? e.kv.key : e.key);
    }
  }
  view.revision = u.revision;
  return changed;
}

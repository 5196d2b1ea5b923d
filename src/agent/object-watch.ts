/**
 * The agent's view of the cluster objects its node-table sections are compiled from: one watch per object
 * prefix (NetworkPolicy, Namespace, Pod, Service) and one of every node's pod endpoints, kept as plain maps of
 * stored text, with `changed` called on every update so the agent recompiles at once (not at the next
 * resync). Each section reads the maps through its own `derived` view, computed once per change.
 *
 * `start` returns once every watch delivered its first snapshot, so a restarted agent's first reconcile
 * already has its policies and services (never a window with a section empty); bounded, so a store slow to
 * answer delays the agent's start and never stops it.
 */
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { type EndpointView, applyEndpointUpdate, emptyEndpointView } from '../endpoints/view.js';
import type { VersionedStore, WatchUpdate } from '../store/versioned.js';

/** How long `start` waits for the watches' first snapshots. */
const FIRST_SNAPSHOT_MS = 10_000;

function applyUpdate(map: Map<string, string>, u: WatchUpdate): void {
  if (u.type === 'snapshot') {
    map.clear();
    for (const kv of u.items) map.set(kv.key, kv.value);
    return;
  }
  for (const e of u.events) {
    if (e.type === 'put') map.set(e.kv.key, e.kv.value);
    else map.delete(e.key);
  }
}

export type ObjectMaps<P extends string> = Readonly<Record<P, ReadonlyMap<string, string>>>;

export class ObjectWatch<P extends string> {
  private readonly maps: Record<P, Map<string, string>>;
  private readonly endpoints: EndpointView = emptyEndpointView();
  private readonly stops: (() => void)[] = [];
  /** Counts updates: a derived view is recomputed only when it moved. */
  private generation = 0;

  constructor(
    private readonly store: VersionedStore,
    private readonly prefixes: Readonly<Record<P, string>>,
    private readonly changed: () => void,
  ) {
    this.maps = Object.fromEntries(Object.keys(prefixes).map((p) => [p, new Map()])) as Record<
      P,
      Map<string, string>
    >;
  }

  async start(): Promise<void> {
    const first: Promise<void>[] = [];
    const watch = async (prefix: string, apply: (u: WatchUpdate) => void) => {
      let seen: () => void = () => {};
      first.push(
        new Promise<void>((resolve) => {
          seen = resolve;
        }),
      );
      this.stops.push(
        await this.store.watch(prefix, (u) => {
          apply(u);
          this.generation++;
          seen();
          this.changed();
        }),
      );
    };
    for (const [name, prefix] of Object.entries(this.prefixes) as [P, string][]) {
      await watch(prefix, (u) => applyUpdate(this.maps[name], u));
    }
    await watch(ENDPOINTS_PREFIX, (u) => applyEndpointUpdate(this.endpoints, u));
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FIRST_SNAPSHOT_MS);
    });
    await Promise.race([Promise.all(first), bound]);
    clearTimeout(timer);
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
  }

  /** A view of the objects and endpoints as of the last updates, computed once per change. */
  derived<W>(derive: (objects: ObjectMaps<P>, endpoints: EndpointView) => W): () => W {
    let at = -1;
    let value: W;
    return () => {
      if (at !== this.generation) {
        value = derive(this.maps, this.endpoints);
        at = this.generation;
      }
      return value;
    };
  }
}

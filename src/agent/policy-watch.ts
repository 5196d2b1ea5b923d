/**
 * The agent's view of what NetworkPolicy enforcement depends on: watches of the NetworkPolicy, Namespace and
 * Pod objects and of every node's pod endpoints, kept as plain maps, with `changed` called on every update so
 * the agent recompiles its policy section at once (not at the next resync). `start` returns once each watch
 * delivered its first snapshot, so the agent's first reconcile after a restart already enforces the policies
 * (never a window with the section empty).
 */
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { type EndpointView, applyEndpointUpdate, emptyEndpointView } from '../endpoints/view.js';
import type { PolicyWorld } from '../policy/types.js';
import type { VersionedStore, WatchUpdate } from '../store/versioned.js';
import { POLICY_PREFIXES, policyWorld } from './policy-world.js';

/** How long `start` waits for the watches' first snapshots. */
const FIRST_SNAPSHOT_MS = 10_000;

type Prefix = keyof typeof POLICY_PREFIXES;

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

export class PolicyWatch {
  private readonly objects: Record<Prefix, Map<string, string>> = {
    policies: new Map(),
    namespaces: new Map(),
    pods: new Map(),
  };
  private readonly endpoints: EndpointView = emptyEndpointView();
  private readonly stops: (() => void)[] = [];
  private cached: { world: PolicyWorld; corrupt: string[] } | null = null;

  constructor(
    private readonly store: VersionedStore,
    private readonly changed: () => void,
  ) {}

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
          this.cached = null;
          seen();
          this.changed();
        }),
      );
    };
    for (const [name, prefix] of Object.entries(POLICY_PREFIXES) as [Prefix, string][]) {
      await watch(prefix, (u) => applyUpdate(this.objects[name], u));
    }
    await watch(ENDPOINTS_PREFIX, (u) => applyEndpointUpdate(this.endpoints, u));
    // Bounded: a store that is slow to answer delays the agent's start, it never stops it.
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

  /** The policy world as of the last updates (computed once per change). */
  world(): { world: PolicyWorld; corrupt: string[] } {
    this.cached ??= policyWorld({ ...this.objects, endpoints: this.endpoints.endpoints.values() });
    return this.cached;
  }
}

/**
 * The agent's view of what the service proxy depends on: watches of the Service objects and of every node's
 * pod endpoints, with `changed` called on every update so the agent recompiles its `svc` section at once.
 * `start` returns once both watches delivered their first snapshot (bounded), so a restarted agent's first
 * reconcile already has its services (never a window with the section empty).
 */
import { ENDPOINTS_PREFIX } from '../endpoints/record.js';
import { type EndpointView, applyEndpointUpdate, emptyEndpointView } from '../endpoints/view.js';
import { objectPrefix } from '../objects/types.js';
import type { ServiceWorld } from '../services/proxy.js';
import type { Service } from '../services/types.js';
import type { VersionedStore, WatchUpdate } from '../store/versioned.js';
import type { Logger } from './log.js';

const FIRST_SNAPSHOT_MS = 10_000;
export const SERVICES_PREFIX = objectPrefix('services');

export class ServiceWatch {
  private readonly services = new Map<string, Service>();
  private readonly endpoints: EndpointView = emptyEndpointView();
  private readonly stops: (() => void)[] = [];
  private cached: ServiceWorld | null = null;

  constructor(
    private readonly store: VersionedStore,
    private readonly changed: () => void,
    private readonly log: Logger,
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
    await watch(SERVICES_PREFIX, (u) => this.applyServices(u));
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

  /** The services and endpoints as of the last updates. */
  world(): ServiceWorld {
    this.cached ??= {
      services: [...this.services.values()],
      endpoints: [...this.endpoints.endpoints.values()],
    };
    return this.cached;
  }

  private applyServices(u: WatchUpdate): void {
    const put = (key: string, value: string) => {
      try {
        this.services.set(key, JSON.parse(value) as Service);
      } catch {
        // A value that is not JSON is not a Service anyone applied: left out, said once per write.
        this.services.delete(key);
        this.log.warn({ key }, 'service object unreadable; left out of the proxy');
      }
    };
    if (u.type === 'snapshot') {
      this.services.clear();
      for (const kv of u.items) put(kv.key, kv.value);
      return;
    }
    for (const e of u.events) {
      if (e.type === 'put') put(e.kv.key, e.kv.value);
      else this.services.delete(e.key);
    }
  }
}

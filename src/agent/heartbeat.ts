import {
  type AgentHeartbeat,
  HEARTBEAT_REFRESH_S,
  agentKey,
  encodeHeartbeat,
  heartbeatDue,
} from '../status/heartbeat.js';
import type { VersionedStore } from '../store/versioned.js';
/**
 * The agent's heartbeat writer: at every tick (a third of the endpoint lease's TTL, 10 s) it builds the node's
 * heartbeat record and puts it on the endpoint publisher's lease when it changed, when that lease changed
 * (a lost lease took the key with it), or when the refresh is due. The lease's keep-alive is the publisher's,
 * so a heartbeat adds no keep-alive traffic, and a dead agent's record expires with its pod endpoints.
 */
import { errFields } from './log.js';
import type { Logger } from './log.js';

export interface HeartbeatOptions {
  store: VersionedStore;
  node: string;
  /** The store lease the node's endpoints live on; null until the publisher holds one. */
  lease(): string | null;
  /** The record as of now (`heartbeatAt` is set here). */
  record(): Omit<AgentHeartbeat, 'heartbeatAt'>;
  log: Logger;
  tickSeconds: number;
  refreshSeconds?: number;
  now?: () => number;
}

export class NodeHeartbeat {
  private last: AgentHeartbeat | null = null;
  private lastMs = 0;
  private lastLease: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failing = false;
  /** Store writes made, for the agent's status and the write-rate test. */
  writes = 0;

  constructor(private readonly o: HeartbeatOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.tickSeconds * 1000);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One tick; never throws (a failed write is logged once and retried at the next tick). */
  tick(): Promise<void> {
    this.running ??= this.write().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async write(): Promise<void> {
    const lease = this.o.lease();
    if (lease === null) return;
    const now = (this.o.now ?? Date.now)();
    const next: AgentHeartbeat = { ...this.o.record(), heartbeatAt: new Date(now).toISOString() };
    const refresh = this.o.refreshSeconds ?? HEARTBEAT_REFRESH_S;
    if (lease === this.lastLease && !heartbeatDue(this.last, this.lastMs, next, now, refresh)) return;
    try {
      await this.o.store.txn(
        [],
        [{ type: 'put', key: agentKey(this.o.node), value: encodeHeartbeat(next), lease }],
      );
      this.writes++;
      this.last = next;
      this.lastMs = now;
      this.lastLease = lease;
      this.failing = false;
    } catch (err) {
      // A lost lease: the publisher grants a new one within its retry, and the next tick writes on it.
      if (!this.failing) this.o.log.warn(errFields(err), 'writing the heartbeat failed; will retry');
      this.failing = true;
      this.lastLease = null;
    }
  }
}

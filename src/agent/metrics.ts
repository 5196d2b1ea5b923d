/**
 * The agent's Prometheus metrics (prom-client, `podnet_` prefix, base units, counters end in `_total`), in a
 * registry of the agent's own so several agents in one process (tests) never share series.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NODE_SIDE_FINDING_CODES, type NodeIpamFinding } from '../ipam/node-check.js';

/** The package version, read once: podnet_build_info and /v1/status report it. */
export const PODNET_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export interface AgentMetricsSource {
  /** Addresses in use and the node's cap (max pods); null before the block is leased. */
  addresses(): { inUse: number; capacity: number } | null;
  block(): string | null;
  /** What the IPAM audit found (podnet ipam check's findings). */
  ipamProblems(): NodeIpamFinding[];
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileErrors: Counter;
  readonly reconcileDuration: Histogram;
  readonly driftTotal: Counter<'kind'>;
  readonly leaseRenewals: Counter<'result'>;
  readonly peerRoutes: Gauge;
  readonly cniRequests: Counter<'command' | 'result'>;
  readonly cniDuration: Histogram<'command'>;

  constructor(source: AgentMetricsSource) {
    const registers = [this.registry];
    new Gauge({
      name: 'podnet_ipam_block_addresses',
      help: "Pod addresses of the node's block by state (in_use, free; free counts up to the node's max pods)",
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const a = source.addresses();
        if (!a) return;
        this.set({ state: 'in_use' }, a.inUse);
        this.set({ state: 'free' }, Math.max(0, a.capacity - a.inUse));
      },
    });
    new Gauge({
      name: 'podnet_node_block_info',
      help: 'The block this node leases (value always 1)',
      labelNames: ['block'],
      registers,
      collect() {
        this.reset();
        const b = source.block();
        if (b) this.set({ block: b }, 1);
      },
    });
    new Gauge({
      name: 'podnet_ipam_problems',
      help: 'Problems the IPAM audit found in two audits in a row, by code (AddressWithoutInterface is a leaked address)',
      labelNames: ['code'],
      registers,
      collect() {
        const found = source.ipamProblems();
        // Every code the audit can find has a series, at 0 when nothing is found, so an alert can fire on a rise
        // from 0 (the audit does not look inside pods: that is `podnet ipam check`'s PodSideIncomplete).
        for (const code of NODE_SIDE_FINDING_CODES)
          this.set({ code }, found.filter((f) => f.code === code).length);
      },
    });
    this.reconcileTotal = new Counter({
      name: 'podnet_reconcile_total',
      help: 'Dataplane reconciles by result (ok, error)',
      labelNames: ['result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'podnet_reconcile_errors_total',
      help: 'Dataplane reconciles that failed',
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'podnet_reconcile_duration_seconds',
      help: 'Time one dataplane reconcile took',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.driftTotal = new Counter({
      name: 'podnet_reconcile_drift_total',
      help: 'Kernel state found changed behind the agent and repaired, by kind (the dataplane part: forwarding, ruleset, routes)',
      labelNames: ['kind'],
      registers,
    });
    this.leaseRenewals = new Counter({
      name: 'podnet_store_lease_renewals_total',
      help: 'Block lease renewals by result (ok, reclaimed, error)',
      labelNames: ['result'],
      registers,
    });
    this.peerRoutes = new Gauge({
      name: 'podnet_peer_routes',
      help: 'Direct routes to peer blocks installed by this agent',
      registers,
    });
    this.cniRequests = new Counter({
      name: 'podnet_cni_requests_total',
      help: 'CNI calls the agent answered, by command (ADD, DEL, CHECK, GC, STATUS, VERSION, invalid) and result (ok, error)',
      labelNames: ['command', 'result'],
      registers,
    });
    this.cniDuration = new Histogram({
      name: 'podnet_cni_request_duration_seconds',
      help: 'Time the agent took to answer one CNI call, by command',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'podnet_build_info',
      help: 'podnet build (value always 1)',
      labelNames: ['version'],
      registers,
    }).set({ version: PODNET_VERSION }, 1);
  }
}

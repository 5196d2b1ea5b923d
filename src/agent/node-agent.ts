/**
 * The node agent's logic (Azure CNS's role): holds the node's block lease, owns the node-local pod IPAM and
 * keeps the node's dataplane equal to what the cluster store implies. Level-based: every reconcile computes
 * the whole desired state and fixes the difference, so restarts, missed events and hand edits converge.
 *
 * Everything outside (store, IPAM file, kernel, clock) is passed in, so this logic is tested without root.
 */
import type { NodeRuntime } from '../cni/types.js';
import type { NodeDataplane } from '../dataplane/node-dataplane.js';
import { attachedSubnets, uplinkOf } from '../dataplane/node-interfaces.js';
import type { RulesetOutcome } from '../dataplane/node-ruleset.js';
import { PodnetError, asPodnetError } from '../errors/index.js';
import { type NodeIpamFinding, checkNodeIpam, lastingFindings } from '../ipam/node-check.js';
import type { PodAddress, PodIpam } from '../ipam/types.js';
import type { ClusterProfile } from '../profile/types.js';
import type { BlockLease, ClusterStore } from '../store/types.js';
import type { VersionedStore } from '../store/versioned.js';
import type { AgentConfig } from './config.js';
import { desiredNodeState } from './desired.js';
import { EndpointPublisher } from './endpoints.js';
import { type Logger, errFields } from './log.js';
import { AgentMetrics, PODNET_VERSION } from './metrics.js';

export interface NodeAgentDeps {
  store: ClusterStore;
  openIpam(block: string, maxPods: number): PodIpam;
  dataplane: NodeDataplane;
  log: Logger;
  /** The node's namespace when this process does not run inside it (in-process tests); unset for the daemon. */
  nodeNetns?: string;
  /** Where the node publishes its pods' endpoints; none = not published. */
  objects?: VersionedStore | null;
}

export interface ReconcileReport {
  at: string;
  result: 'ok' | 'error';
  trigger: string;
  durationSeconds: number;
  ruleset?: RulesetOutcome;
  forwardingRepaired?: boolean;
  routes?: { added: number; replaced: number; removed: number };
  error?: { code: string; message: string };
}

export interface AgentStatus {
  node: string;
  nodeIp: string;
  pool: string | null;
  block: string | null;
  podCidrs: string[];
  nonMasqueradeCidrs: string[];
  peerRoutesMode: string;
  ready: boolean;
  lease: { renewedAt: string; expiresAt: string | null } | null;
  lastReconcile: ReconcileReport | null;
  counts: {
    pods: number;
    maxPods: number;
    peers: number;
    peerRoutes: number;
    reconciles: number;
    reconcileErrors: number;
  };
  pods: PodAddress[];
  /**
   * What the last two IPAM audits (one per resync) both found wrong between the pod addresses, the pods'
   * plumbing and the store's lease: what `podnet ipam check` reports, kept by the agent itself.
   */
  ipamProblems: NodeIpamFinding[];
  version: string;
  /** The agent process (inside the node namespace under --netns), for operators and tests. */
  pid: number;
}

const DEFAULT_MTU = 1500;
const MAX_RENEW_INTERVAL_S = 3600;

export class NodeAgent {
  readonly metrics: AgentMetrics;
  private profile: ClusterProfile | null = null;
  private generation = 0;
  private poolName: string | null = null;
  private lease: BlockLease | null = null;
  private podIpam: PodIpam | null = null;
  private leases: BlockLease[] = [];
  private mtu = DEFAULT_MTU;
  private peerRouteCount = 0;
  private last: ReconcileReport | null = null;
  private reconciledOk = false;
  private reconciles = 0;
  private reconcileErrors = 0;
  private storeError: string | null = null;
  private running: Promise<void> | null = null;
  private pendingTrigger: string | null = null;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly stopWatches: (() => void)[] = [];
  private warnedNoUplink = false;
  /** The last IPAM audit's findings, and those the audit before it also saw (the ones reported). */
  private auditSeen: NodeIpamFinding[] = [];
  private ipamProblems: NodeIpamFinding[] = [];
  private endpoints: EndpointPublisher | null = null;

  constructor(
    readonly config: AgentConfig,
    private readonly deps: NodeAgentDeps,
  ) {
    this.metrics = new AgentMetrics({
      addresses: () =>
        this.podIpam ? { inUse: this.podIpam.list().length, capacity: this.podIpam.maxPods } : null,
      block: () => this.lease?.block ?? null,
      ipamProblems: () => this.ipamProblems,
    });
  }

  /**
   * Claims the block (idempotent: the same block after a restart), opens the pod IPAM, reconciles once, then
   * follows the store. Fails without side effects beyond the lease when the profile or pool is unusable.
   */
  async start(): Promise<void> {
    const { store, log } = this.deps;
    const rec = await store.getCluster();
    if (!rec) {
      throw new PodnetError('ClusterNotFound', `the store ${store.url} holds no cluster profile yet`, {
        field: '--store',
        hint: 'write the cluster profile first (podnet cluster create -f profile.yaml --store URL), then start the agent',
      });
    }
    this.setProfile(rec.profile, rec.generation);
    const pool = this.config.pool
      ? rec.profile.nodePools.find((p) => p.name === this.config.pool)
      : rec.profile.nodePools[0];
    if (!pool) {
      const names = rec.profile.nodePools.map((p) => p.name);
      throw new PodnetError(
        'UnknownNodePool',
        this.config.pool
          ? `the cluster has no node pool "${this.config.pool}"`
          : 'the cluster profile has no node pool',
        {
          field: '--pool',
          hint:
            names.length > 0 ? `use one of: ${names.join(', ')}` : 'add a node pool to the cluster profile',
          details: { pools: names },
        },
      );
    }
    this.poolName = pool.name;
    await this.claim();
    // Peer routes from a previous run stay until the first reconcile sees the full lease list: no gap.
    this.leases = await store.listBlocks();
    await this.reconcileNow('start');
    this.stopWatches.push(
      await store.watchBlocks((leases) => {
        this.leases = leases;
        this.trigger('leases');
      }),
      // A grown pod CIDR goes into the SNAT table at once, not at the next resync.
      await store.watchCluster((rec) => {
        if (!rec || rec.generation === this.generation) return;
        this.setProfile(rec.profile, rec.generation);
        this.trigger('profile');
      }),
    );
    if (this.deps.objects) {
      const { node, nodeIp } = this.config;
      const addresses = () => this.podIpam?.list() ?? [];
      this.endpoints = new EndpointPublisher({ store: this.deps.objects, node, nodeIp, addresses, log });
      this.endpoints.start();
    }
    this.timers.push(setInterval(() => void this.resync(), this.config.resyncSeconds * 1000));
    const renewS = Math.max(1, Math.min(this.config.leaseTtlSeconds / 3, MAX_RENEW_INTERVAL_S));
    this.timers.push(setInterval(() => void this.renew(), renewS * 1000));
    log.info({ block: this.lease?.block, pool: this.poolName }, 'agent started');
  }

  /** Stops following the store. The lease and the kernel state stay, so pods keep working across a restart. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const stop of this.stopWatches) stop();
    await this.endpoints?.stop();
    await this.running;
    this.podIpam?.close();
    this.podIpam = null;
    await this.deps.store.close();
  }

  get healthy(): boolean {
    return !this.stopped && this.storeError === null;
  }

  get ready(): boolean {
    return !this.stopped && this.lease !== null && this.podIpam !== null && this.reconciledOk;
  }

  get storeProblem(): string | null {
    return this.storeError;
  }

  runtime(): NodeRuntime {
    return {
      nodeName: this.config.node,
      ipam: () => this.podIpam,
      podCidrs: () => this.profile?.network.podCidrs ?? [],
      uplinkMtu: () => this.mtu,
      podsChanged: () => this.endpoints?.podsChanged(),
      ...(this.deps.nodeNetns ? { nodeNetns: this.deps.nodeNetns } : {}),
    };
  }

  status(): AgentStatus {
    const pods = this.podIpam?.list() ?? [];
    return {
      node: this.config.node,
      nodeIp: this.config.nodeIp,
      pool: this.poolName,
      block: this.lease?.block ?? null,
      podCidrs: this.profile?.network.podCidrs ?? [],
      nonMasqueradeCidrs: this.profile?.network.nonMasqueradeCidrs ?? [],
      peerRoutesMode: this.config.peerRoutes,
      ready: this.ready,
      lease: this.lease ? { renewedAt: this.lease.renewedAt, expiresAt: this.lease.expiresAt } : null,
      lastReconcile: this.last,
      counts: {
        pods: pods.length,
        maxPods: this.podIpam?.maxPods ?? 0,
        peers: this.leases.filter((l) => l.nodeName !== this.config.node).length,
        peerRoutes: this.peerRouteCount,
        reconciles: this.reconciles,
        reconcileErrors: this.reconcileErrors,
      },
      pods,
      ipamProblems: this.ipamProblems,
      version: PODNET_VERSION,
      pid: process.pid,
    };
  }

  /** Asks for a reconcile; triggers during a running one coalesce into one more run after it. */
  trigger(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.pendingTrigger = reason;
      return;
    }
    this.running = this.loop(reason);
  }

  /** Reconciles now (after any running reconcile) and resolves when done. */
  async reconcileNow(reason: string): Promise<ReconcileReport | null> {
    this.trigger(reason);
    await this.running;
    return this.last;
  }

  /** Resolves when no reconcile is running or pending, with the last report. */
  async settled(): Promise<ReconcileReport | null> {
    await this.running;
    return this.last;
  }

  private async loop(reason: string): Promise<void> {
    let next: string | null = reason;
    while (next !== null && !this.stopped) {
      this.pendingTrigger = null;
      await this.reconcileOnce(next);
      next = this.pendingTrigger;
    }
    this.running = null;
  }

  private async reconcileOnce(trigger: string): Promise<void> {
    const { dataplane, log } = this.deps;
    const start = performance.now();
    const end = this.metrics.reconcileDuration.startTimer();
    const report: ReconcileReport = {
      at: new Date().toISOString(),
      result: 'ok',
      trigger,
      durationSeconds: 0,
    };
    try {
      if (!this.profile) throw new PodnetError('ClusterNotFound', 'no cluster profile');
      const ifaces = await dataplane.readInterfaces();
      const uplink = uplinkOf(ifaces, this.config.nodeIp);
      if (uplink) this.mtu = uplink.mtu;
      else if (!this.warnedNoUplink) {
        this.warnedNoUplink = true;
        log.warn({ nodeIp: this.config.nodeIp }, 'no interface holds the node IP; pods take MTU 1500');
      }
      const desired = desiredNodeState({
        profile: this.profile,
        leases: this.leases,
        selfNode: this.config.node,
        attachedSubnets: attachedSubnets(ifaces),
        peerRoutes: this.config.peerRoutes,
      });
      // The three parts touch different kernel state, so they run side by side; all of them are tried even
      // when one fails, and the first failure is the reconcile's error.
      const [fwd, rs, routes] = await Promise.allSettled([
        dataplane.ensureForwarding(),
        dataplane.ensureRuleset(desired.ruleset),
        dataplane.reconcileRoutes(desired.peerRoutes),
      ]);
      if (fwd.status === 'fulfilled') report.forwardingRepaired = fwd.value;
      if (rs.status === 'fulfilled') report.ruleset = rs.value;
      if (routes.status === 'fulfilled') report.routes = routes.value;
      for (const part of [fwd, rs, routes]) if (part.status === 'rejected') throw part.reason;
      this.peerRouteCount = desired.peerRoutes.length;
      this.metrics.peerRoutes.set(this.peerRouteCount);
      if (report.ruleset === 'repaired') this.metrics.driftTotal.inc({ kind: 'ruleset' });
      if (report.forwardingRepaired && this.reconciledOk) this.metrics.driftTotal.inc({ kind: 'forwarding' });
      this.reconciledOk = true;
    } catch (err) {
      const e = asPodnetError(err);
      report.result = 'error';
      report.error = { code: e.code, message: e.message };
      this.reconcileErrors++;
      this.metrics.reconcileErrors.inc();
    }
    end();
    this.reconciles++;
    this.metrics.reconcileTotal.inc({ result: report.result });
    report.durationSeconds = (performance.now() - start) / 1000;
    this.last = report;
    const r = report.routes;
    const changed =
      report.ruleset !== 'unchanged' ||
      report.forwardingRepaired ||
      (r && r.added + r.replaced + r.removed > 0);
    if (report.result === 'error') log.error({ trigger, ...report.error }, 'reconcile failed');
    else
      (changed ? log.info : log.debug).call(
        log,
        { trigger, ruleset: report.ruleset, routes: r },
        'reconciled',
      );
  }

  private setProfile(profile: ClusterProfile, generation: number): void {
    if (this.profile && generation !== this.generation) {
      this.deps.log.info({ generation, podCidrs: profile.network.podCidrs }, 'cluster profile changed');
    }
    this.profile = profile;
    this.generation = generation;
  }

  private async claim(): Promise<void> {
    const pool = this.profile?.nodePools.find((p) => p.name === this.poolName);
    const lease = await this.deps.store.claimBlock({
      nodeName: this.config.node,
      nodeIp: this.config.nodeIp,
      pool: this.poolName ?? '',
      maxPods: pool?.maxPods ?? 250,
      ttlSeconds: this.config.leaseTtlSeconds,
    });
    this.adoptLease(lease);
  }

  private adoptLease(lease: BlockLease): void {
    if (this.lease && this.lease.block !== lease.block) {
      // Only possible when the old lease expired and another node took the block: pods of the old block
      // lose their addresses' route. Loud, because it means the agent was away longer than the lease TTL.
      this.deps.log.error(
        { old: this.lease.block, block: lease.block, code: 'BlockChanged' },
        'node block changed',
      );
      this.podIpam?.close();
      this.podIpam = null;
    }
    this.lease = lease;
    this.podIpam ??= this.deps.openIpam(lease.block, lease.maxPods);
  }

  /** Renews the lease; a lease the store no longer has (expired, released) is claimed again. */
  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      this.lease = await this.deps.store.renewBlock(this.config.node, this.config.leaseTtlSeconds);
      this.metrics.leaseRenewals.inc({ result: 'ok' });
      this.storeError = null;
    } catch (err) {
      if ((err as { code?: string }).code === 'LeaseNotFound' && (await this.reclaim())) return;
      this.metrics.leaseRenewals.inc({ result: 'error' });
      this.storeError = errFields(err).err;
      this.deps.log.warn(errFields(err), 'lease renewal failed');
    }
  }

  private async reclaim(): Promise<boolean> {
    try {
      await this.claim();
    } catch (err) {
      this.deps.log.warn(errFields(err), 'claiming the block again failed');
      return false;
    }
    this.metrics.leaseRenewals.inc({ result: 'reclaimed' });
    this.storeError = null;
    this.deps.log.warn({ block: this.lease?.block }, 'lease was gone; claimed again');
    this.trigger('reclaim');
    return true;
  }

  /**
   * Periodic re-check: reconciles (kernel drift) and probes the store with a read of the cluster record, for
   * `/v1/status`. The profile itself comes only from the watch, which re-reads in full on every event and
   * tick, so there is one path by which a profile change reaches the dataplane.
   */
  private async resync(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.deps.store.getCluster();
      this.storeError = null;
    } catch (err) {
      this.storeError = errFields(err).err;
      this.deps.log.warn(errFields(err), 'cluster store unreachable');
    }
    this.trigger('resync');
    await this.auditIpam();
  }

  /**
   * Compares the pod addresses with the pods' plumbing in the kernel and with the store's lease list. Runs
   * once per resync, and reports only what two audits in a row found: a pod midway through ADD or DEL looks
   * like a leak for a moment, and resyncs are seconds apart.
   */
  private async auditIpam(): Promise<void> {
    const ipam = this.podIpam;
    if (!ipam || this.stopped) return;
    let found: NodeIpamFinding[];
    try {
      const plumbing = await this.deps.dataplane.readPodPlumbing();
      found = checkNodeIpam({
        node: this.config.node,
        fileBlock: ipam.block,
        addresses: ipam.list(),
        ...plumbing,
        leases: this.leases,
      });
    } catch (err) {
      this.deps.log.warn(errFields(err), 'IPAM audit failed');
      return;
    }
    const lasting = lastingFindings(this.auditSeen, found);
    this.auditSeen = found;
    const known = new Set(this.ipamProblems.map((f) => `${f.code} ${f.subject}`));
    for (const f of lasting.filter((x) => !known.has(`${x.code} ${x.subject}`))) {
      this.deps.log.warn({ code: f.code, subject: f.subject, hint: f.hint }, f.message);
    }
    this.ipamProblems = lasting;
  }
}

/**
 * The node agent (Azure CNS's role) wires its pieces together: the block lease (`lease.ts`), the node-local
 * pod IPAM opened on the leased block, the dataplane parts it reconciles (`parts.ts`) and the IPAM audit
 * (`ipam-audit.ts`), driven by the store's watches and a resync timer. Level-based: every reconcile computes
 * the whole desired state and fixes the difference, so restarts, missed events and hand edits converge.
 *
 * Everything outside (store, IPAM file, kernel, clock) is passed in, so this logic is tested without root.
 */
import type { NodeRuntime } from '../cni/types.js';
import type { NodeDataplane } from '../dataplane/node-dataplane.js';
import { attachedSubnets, uplinkOf } from '../dataplane/node-interfaces.js';
import type { StoreEndpoint } from '../dataplane/ruleset.js';
import { PodnetError, asPodnetError } from '../errors/index.js';
import type { NodeIpamFinding } from '../ipam/node-check.js';
import type { PodAddress, PodIpam } from '../ipam/types.js';
import { serviceHealthChecks } from '../loadbalancer/health.js';
import type { ClusterProfile } from '../profile/types.js';
import type { AgentHeartbeat } from '../status/heartbeat.js';
import type { BlockLease, ClusterStore, NodeBlocks } from '../store/types.js';
import type { VersionedStore } from '../store/versioned.js';
import { CoalescedPass } from './coalesce.js';
import type { AgentConfig } from './config.js';
import type { NodeSnapshot } from './desired.js';
import type { ClusterDnsServer } from './dns.js';
import { ENDPOINT_LEASE_TTL_S, EndpointPublisher } from './endpoints.js';
import { NodeHeartbeat } from './heartbeat.js';
import { IpamAudit } from './ipam-audit.js';
import { NodeLease } from './lease.js';
import { type Logger, errFields } from './log.js';
import { AgentMetrics, PODNET_VERSION } from './metrics.js';
import { ObjectWatch } from './object-watch.js';
import { type DataplanePart, type PartReport, nodeDataplaneParts, runParts } from './parts.js';
import { POLICY_PREFIXES, policyWorld } from './policy-world.js';
import { ProxyHealthServers } from './proxy-health.js';
import { SERVICES_PREFIX, serviceWorld } from './service-world.js';
import { resolveStoreEndpoints } from './store-endpoints.js';
import { StoreHealth } from './store-health.js';

export interface NodeAgentDeps {
  store: ClusterStore;
  openIpam(block: string, maxPods: number): PodIpam;
  dataplane: NodeDataplane;
  log: Logger;
  /** The node's namespace when this process does not run inside it (in-process tests); unset for the daemon. */
  nodeNetns?: string;
  /** Where the node publishes its pods' endpoints; none = not published. */
  objects?: VersionedStore | null;
  /** The node's cluster DNS server (needs `objects`: it answers from the watched Services); none = not served. */
  clusterDns?: ClusterDnsServer;
}

export interface ReconcileReport {
  at: string;
  result: 'ok' | 'error';
  trigger: string;
  durationSeconds: number;
  /** Every part that ran, by name (`forwarding`, `ruleset`, `routes`); empty when the snapshot read failed. */
  parts: Record<string, PartReport>;
  /** The reconcile's error: the first failing part's (named), or the snapshot read's. */
  error?: { code: string; message: string; part?: string };
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

export class NodeAgent {
  readonly metrics: AgentMetrics;
  private profile: ClusterProfile | null = null;
  private generation = 0;
  private poolName: string | null = null;
  private readonly lease: NodeLease;
  private podIpam: PodIpam | null = null;
  /** A dual-stack node's IPv6 pod IPAM, on its /120 (the IPv4 one is `podIpam`). */
  private podIpam6: PodIpam | null = null;
  private leases: BlockLease[] = [];
  private readonly parts: DataplanePart[];
  private readonly audit: IpamAudit;
  private readonly storeHealth = new StoreHealth();
  private mtu = DEFAULT_MTU;
  private peerRouteCount = 0;
  private last: ReconcileReport | null = null;
  private reconciledOk = false;
  private reconciles = 0;
  private reconcileErrors = 0;
  /** Reconciles, one at a time; triggers during one coalesce into one more run after it (the latest reason). */
  private readonly runner = new CoalescedPass<string>(
    async (reason) => {
      await this.reconcileOnce(reason);
      return undefined;
    },
    () => this.stopped,
  );
  private stopped = false;
  private resyncTimer: NodeJS.Timeout | null = null;
  private readonly stopWatches: (() => void)[] = [];
  private warnedNoUplink = false;
  private endpoints: EndpointPublisher | null = null;
  private heartbeat: NodeHeartbeat | null = null;
  private readonly startedAt = new Date().toISOString();
  /** Drift repaired since start, by part, and when last: the heartbeat reports them. */
  private readonly drift: Record<string, number> = {};
  private lastDriftAt: string | null = null;
  private storeEndpoints: StoreEndpoint[] = [];
  private objectWatch: ObjectWatch<keyof typeof POLICY_PREFIXES | 'services'> | null = null;
  /** What the policy and service sections are compiled from, once per change of the watched objects. */
  private views: {
    policy: () => ReturnType<typeof policyWorld>;
    services: () => ReturnType<typeof serviceWorld>;
  } | null = null;
  /** Answers to the load balancer's health probes (with --proxy-healthz-port and the store's objects). */
  private proxyHealth: ProxyHealthServers | null = null;
  private lastReconciledAt: Date | null = null;
  /** Stored objects that do not decode, already logged (each said once, not at every reconcile). */
  private readonly corruptSaid = new Set<string>();

  constructor(
    readonly config: AgentConfig,
    private readonly deps: NodeAgentDeps,
  ) {
    this.metrics = new AgentMetrics({
      addresses: () =>
        this.podIpam ? { inUse: this.podIpam.list().length, capacity: this.podIpam.maxPods } : null,
      block: () => this.lease.current?.block ?? null,
      ipamProblems: () => this.audit.problems,
    });
    this.parts = nodeDataplaneParts(deps.dataplane);
    this.audit = new IpamAudit({
      node: config.node,
      readPodPlumbing: (family) => deps.dataplane.readPodPlumbing(family),
      log: deps.log,
    });
    this.lease = new NodeLease({
      store: deps.store,
      log: deps.log,
      health: this.storeHealth,
      renewals: this.metrics.leaseRenewals,
      request: () => ({
        nodeName: config.node,
        nodeIp: config.nodeIp,
        ...(config.nodeIp6 ? { nodeIp6: config.nodeIp6 } : {}),
        pool: this.poolName ?? '',
        maxPods: this.profile?.nodePools.find((p) => p.name === this.poolName)?.maxPods ?? 250,
        ttlSeconds: config.leaseTtlSeconds,
      }),
      held: (lease, previous) => this.openIpam(lease, previous),
      reclaimed: () => this.trigger('reclaim'),
    });
  }

  /**
   * Claims the block (idempotent: the same block after a restart), opens the pod IPAM, reconciles once, then
   * follows the store. Fails without side effects beyond the lease when the profile or pool is unusable.
   */
  async start(): Promise<void> {
    const { store, log } = this.deps;
    this.storeEndpoints = await resolveStoreEndpoints(this.config.store);
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
    await this.lease.claim();
    // Peer routes from a previous run stay until the first reconcile sees the full lease list: no gap.
    this.leases = await store.listBlocks();
    if (this.deps.objects) {
      // Before the first reconcile, so a restarted agent never writes its table without its policies and services.
      const watch = new ObjectWatch(
        this.deps.objects,
        { ...POLICY_PREFIXES, services: SERVICES_PREFIX },
        () => this.trigger('objects'),
      );
      this.objectWatch = watch;
      this.views = {
        policy: watch.derived((o, e) => policyWorld({ ...o, endpoints: e.endpoints.values() })),
        services: watch.derived((o, e) => serviceWorld(o.services, e.endpoints.values())),
      };
      await watch.start();
      // Listening before the first reconcile sends the DNS service IP to it.
      const services = this.views.services;
      await this.deps.clusterDns?.start(() => services().world);
      if (this.config.proxyHealthzPort !== null) {
        this.proxyHealth = new ProxyHealthServers({
          healthy: () => this.ready && this.last?.result === 'ok',
          lastUpdated: () => this.lastReconciledAt,
          log,
        });
        this.proxyHealth.startProxy(this.config.proxyHealthzPort);
      }
    }
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
      const addresses = () => [...(this.podIpam?.list() ?? []), ...(this.podIpam6?.list() ?? [])];
      const endpoints = new EndpointPublisher({ store: this.deps.objects, node, nodeIp, addresses, log });
      this.endpoints = endpoints;
      endpoints.start();
      // The heartbeat rides on the endpoints' lease: its first write waits for the first pass to hold one.
      await endpoints.settled();
      this.heartbeat = new NodeHeartbeat({
        store: this.deps.objects,
        node,
        lease: () => endpoints.status().lease,
        record: () => this.heartbeatRecord(),
        log,
        tickSeconds: ENDPOINT_LEASE_TTL_S / 3,
      });
      this.heartbeat.start();
    }
    this.resyncTimer = setInterval(() => void this.resync(), this.config.resyncSeconds * 1000);
    this.lease.startRenewing();
    log.info({ block: this.lease.current?.block, pool: this.poolName }, 'agent started');
  }

  /** Stops following the store. The lease and the kernel state stay, so pods keep working across a restart. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.lease.stop();
    for (const stop of this.stopWatches) stop();
    this.objectWatch?.stop();
    await this.deps.clusterDns?.stop();
    this.proxyHealth?.stop();
    await this.heartbeat?.stop();
    await this.endpoints?.stop();
    await this.runner.settled();
    this.podIpam?.close();
    this.podIpam6?.close();
    this.podIpam = null;
    this.podIpam6 = null;
    await this.deps.store.close();
  }

  get healthy(): boolean {
    return !this.stopped && this.storeHealth.problem === null;
  }

  get ready(): boolean {
    return !this.stopped && this.lease.current !== null && this.podIpam !== null && this.reconciledOk;
  }

  get storeProblem(): string | null {
    return this.storeHealth.problem;
  }

  runtime(): NodeRuntime {
    return {
      nodeName: this.config.node,
      ipam: () => this.podIpam,
      familyIpams: () => [this.podIpam, this.podIpam6].filter((i) => i !== null),
      podCidrs: () => this.profile?.network.podCidrs ?? [],
      dnsServiceIp: () => this.profile?.network.dnsServiceIp ?? null,
      uplinkMtu: () => this.mtu,
      podsChanged: () => this.endpoints?.podsChanged(),
      ...(this.deps.nodeNetns ? { nodeNetns: this.deps.nodeNetns } : {}),
    };
  }

  status(): AgentStatus {
    const pods = [...(this.podIpam?.list() ?? []), ...(this.podIpam6?.list() ?? [])];
    const lease = this.lease.current;
    return {
      node: this.config.node,
      nodeIp: this.config.nodeIp,
      pool: this.poolName,
      block: lease?.block ?? null,
      podCidrs: this.profile?.network.podCidrs ?? [],
      nonMasqueradeCidrs: this.profile?.network.nonMasqueradeCidrs ?? [],
      peerRoutesMode: this.config.peerRoutes,
      ready: this.ready,
      lease: lease ? { renewedAt: lease.renewedAt, expiresAt: lease.expiresAt } : null,
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
      ipamProblems: this.audit.problems,
      version: PODNET_VERSION,
      pid: process.pid,
    };
  }

  /** Asks for a reconcile; triggers during a running one coalesce into one more run after it. */
  trigger(reason: string): void {
    this.runner.request(reason);
  }

  /** Reconciles now (after any running reconcile) and resolves when done. */
  async reconcileNow(reason: string): Promise<ReconcileReport | null> {
    this.trigger(reason);
    return this.settled();
  }

  /** Resolves when no reconcile is running or pending, with the last report. */
  async settled(): Promise<ReconcileReport | null> {
    await this.runner.settled();
    return this.last;
  }

  /** What this reconcile knows: the profile, the leases, and the node's interfaces (also its uplink MTU). */
  private async snapshot(): Promise<NodeSnapshot> {
    if (!this.profile) throw new PodnetError('ClusterNotFound', 'no cluster profile');
    const ifaces = await this.deps.dataplane.readInterfaces();
    const uplink = uplinkOf(ifaces, this.config.nodeIp);
    if (uplink) this.mtu = uplink.mtu;
    else if (!this.warnedNoUplink) {
      this.warnedNoUplink = true;
      this.deps.log.warn(
        { nodeIp: this.config.nodeIp },
        'no interface holds the node IP; pods take MTU 1500',
      );
    }
    return {
      profile: this.profile,
      leases: this.leases,
      selfNode: this.config.node,
      attachedSubnets: attachedSubnets(ifaces),
      peerRoutes: this.config.peerRoutes,
      storeEndpoints: this.storeEndpoints,
      ...(this.views ? this.objectWorlds(this.views) : {}),
      ...(this.views && this.deps.clusterDns ? { dns: { listenIp: this.deps.clusterDns.listenIp } } : {}),
    };
  }

  private objectWorlds(views: NonNullable<NodeAgent['views']>) {
    const policy = views.policy();
    const services = views.services();
    for (const key of [...policy.corrupt, ...services.corrupt]) {
      if (this.corruptSaid.has(key)) continue;
      this.corruptSaid.add(key);
      this.deps.log.warn({ key }, 'stored object unreadable; left out of the node table');
    }
    return { policy: policy.world, services: services.world };
  }

  private async reconcileOnce(trigger: string): Promise<void> {
    const { log } = this.deps;
    const start = performance.now();
    const end = this.metrics.reconcileDuration.startTimer();
    const report: ReconcileReport = {
      at: new Date().toISOString(),
      result: 'ok',
      trigger,
      durationSeconds: 0,
      parts: {},
    };
    try {
      const run = await runParts(this.parts, await this.snapshot());
      report.parts = run.parts;
      if (run.error) report.error = run.error;
      else {
        this.reconciledOk = true;
        this.lastReconciledAt = new Date();
      }
      // The health check node ports follow the Services and endpoints the rules were just made from.
      if (this.proxyHealth && this.views)
        this.proxyHealth.sync(serviceHealthChecks(this.views.services().world, this.config.node));
      for (const [kind, p] of Object.entries(run.parts)) {
        if ('change' in p && p.change === 'repaired') {
          this.metrics.driftTotal.inc({ kind });
          this.drift[kind] = (this.drift[kind] ?? 0) + 1;
          this.lastDriftAt = report.at;
        }
      }
      const routes = run.parts.routes;
      if (routes && 'change' in routes) {
        this.peerRouteCount = routes.counts?.held ?? 0;
        this.metrics.peerRoutes.set(this.peerRouteCount);
      }
    } catch (err) {
      const e = asPodnetError(err);
      report.error = { code: e.code, message: e.message };
    }
    if (report.error) {
      report.result = 'error';
      this.reconcileErrors++;
      this.metrics.reconcileErrors.inc();
    }
    end();
    this.reconciles++;
    this.metrics.reconcileTotal.inc({ result: report.result });
    report.durationSeconds = (performance.now() - start) / 1000;
    this.last = report;
    if (report.error) log.error({ trigger, ...report.error }, 'reconcile failed');
    else {
      const changed = Object.values(report.parts).some((p) => 'change' in p && p.change !== 'unchanged');
      (changed ? log.info : log.debug).call(log, { trigger, parts: report.parts }, 'reconciled');
    }
  }

  /** The node's heartbeat record (src/status/heartbeat.ts) as of now, less its write time. */
  private heartbeatRecord(): Omit<AgentHeartbeat, 'heartbeatAt'> {
    const s = this.status();
    const r = s.lastReconcile;
    return {
      node: s.node,
      nodeIp: s.nodeIp,
      pool: s.pool,
      block: s.block,
      version: s.version,
      pid: s.pid,
      startedAt: this.startedAt,
      ready: s.ready,
      generation: this.generation,
      lastReconcile: r && {
        at: r.at,
        result: r.result,
        trigger: r.trigger,
        ...(r.error ? { error: r.error } : {}),
      },
      reconciles: s.counts.reconciles,
      reconcileErrors: s.counts.reconcileErrors,
      drift: { ...this.drift },
      lastDriftAt: this.lastDriftAt,
      ipamProblems: s.ipamProblems.map(({ code, subject }) => ({ code, subject })),
      pods: s.counts.pods,
      maxPods: s.counts.maxPods,
    };
  }

  private setProfile(profile: ClusterProfile, generation: number): void {
    if (this.profile && generation !== this.generation) {
      this.deps.log.info({ generation, podCidrs: profile.network.podCidrs }, 'cluster profile changed');
    }
    this.profile = profile;
    this.generation = generation;
  }

  /** The pod IPAM follows the leased block; a changed block closes the old block's IPAM first. */
  private openIpam(lease: NodeBlocks, previous: NodeBlocks | null): void {
    if (previous && previous.block !== lease.block) {
      this.podIpam?.close();
      this.podIpam = null;
    }
    this.podIpam ??= this.deps.openIpam(lease.block, lease.maxPods);
    const v6 = lease.blocks.find((b) => b.family === 6);
    if (this.podIpam6 && this.podIpam6.block !== v6?.block) {
      this.podIpam6.close();
      this.podIpam6 = null;
    }
    if (v6) this.podIpam6 ??= this.deps.openIpam(v6.block, v6.maxPods);
  }

  /**
   * Periodic re-check: reconciles (kernel drift), audits the pod addresses, and probes the store with a read
   * of the cluster record, for `/v1/status`. The profile itself comes only from the watch, which re-reads in
   * full on every event and tick, so there is one path by which a profile change reaches the dataplane.
   */
  private async resync(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.deps.store.getCluster();
      this.storeHealth.ok();
    } catch (err) {
      this.storeHealth.failed(err);
      this.deps.log.warn(errFields(err), 'cluster store unreachable');
    }
    this.trigger('resync');
    if (this.podIpam && !this.stopped)
      await this.audit.run([this.podIpam, ...(this.podIpam6 ? [this.podIpam6] : [])], this.leases);
  }
}

/**
 * `podnet status`: is the cluster's pod network healthy? A pure function of what the store holds (the cluster
 * record, the block leases, the agents' heartbeats, the pod endpoints) and of the clock. The store is the only
 * source, so no node is logged into (as a CalicoNodeStatus or `cilium status` would need).
 */
import type { ErrorCode } from '../errors/index.js';
import { blockSpace } from '../ipam/blocks.js';
import type { BlockLease, ClusterRecord, QuarantinedBlock } from '../store/types.js';
import { type AgentHeartbeat, HEARTBEAT_REFRESH_S } from './heartbeat.js';

export const STATUS_API_VERSION = 'podnet.io/v1alpha1';
/** A heartbeat older than this is an agent gone silent: one refresh missed, plus the endpoint lease's TTL. */
export const SILENT_AFTER_S = HEARTBEAT_REFRESH_S + 30;
/** Kernel drift repaired this recently makes the node degraded: someone or something is changing it. */
export const DRIFT_WINDOW_S = 300;
/** An agent this long behind the cluster record's generation has not applied it (its watch takes < 1 s). */
export const GENERATION_GRACE_S = 30;

export interface StatusInput {
  storeUrl: string;
  cluster: ClusterRecord;
  leases: BlockLease[];
  quarantined: QuarantinedBlock[];
  heartbeats: AgentHeartbeat[];
  /** Pod endpoints published in the store, per node. */
  endpoints: Record<string, number>;
  /** Nodes that must exist (a lab's): one without lease and heartbeat is reported too. */
  expectedNodes?: string[];
}

export type StatusProblemCode = Extract<
  ErrorCode,
  | 'AgentSilent'
  | 'AgentNotReady'
  | 'NodeWithoutBlock'
  | 'LeaseNearExpiry'
  | 'ReconcileFailing'
  | 'KernelDrift'
  | 'AgentIpamProblems'
  | 'ProfileNotApplied'
>;

export interface StatusProblem {
  node: string;
  code: StatusProblemCode;
  message: string;
  hint: string;
}

export interface NodeStatus {
  name: string;
  ip: string | null;
  pool: string | null;
  block: string | null;
  lease: { expiresAt: string | null; expiresInSeconds: number | null } | null;
  agent: {
    state: 'ok' | 'silent' | 'none';
    heartbeatAt: string | null;
    heartbeatAgeSeconds: number | null;
    version: string | null;
    pid: number | null;
    ready: boolean;
    generation: number | null;
    lastReconcile: AgentHeartbeat['lastReconcile'];
    reconcileErrors: number;
    drift: Record<string, number>;
    lastDriftAt: string | null;
    ipamProblems: AgentHeartbeat['ipamProblems'];
  };
  pods: number | null;
  maxPods: number | null;
  endpoints: number;
  healthy: boolean;
}

export interface ClusterStatus {
  apiVersion: typeof STATUS_API_VERSION;
  kind: 'Status';
  healthy: boolean;
  checkedAt: string;
  store: { url: string; cluster: string; generation: number };
  podCidr: {
    cidrs: string[];
    blockPrefix: number;
    blocks: { total: number; leased: number; quarantined: number; free: number };
  };
  nodes: NodeStatus[];
  problems: StatusProblem[];
}

const seconds = (ms: number) => Math.round(ms / 1000);

function nodeProblems(
  n: NodeStatus,
  lease: BlockLease | undefined,
  hb: AgentHeartbeat | undefined,
  cluster: ClusterRecord,
  now: number,
): StatusProblem[] {
  const out: StatusProblem[] = [];
  const add = (code: StatusProblemCode, message: string, hint: string) =>
    out.push({ node: n.name, code, message, hint });
  if (!hb) {
    add(
      'AgentSilent',
      'no heartbeat in the store: the agent is down, or has not reached the store for over 30 s',
      `start or restart the node's agent; its log says why it stopped (in a lab: podnet lab restart --node ${n.name})`,
    );
  } else if (n.agent.state === 'silent') {
    add(
      'AgentSilent',
      `last heartbeat ${n.agent.heartbeatAgeSeconds} s ago (written at least every ${HEARTBEAT_REFRESH_S} s)`,
      "check the node's agent process and its log, and the node's clock",
    );
  }
  if (!lease) {
    if (hb)
      add(
        'NodeWithoutBlock',
        'the agent runs but the store leases no block to the node',
        'the agent claims one again at its next renewal; podnet ipam blocks lists the leases',
      );
  } else if (lease.expiresAt !== null) {
    const ttl = Date.parse(lease.expiresAt) - Date.parse(lease.renewedAt);
    const left = Date.parse(lease.expiresAt) - now;
    // The agent renews every third of the TTL: under half left means a renewal was missed.
    if (left < ttl / 2) {
      add(
        'LeaseNearExpiry',
        `block ${lease.block} lease expires in ${Math.max(0, seconds(left))} s (last renewed ${seconds(now - Date.parse(lease.renewedAt))} s ago)`,
        "the agent renews every third of the lease's TTL: check that it runs and reaches the store",
      );
    }
  }
  if (hb && n.agent.state === 'ok') {
    if (!hb.ready && hb.lastReconcile?.result !== 'error')
      add(
        'AgentNotReady',
        'the agent is not ready (no block, no pod IPAM, or no successful reconcile yet)',
        "read the agent's log; CNI ADD answers 'try again later' until it is ready",
      );
    if (hb.lastReconcile?.result === 'error') {
      const e = hb.lastReconcile.error;
      add(
        'ReconcileFailing',
        `the last dataplane reconcile failed${e ? `: ${e.code}${e.part ? ` in part ${e.part}` : ''}: ${e.message}` : ''}`,
        "read the agent's log; it retries at every resync",
      );
    }
    if (hb.lastDriftAt && now - Date.parse(hb.lastDriftAt) < DRIFT_WINDOW_S * 1000) {
      const parts = Object.entries(hb.drift)
        .filter(([, c]) => c > 0)
        .map(([p, c]) => `${p} ${c}x`)
        .join(', ');
      add(
        'KernelDrift',
        `the node's kernel state was changed behind the agent ${seconds(now - Date.parse(hb.lastDriftAt))} s ago and repaired (since start: ${parts})`,
        `find what edits the node's routes, nftables or sysctls; degraded for ${DRIFT_WINDOW_S / 60} min after the last repair`,
      );
    }
    if (hb.ipamProblems.length > 0) {
      add(
        'AgentIpamProblems',
        `the agent's IPAM audit found ${hb.ipamProblems.map((p) => `${p.code} ${p.subject}`).join(', ')}`,
        `podnet ipam check --node ${n.name} on the node names each finding with its repair`,
      );
    }
    if (
      hb.generation < cluster.generation &&
      now - Date.parse(cluster.updatedAt) > GENERATION_GRACE_S * 1000
    ) {
      add(
        'ProfileNotApplied',
        `the agent follows cluster generation ${hb.generation}, the store holds ${cluster.generation}`,
        'the agent takes a new profile through its store watch: restart it and read its log',
      );
    }
  }
  return out;
}

/** The cluster's health as of `now` (ms). Healthy when no node has a problem. */
export function assessStatus(input: StatusInput, now: number): ClusterStatus {
  const { cluster } = input;
  const leaseOf = new Map(input.leases.map((l) => [l.nodeName, l]));
  const hbOf = new Map(input.heartbeats.map((h) => [h.node, h]));
  const names = [
    ...new Set([...input.leases.map((l) => l.nodeName), ...hbOf.keys(), ...(input.expectedNodes ?? [])]),
  ].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const problems: StatusProblem[] = [];
  const nodes = names.map((name): NodeStatus => {
    const lease = leaseOf.get(name);
    const hb = hbOf.get(name);
    const age = hb ? now - Date.parse(hb.heartbeatAt) : null;
    const n: NodeStatus = {
      name,
      ip: lease?.nodeIp ?? hb?.nodeIp ?? null,
      pool: lease?.pool ?? hb?.pool ?? null,
      block: lease?.block ?? null,
      lease: lease
        ? {
            expiresAt: lease.expiresAt,
            expiresInSeconds: lease.expiresAt === null ? null : seconds(Date.parse(lease.expiresAt) - now),
          }
        : null,
      agent: {
        state: !hb ? 'none' : (age ?? 0) > SILENT_AFTER_S * 1000 ? 'silent' : 'ok',
        heartbeatAt: hb?.heartbeatAt ?? null,
        heartbeatAgeSeconds: age === null ? null : Math.max(0, seconds(age)),
        version: hb?.version ?? null,
        pid: hb?.pid ?? null,
        ready: hb?.ready ?? false,
        generation: hb?.generation ?? null,
        lastReconcile: hb?.lastReconcile ?? null,
        reconcileErrors: hb?.reconcileErrors ?? 0,
        drift: hb?.drift ?? {},
        lastDriftAt: hb?.lastDriftAt ?? null,
        ipamProblems: hb?.ipamProblems ?? [],
      },
      pods: hb?.pods ?? null,
      maxPods: hb?.maxPods ?? lease?.maxPods ?? null,
      endpoints: input.endpoints[name] ?? 0,
      healthy: true,
    };
    const found = nodeProblems(n, lease, hb, cluster, now);
    n.healthy = found.length === 0;
    problems.push(...found);
    return n;
  });
  const space = blockSpace(cluster.profile.network.podCidrs, cluster.podCidrHistory);
  const total = Number(space.total);
  const leased = input.leases.length;
  const quarantined = input.quarantined.length;
  return {
    apiVersion: STATUS_API_VERSION,
    kind: 'Status',
    healthy: problems.length === 0,
    checkedAt: new Date(now).toISOString(),
    store: { url: input.storeUrl, cluster: cluster.profile.name, generation: cluster.generation },
    podCidr: {
      cidrs: cluster.profile.network.podCidrs,
      blockPrefix: space.blockPrefix,
      blocks: { total, leased, quarantined, free: Math.max(0, total - leased - quarantined) },
    },
    nodes,
    problems,
  };
}

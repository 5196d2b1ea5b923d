/**
 * The agent's heartbeat as the cluster store holds it: one small key per node,
 *
 *   agents/<node>   {"v":1,"node","nodeIp","pool","block","version","pid","startedAt","heartbeatAt","ready",
 *                    "generation","lastReconcile","reconciles","reconcileErrors","drift","lastDriftAt",
 *                    "ipamProblems","pods","maxPods"}
 *
 * on the node's endpoint lease (30 s TTL, already kept alive every 10 s for its pod endpoints), so a dead
 * agent's key goes with its endpoints and costs no keep-alive of its own. The agent rewrites it only when what
 * it says changed, or every `HEARTBEAT_REFRESH_S` so `heartbeatAt` stays recent (docs/operations.md has the
 * write rate at 5,000 nodes). Pure: encode, decode, and whether a new record is worth a write.
 */
import { parseJson, storeCorrupt } from '../store/records.js';
import type { KeyValue } from '../store/versioned.js';

export const AGENTS_PREFIX = 'agents/';
export const HEARTBEAT_RECORD_VERSION = 1;
/** A record that changed nothing is still rewritten this often, so its `heartbeatAt` tells a live agent. */
export const HEARTBEAT_REFRESH_S = 60;

export const agentKey = (node: string) => `${AGENTS_PREFIX}${node}`;

export interface HeartbeatReconcile {
  at: string;
  result: 'ok' | 'error';
  trigger: string;
  error?: { code: string; message: string; part?: string };
}

export interface AgentHeartbeat {
  node: string;
  nodeIp: string;
  pool: string | null;
  block: string | null;
  version: string;
  pid: number;
  startedAt: string;
  /** When this record was written. */
  heartbeatAt: string;
  ready: boolean;
  /** The cluster record's generation the agent's dataplane follows. */
  generation: number;
  lastReconcile: HeartbeatReconcile | null;
  reconciles: number;
  reconcileErrors: number;
  /** Kernel drift repaired since the agent started, by dataplane part. */
  drift: Record<string, number>;
  lastDriftAt: string | null;
  /** What the agent's IPAM audit found in two audits in a row (podnet ipam check's codes). */
  ipamProblems: { code: string; subject: string }[];
  pods: number;
  maxPods: number;
}

export function encodeHeartbeat(h: AgentHeartbeat): string {
  return JSON.stringify({ v: HEARTBEAT_RECORD_VERSION, ...h });
}

/** Decodes a stored heartbeat; a record of another version or shape is corrupt data, named by its key. */
export function decodeHeartbeat(kv: KeyValue): AgentHeartbeat {
  const where = `key ${kv.key}`;
  const v = parseJson(kv.value, where) as Partial<AgentHeartbeat> & { v?: unknown };
  if (
    !v ||
    typeof v !== 'object' ||
    v.v !== HEARTBEAT_RECORD_VERSION ||
    typeof v.node !== 'string' ||
    kv.key !== agentKey(v.node) ||
    typeof v.heartbeatAt !== 'string' ||
    Number.isNaN(Date.parse(v.heartbeatAt)) ||
    typeof v.generation !== 'number' ||
    typeof v.drift !== 'object' ||
    v.drift === null ||
    !Array.isArray(v.ipamProblems)
  ) {
    throw storeCorrupt(where, `it is not an agent heartbeat record of version ${HEARTBEAT_RECORD_VERSION}`);
  }
  const { v: _version, ...h } = v;
  return h as AgentHeartbeat;
}

/** What a heartbeat says, without the fields that change at every write or resync (times, counters). */
function substance(h: AgentHeartbeat): string {
  return JSON.stringify([
    h.nodeIp,
    h.pool,
    h.block,
    h.version,
    h.pid,
    h.ready,
    h.generation,
    h.lastReconcile?.result ?? null,
    h.lastReconcile?.error?.code ?? null,
    h.lastReconcile?.error?.part ?? null,
    h.drift,
    h.ipamProblems,
    h.pods,
    h.maxPods,
  ]);
}

/** Whether `next` is worth a store write after `last` (written at `lastWrittenMs`): a change, or the refresh. */
export function heartbeatDue(
  last: AgentHeartbeat | null,
  lastWrittenMs: number,
  next: AgentHeartbeat,
  nowMs: number,
  refreshSeconds = HEARTBEAT_REFRESH_S,
): boolean {
  return (
    last === null || substance(last) !== substance(next) || nowMs - lastWrittenMs >= refreshSeconds * 1000
  );
}

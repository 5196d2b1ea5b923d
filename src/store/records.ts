/**
 * What the store backends keep, and the rules every backend applies the same way: the life of a block row
 * (live, then quarantined, then free), decoding with clear errors for corrupt or foreign data.
 */
import { parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { type BlockSpace, blockSpaces, spaceOf } from '../ipam/blocks.js';
import type { ClusterProfile } from '../profile/types.js';
import type { BlockLease, ClaimRequest, ClusterRecord, QuarantinedBlock } from './types.js';

/**
 * Version of the cluster record's layout (`schemaVersion` in it, unchanged since the first release); a record
 * of another version is refused, never rewritten. The sqlite file's own layout has its own version.
 */
export const SCHEMA_VERSION = 1;

/** How long a freed block waits before another node may claim it (stale routes to it must age out first). */
export const DEFAULT_QUARANTINE_SECONDS = 600;

export interface StoreOptions {
  quarantineSeconds?: number;
  /** sqlite: create the file (and its folder) when missing. Default true; read-only commands pass false. */
  create?: boolean;
}

/**
 * A block row as stored: a live lease until `expiresAt`, then in quarantine until `quarantineUntil`, then
 * free (the row may linger until a sweep or a claim removes it). Times are epoch milliseconds; a reservation
 * (ttl 0) has both null and never expires.
 */
export interface StoredBlock {
  block: string;
  nodeName: string;
  nodeIp: string;
  pool: string;
  maxPods: number;
  claimedAt: number;
  renewedAt: number;
  expiresAt: number | null;
  quarantineUntil: number | null;
}

export type BlockState = 'live' | 'quarantined' | 'free';

export function blockState(row: StoredBlock, now: number): BlockState {
  if (row.expiresAt === null || now < row.expiresAt) return 'live';
  if (row.quarantineUntil !== null && now < row.quarantineUntil) return 'quarantined';
  return 'free';
}

export function toLease(row: StoredBlock): BlockLease {
  return {
    block: row.block,
    family: row.block.includes(':') ? 6 : 4,
    nodeName: row.nodeName,
    nodeIp: row.nodeIp,
    pool: row.pool,
    maxPods: row.maxPods,
    claimedAt: new Date(row.claimedAt).toISOString(),
    renewedAt: new Date(row.renewedAt).toISOString(),
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
  };
}

export function toQuarantined(row: StoredBlock): QuarantinedBlock {
  return {
    block: row.block,
    nodeName: row.nodeName,
    until: new Date(row.quarantineUntil ?? 0).toISOString(),
  };
}

/** The row a claim or renewal writes: lease for `ttlSeconds` (0 = reservation), then the quarantine. */
export function leaseRow(
  block: string,
  req: ClaimRequest,
  now: number,
  quarantineSeconds: number,
  claimedAt = now,
): StoredBlock {
  const expiresAt = req.ttlSeconds > 0 ? now + req.ttlSeconds * 1000 : null;
  return {
    block,
    nodeName: req.nodeName,
    nodeIp: block.includes(':') && req.nodeIp6 ? req.nodeIp6 : req.nodeIp,
    pool: req.pool,
    maxPods: req.maxPods,
    claimedAt,
    renewedAt: now,
    expiresAt,
    quarantineUntil: expiresAt === null ? null : expiresAt + quarantineSeconds * 1000,
  };
}

/** The row after a release: expired now, quarantined from now on. */
export function releasedRow(row: StoredBlock, now: number, quarantineSeconds: number): StoredBlock {
  return { ...row, expiresAt: now, quarantineUntil: now + quarantineSeconds * 1000 };
}

export function validateClaim(req: ClaimRequest): void {
  const bad = (field: string, what: string) =>
    new PodnetError('InvalidClaim', `block claim: ${field} ${what}`, {
      field,
      hint: 'the agent passes its node name, node IP, pool, max pods and a lease TTL in seconds',
    });
  if (typeof req.nodeName !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(req.nodeName)) {
    throw bad('nodeName', `"${String(req.nodeName)}" is not a DNS-1123 node name`);
  }
  if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 0)
    throw bad('ttlSeconds', 'must be a whole number >= 0');
  if (!Number.isInteger(req.maxPods) || req.maxPods < 1) throw bad('maxPods', 'must be a whole number >= 1');
  if (req.nodeIp6 !== undefined && !isIpv6(req.nodeIp6))
    throw bad('nodeIp6', `"${req.nodeIp6}" is not an IPv6 address`);
}

/** A dual-stack claim names the node's IPv6 address: the IPv6 block is routed to it. */
export function requireNodeIp6(req: ClaimRequest): void {
  if (req.nodeIp6 === undefined) {
    throw new PodnetError('InvalidClaim', 'block claim: nodeIp6 is missing, and the cluster is dual-stack', {
      field: 'nodeIp6',
      hint: "start the agent with --node-ip6 (the node's IPv6 VNet address), where peers route its IPv6 block",
    });
  }
}

function isIpv6(text: string): boolean {
  try {
    return parseIp(text).family === 6;
  } catch {
    return false;
  }
}

export function storeCorrupt(where: string, why: string, cause?: unknown): PodnetError {
  return new PodnetError('StoreCorrupt', `store data at ${where} is corrupt: ${why}`, {
    field: where,
    hint: 'the store holds data podnet did not write; inspect it, fix or delete that entry by hand, or restore a backup',
    cause,
  });
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw storeCorrupt(where, 'it is not valid JSON', e);
  }
}

/**
 * Decodes a stored block row and checks it belongs to one of the cluster's pod CIDRs: a lease outside them
 * means the data is foreign or was edited, and silently handing out around it could duplicate a block.
 */
export function decodeBlock(value: unknown, where: string, spaces: BlockSpace[] | null): StoredBlock {
  const v = value as Partial<StoredBlock> | null;
  const isTime = (t: unknown) => t === null || (typeof t === 'number' && Number.isFinite(t));
  if (
    !v ||
    typeof v !== 'object' ||
    typeof v.block !== 'string' ||
    typeof v.nodeName !== 'string' ||
    typeof v.nodeIp !== 'string' ||
    typeof v.pool !== 'string' ||
    typeof v.maxPods !== 'number' ||
    typeof v.claimedAt !== 'number' ||
    typeof v.renewedAt !== 'number' ||
    !isTime(v.expiresAt) ||
    !isTime(v.quarantineUntil)
  ) {
    throw storeCorrupt(
      where,
      'it is not a block lease record (block, nodeName, nodeIp, pool, maxPods, times)',
    );
  }
  if (spaces && !spaceOf(spaces, v.block)) {
    const sizes = spaces.map((s) => `/${s.blockPrefix}`).join(' or ');
    throw storeCorrupt(where, `block ${v.block} is not a ${sizes} block of the pod CIDRs`);
  }
  return v as StoredBlock;
}

/** The cluster record as stored, with the layout version. */
export interface StoredCluster extends ClusterRecord {
  schemaVersion: number;
}

export function decodeCluster(value: unknown, where: string): ClusterRecord {
  const v = value as Partial<StoredCluster> | null;
  if (!v || typeof v !== 'object') throw storeCorrupt(where, 'it is not a cluster record');
  if (v.schemaVersion !== SCHEMA_VERSION) {
    throw new PodnetError(
      'StoreSchemaMismatch',
      `store data at ${where} has schema version ${JSON.stringify(v.schemaVersion)}, this podnet reads version ${SCHEMA_VERSION}`,
      {
        field: where,
        hint: 'use the podnet version that wrote this store, or point --store at a store for this version',
        details: { found: v.schemaVersion ?? null, expected: SCHEMA_VERSION },
      },
    );
  }
  if (
    !v.profile ||
    typeof v.profile !== 'object' ||
    !Array.isArray(v.profile.network?.podCidrs) ||
    typeof v.generation !== 'number' ||
    !Array.isArray(v.podCidrHistory)
  ) {
    throw storeCorrupt(where, 'it is not a cluster record (profile, generation, podCidrHistory)');
  }
  const record: ClusterRecord = {
    profile: v.profile,
    generation: v.generation,
    podCidrHistory: v.podCidrHistory,
    updatedAt: String(v.updatedAt),
  };
  try {
    blockSpaces(record.profile.network.podCidrs, record.podCidrHistory);
  } catch (e) {
    throw storeCorrupt(where, e instanceof Error ? e.message : String(e), e);
  }
  return record;
}

export function encodeCluster(record: ClusterRecord): string {
  const stored: StoredCluster = { schemaVersion: SCHEMA_VERSION, ...record };
  return JSON.stringify(stored);
}

/** One block space per pod CIDR (family), in the profile's order. */
export function clusterSpaces(record: ClusterRecord): BlockSpace[] {
  return blockSpaces(record.profile.network.podCidrs, record.podCidrHistory);
}

const familiesOf = (cidrs: readonly string[]) => cidrs.map((c) => (c.includes(':') ? 6 : 4)).join(',');

/**
 * The next cluster record for a write guarded by `expectedGeneration` (0 = create). Growth is recorded in
 * the history when the pod CIDRs change; whether a change is allowed is the planning rules' job (checkPlan),
 * but the store itself refuses a pod CIDR that does not contain the old one, since leases would fall outside.
 */
export function nextCluster(
  current: ClusterRecord | null,
  profile: ClusterProfile,
  expectedGeneration: number,
  now: number,
): ClusterRecord {
  const have = current?.generation ?? 0;
  if (have !== expectedGeneration) {
    throw new PodnetError(
      current ? 'ClusterConflict' : 'ClusterNotFound',
      current
        ? `the cluster record is at generation ${have}, not ${expectedGeneration}: someone else changed it`
        : 'no cluster record exists yet',
      {
        field: 'cluster.generation',
        hint: current
          ? 'read it again (podnet cluster show) and re-apply your change'
          : 'create it with `podnet cluster create -f profile.yaml`',
        details: { generation: have, expected: expectedGeneration },
      },
    );
  }
  const oldCidrs = current?.profile.network.podCidrs ?? [];
  if (current && familiesOf(oldCidrs) !== familiesOf(profile.network.podCidrs)) {
    // Every node leases one block per family: a family added or dropped would leave nodes half-leased.
    throw new PodnetError(
      'PodCidrFamiliesChanged',
      `the pod CIDRs cannot change family after creation (now ${oldCidrs.join(', ')}, asked ${profile.network.podCidrs.join(', ')})`,
      {
        field: 'network.podCidrs',
        hint: 'keep one pod CIDR per family as created; for another set of families create a new cluster',
      },
    );
  }
  const changed = current !== null && JSON.stringify(oldCidrs) !== JSON.stringify(profile.network.podCidrs);
  const history = changed ? [...(current?.podCidrHistory ?? []), oldCidrs] : (current?.podCidrHistory ?? []);
  try {
    blockSpaces(profile.network.podCidrs, history);
  } catch (e) {
    if (e instanceof PodnetError && e.code === 'StoreCorrupt') {
      throw new PodnetError(
        'PodCidrNotGrowth',
        `${e.message}; a pod CIDR may only grow to a range that contains the old one`,
        {
          field: 'network.podCidrs',
          hint: 'keep the pod CIDR, or grow it to a larger prefix containing it (e.g. /16 -> /15 with the same start)',
        },
      );
    }
    throw e;
  }
  return { profile, generation: have + 1, podCidrHistory: history, updatedAt: new Date(now).toISOString() };
}

/** Orders blocks by address, not by text ("10.0.10.0/24" after "10.0.9.0/24"). */
export function byBlockAddress<T extends { block: string }>(items: T[]): T[] {
  const key = new Map(items.map((i) => [i.block, parseCidr(i.block).network]));
  return items.sort((a, b) => {
    const [x, y] = [key.get(a.block) ?? 0n, key.get(b.block) ?? 0n];
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** No cluster record in the store (or no store file): what to do next. */
export function clusterNotFound(url: string): PodnetError {
  return new PodnetError('ClusterNotFound', `no cluster profile in the store ${url}`, {
    field: '--store',
    hint: 'write one with `podnet cluster create -f profile.yaml --store URL`, or point --store at the right store',
  });
}

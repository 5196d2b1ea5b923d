/**
 * Which block a node gets: pure decisions over plain data, shared by every store backend.
 *
 * The block space is the pod CIDR and its growth history: blocks of the first pod CIDR come first, then the
 * ranges each growth added, so a grown cluster fills its old range before it hands out addresses that lagging
 * nodes may still masquerade. Blocks are named by absolute CIDR text, never by an index relative to the pod
 * CIDR, so growth never renumbers a lease. Positions are only a scan order (a round-robin cursor).
 */
import {
  BITS,
  BLOCK_PREFIX,
  type Cidr,
  blockAt,
  blockCount,
  cidrOf,
  containsCidr,
  formatCidr,
  numberToIpv4,
  parseCidr,
} from '../addr/index.js';
import { PodnetError } from '../errors/index.js';

export interface BlockSpace {
  /** The current pod CIDR blocks come from (one of the profile's pod CIDRs: one space per family). */
  podCidr: Cidr;
  /** Which of the profile's pod CIDRs (`network.podCidrs[index]`), for messages. */
  index: number;
  /** Ranges in hand-out order: the oldest pod CIDR, then what each growth added. */
  ranges: Cidr[];
  /** Position of the first block of each range. */
  starts: bigint[];
  /** Number of blocks in the whole space. */
  total: bigint;
  blockPrefix: number;
}

/** The ranges `outer` adds to `inner` (outer contains inner), lowest first. */
export function growthRanges(outer: Cidr, inner: Cidr): Cidr[] {
  const bits = BITS[inner.family];
  const added: Cidr[] = [];
  for (let p = inner.prefix; p > outer.prefix; p--) {
    const half = cidrOf(inner.family, inner.network, p);
    added.push({ family: inner.family, network: half.network ^ (1n << BigInt(bits - p)), prefix: p });
  }
  return added.sort((a, b) => (a.network < b.network ? -1 : 1));
}

/**
 * Builds the block space of one pod CIDR (`index`: which of `podCidrs`, one a family) from the current pod
 * CIDRs and the earlier generations (oldest first); each generation's CIDR of the same family is its past.
 * Each generation must contain the one before it: the planning rules only let a pod CIDR grow.
 */
export function blockSpace(
  podCidrs: readonly string[],
  history: readonly (readonly string[])[] = [],
  index = 0,
): BlockSpace {
  if (podCidrs.length === 0) {
    throw new PodnetError('StoreCorrupt', 'the cluster record has no pod CIDR', {
      field: 'cluster.profile.network.podCidrs',
      hint: 'write a valid profile with `podnet cluster update -f profile.yaml`',
    });
  }
  const podCidr = parseCidr(podCidrs[index], `network.podCidrs[${index}]`);
  const generations = [
    ...history
      .map((g, i) => g.map((c) => parseCidr(c, `cluster.podCidrHistory[${i}]`)))
      .map((g) => g.find((c) => c.family === podCidr.family))
      .filter((c) => c !== undefined),
    podCidr,
  ];
  let ranges: Cidr[] = [generations[0]];
  for (let i = 1; i < generations.length; i++) {
    const [prev, next] = [generations[i - 1], generations[i]];
    if (!containsCidr(next, prev)) {
      throw new PodnetError(
        'StoreCorrupt',
        `pod CIDR history is not a chain of growths: ${formatCidr(next)} does not contain ${formatCidr(prev)}`,
        {
          field: 'cluster.podCidrHistory',
          hint: 'the store was edited by hand; restore the cluster record from a backup',
        },
      );
    }
    ranges = [...ranges, ...growthRanges(next, prev)];
  }
  const blockPrefix = BLOCK_PREFIX[podCidr.family];
  const starts: bigint[] = [];
  let total = 0n;
  for (const r of ranges) {
    starts.push(total);
    total += blockCount(r, blockPrefix);
  }
  return { podCidr, index, ranges, starts, total, blockPrefix };
}

/**
 * One block space per pod CIDR, in the profile's family order: a dual-stack node leases one block of each.
 * Two pod CIDRs of one family are `StoreCorrupt` (the planning rules allow one per family).
 */
export function blockSpaces(
  podCidrs: readonly string[],
  history: readonly (readonly string[])[] = [],
): BlockSpace[] {
  const spaces = (podCidrs.length === 0 ? [''] : podCidrs).map((_, i) => blockSpace(podCidrs, history, i));
  if (new Set(spaces.map((s) => s.podCidr.family)).size !== spaces.length) {
    throw new PodnetError('StoreCorrupt', `the pod CIDRs ${podCidrs.join(', ')} give one family twice`, {
      field: 'cluster.profile.network.podCidrs',
      hint: 'a cluster has one pod CIDR per IP family; write a valid profile with `podnet cluster update -f profile.yaml`',
    });
  }
  return spaces;
}

/** The space a block belongs to (aligned, of block size, inside its family's pod CIDR); undefined if none. */
export function spaceOf(spaces: readonly BlockSpace[], block: string): BlockSpace | undefined {
  return spaces.find((s) => isBlockOf(s, block));
}

/** The block at a scan position. */
export function blockAtPosition(space: BlockSpace, position: bigint): string {
  let i = space.ranges.length - 1;
  while (i > 0 && space.starts[i] > position) i--;
  const range = space.ranges[i];
  if (range.family === 4) {
    // Hot path of every claim's scan: plain number arithmetic instead of bigint formatting.
    return `${numberToIpv4(Number(range.network) + Number(position - space.starts[i]) * 256)}/24`;
  }
  return formatCidr(blockAt(range, position - space.starts[i], space.blockPrefix));
}

/** True when `block` is one of the space's blocks (aligned, of block size, inside the current pod CIDR). */
export function isBlockOf(space: BlockSpace, block: string): boolean {
  try {
    const c = parseCidr(block);
    return c.prefix === space.blockPrefix && containsCidr(space.podCidr, c);
  } catch {
    return false;
  }
}

export interface FreeBlock {
  block: string;
  position: bigint;
}

/**
 * Scans from `from` (wrapping round once) and returns up to `limit` blocks for which `isTaken` is false.
 * Starting after the last claimed position makes the policy round-robin, so a freed block is the last to be
 * handed out again.
 */
export function findFreeBlocks(
  space: BlockSpace,
  from: bigint,
  isTaken: (block: string) => boolean,
  limit = 1,
): FreeBlock[] {
  const found: FreeBlock[] = [];
  if (space.total === 0n) return found;
  const start = ((from % space.total) + space.total) % space.total;
  for (let n = 0n; n < space.total && found.length < limit; n++) {
    const position = (start + n) % space.total;
    const block = blockAtPosition(space, position);
    if (!isTaken(block)) found.push({ block, position });
  }
  return found;
}

/** The error for a pod CIDR without a free block: how many blocks exist, and how to get more. */
export function podCidrExhausted(space: BlockSpace, leased: number, quarantined: number): PodnetError {
  const cidr = formatCidr(space.podCidr);
  const bigger =
    space.podCidr.prefix > 0
      ? formatCidr(cidrOf(space.podCidr.family, space.podCidr.network, space.podCidr.prefix - 1))
      : null;
  const total = Number(space.total);
  return new PodnetError(
    'PodCidrExhausted',
    `pod CIDR ${cidr} has no free /${space.blockPrefix} block: all ${total} blocks are taken (${leased} leased, ${quarantined} in quarantine after release)`,
    {
      field: `network.podCidrs[${space.index}]`,
      hint: `${bigger ? `grow the pod CIDR to a range that contains it, e.g. ${bigger} (${total * 2} blocks), with \`podnet cluster update -f profile.yaml\`` : 'use a larger pod CIDR'}; or release the blocks of nodes that are gone with \`podnet ipam release --node NAME\``,
      details: { podCidr: cidr, blocks: total, leased, quarantined },
    },
  );
}

export interface BlockHolder {
  block: string;
  nodeName: string;
}

/** What the policy needs to know about the blocks already handed out; each store answers from its own data. */
export interface BlockTable {
  /** The node's block: `live` when its lease is live, `quarantined` when freed and waiting; undefined if none. */
  blockOf(nodeName: string): { block: string; state: 'live' | 'quarantined' } | undefined;
  /** True when the block is leased or in quarantine. */
  isTaken(block: string): boolean;
  /** Counts for the exhaustion message. */
  counts(): { leased: number; quarantined: number };
}

export interface ChooseOptions {
  /** Scan position to start from (the round-robin cursor); 0 = lowest block first. */
  cursor?: bigint;
  /** Pick at random among this many free candidates, so nodes joining at once collide less (flannel). */
  spread?: number;
  random?: () => number;
}

export interface BlockChoice {
  block: string;
  /** Scan position of a newly chosen block (the next cursor); null when the node keeps its own block. */
  position: bigint | null;
  /** `held`: the node's live lease; `reclaimed`: its own block back from quarantine; `new`: a free block. */
  kind: 'held' | 'reclaimed' | 'new';
}

/**
 * The block policy. A node that holds a lease keeps it (a restart never renumbers its pods); a node whose
 * block is in quarantine gets that block back (its routes are its own); otherwise the next free block after
 * the cursor, skipping leased and quarantined ones; `PodCidrExhausted` when there is none.
 */
export function chooseBlockIn(
  space: BlockSpace,
  table: BlockTable,
  nodeName: string,
  opts: ChooseOptions = {},
): BlockChoice {
  const own = table.blockOf(nodeName);
  if (own) return { block: own.block, position: null, kind: own.state === 'live' ? 'held' : 'reclaimed' };
  // Uniform among the first `spread` free blocks, scanning only up to the chosen one; when fewer are free
  // the whole space was scanned and the choice is uniform among those found.
  const r = (opts.random ?? Math.random)();
  const want = Math.floor(r * (opts.spread ?? 1)) + 1;
  const free = findFreeBlocks(space, opts.cursor ?? 0n, (b) => table.isTaken(b), want);
  if (free.length === 0) {
    const { leased, quarantined } = table.counts();
    throw podCidrExhausted(space, leased, quarantined);
  }
  const pick = free.length === want ? free[want - 1] : free[Math.floor(r * free.length)];
  return { block: pick.block, position: pick.position, kind: 'new' };
}

export interface ChooseBlockInput extends ChooseOptions {
  podCidrs: readonly string[];
  history?: readonly (readonly string[])[];
  /** Live leases. */
  leases: readonly BlockHolder[];
  /** Blocks freed (released or expired) that are still waiting out their quarantine, with their last node. */
  quarantined: readonly BlockHolder[];
  nodeName: string;
}

/** The block policy over plain lists (see chooseBlockIn). */
export function chooseBlock(input: ChooseBlockInput): BlockChoice {
  const state = new Map<string, { block: string; state: 'live' | 'quarantined' }>();
  for (const q of input.quarantined) state.set(q.nodeName, { block: q.block, state: 'quarantined' });
  for (const l of input.leases) state.set(l.nodeName, { block: l.block, state: 'live' });
  const taken = new Set([...input.leases, ...input.quarantined].map((l) => l.block));
  const table: BlockTable = {
    blockOf: (n) => state.get(n),
    isTaken: (b) => taken.has(b),
    counts: () => ({ leased: input.leases.length, quarantined: input.quarantined.length }),
  };
  return chooseBlockIn(blockSpace(input.podCidrs, input.history), table, input.nodeName, input);
}

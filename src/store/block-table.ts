/**
 * The claim, renew and release steps over a table of block rows that can be read and written synchronously
 * inside one transaction (the in-memory store and SQLite's BEGIN IMMEDIATE). etcd has no such transaction
 * and runs the same policy (chooseBlockIn) with compare-and-swap instead, in etcd.ts.
 */
import { PodnetError } from '../errors/index.js';
import { type BlockSpace, chooseBlockIn, isBlockOf } from '../ipam/blocks.js';
import { type StoredBlock, blockState, leaseRow, releasedRow } from './records.js';
import type { ClaimRequest } from './types.js';

export interface BlockRows {
  byNode(nodeName: string): StoredBlock | undefined;
  byBlock(block: string): StoredBlock | undefined;
  counts(now: number): { leased: number; quarantined: number };
  /** Writes the row, replacing any row for the same block. */
  put(row: StoredBlock): void;
  remove(block: string): void;
  /** The round-robin cursor: the scan position after the last block handed out. */
  getCursor(): bigint;
  setCursor(position: bigint): void;
}

export function claimIn(
  rows: BlockRows,
  space: BlockSpace,
  req: ClaimRequest,
  now: number,
  quarantineSeconds: number,
): StoredBlock {
  let own = rows.byNode(req.nodeName);
  if (own && blockState(own, now) === 'free') {
    rows.remove(own.block);
    own = undefined;
  }
  if (own && !isBlockOf(space, own.block)) {
    throw new PodnetError(
      'StoreCorrupt',
      `node ${req.nodeName} holds ${own.block}, which is not a block of the pod CIDR`,
      {
        field: `blocks/${own.block}`,
        hint: 'the store was edited or belongs to another cluster; release that block by hand (podnet ipam release)',
      },
    );
  }
  const ownState = own ? blockState(own, now) : undefined;
  const choice = chooseBlockIn(
    space,
    {
      blockOf: () =>
        own && ownState !== 'free'
          ? { block: own.block, state: ownState === 'live' ? 'live' : 'quarantined' }
          : undefined,
      isTaken: (b) => {
        const row = rows.byBlock(b);
        return row !== undefined && blockState(row, now) !== 'free';
      },
      counts: () => rows.counts(now),
    },
    req.nodeName,
    { cursor: rows.getCursor() },
  );
  const row = leaseRow(
    choice.block,
    req,
    now,
    quarantineSeconds,
    choice.kind === 'held' && own ? own.claimedAt : now,
  );
  rows.put(row);
  if (choice.position !== null) rows.setCursor(choice.position + 1n);
  return row;
}

export function renewIn(
  rows: BlockRows,
  nodeName: string,
  ttlSeconds: number,
  now: number,
  quarantineSeconds: number,
): StoredBlock {
  const own = rows.byNode(nodeName);
  if (!own || blockState(own, now) !== 'live') throw leaseNotFound(nodeName);
  const row = leaseRow(own.block, { ...own, ttlSeconds }, now, quarantineSeconds, own.claimedAt);
  rows.put(row);
  return row;
}

export function releaseIn(rows: BlockRows, nodeName: string, now: number, quarantineSeconds: number): void {
  const own = rows.byNode(nodeName);
  if (own && blockState(own, now) === 'live') rows.put(releasedRow(own, now, quarantineSeconds));
}

export function leaseNotFound(nodeName: string): PodnetError {
  return new PodnetError(
    'LeaseNotFound',
    `node ${nodeName} holds no live block lease (it expired or was released)`,
    {
      field: 'nodeName',
      hint: 'claim the block again (the agent does this on its own); the node gets its old block back while it is in quarantine',
    },
  );
}

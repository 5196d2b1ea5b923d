/**
 * Migration of a sqlite store of the first release (schema version 1: the cluster record in `meta`, block
 * leases in a `blocks` table) to the versioned layout, at open, in the opening transaction. The records keep
 * their content and take the keys the etcd store has always used (`cluster`, `blocks/<a.b.c.0-24>`,
 * `nodes/<name>`); a row lives on a store lease that ends with its quarantine, a reservation on none, and a
 * row already free is dropped. The round-robin cursor is not carried over: it only orders free blocks.
 */
import type Database from 'better-sqlite3';
import { blockKey, nodeKey } from '../ipam/leases.js';
import { type StoredBlock, decodeBlock, decodeCluster, parseJson, storeCorrupt } from './records.js';

interface BlockRowV1 {
  block: string;
  node_name: string;
  node_ip: string;
  pool: string;
  max_pods: number;
  claimed_at: number;
  renewed_at: number;
  expires_at: number | null;
  quarantine_until: number | null;
}

export function migrateSqliteV1(
  db: Database.Database,
  fromVersion: number,
  put: (key: string, value: string, until: number | null) => void,
): void {
  if (fromVersion !== 1)
    throw storeCorrupt('meta.schema_version', `no migration from version ${fromVersion}`);
  const cluster = db.prepare("SELECT value FROM meta WHERE key = 'cluster'").pluck().get() as
    | string
    | undefined;
  if (cluster !== undefined) {
    decodeCluster(parseJson(cluster, 'meta row "cluster"'), 'meta row "cluster"'); // refuse what would misread
    put('cluster', cluster, null);
  }
  const now = Date.now();
  for (const r of db.prepare('SELECT * FROM blocks ORDER BY block').all() as BlockRowV1[]) {
    const where = `blocks row "${r.block}"`;
    const row: StoredBlock = decodeBlock(
      {
        block: r.block,
        nodeName: r.node_name,
        nodeIp: r.node_ip,
        pool: r.pool,
        maxPods: r.max_pods,
        claimedAt: r.claimed_at,
        renewedAt: r.renewed_at,
        expiresAt: r.expires_at,
        quarantineUntil: r.quarantine_until,
      },
      where,
      null,
    );
    if (row.quarantineUntil !== null && row.quarantineUntil <= now) continue;
    put(blockKey(row.block), JSON.stringify(row), row.quarantineUntil);
    put(nodeKey(row.nodeName), JSON.stringify({ block: row.block }), row.quarantineUntil);
  }
  db.exec("DROP TABLE blocks; DELETE FROM meta WHERE key IN ('cluster', 'block_cursor')");
}

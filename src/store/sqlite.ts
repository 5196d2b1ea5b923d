/**
 * The embedded cluster store: one SQLite file (better-sqlite3), WAL, every mutation in BEGIN IMMEDIATE, so
 * several processes on one host (agents, the CLI) share it safely; the busy timeout queues writers.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import type { BlockSpace } from '../ipam/blocks.js';
import type { ClusterProfile } from '../profile/types.js';
import { type BlockRows, claimIn, releaseIn, renewIn } from './block-table.js';
import {
  DEFAULT_QUARANTINE_SECONDS,
  SCHEMA_VERSION,
  type StoreOptions,
  type StoredBlock,
  blockState,
  byBlockAddress,
  clusterNotFound,
  clusterSpace,
  decodeBlock,
  decodeCluster,
  encodeCluster,
  nextCluster,
  parseJson,
  toLease,
  toQuarantined,
  validateClaim,
} from './records.js';
import type { BlockLease, ClaimRequest, ClusterRecord, ClusterStore, QuarantinedBlock } from './types.js';
import { nextExpiry, pollWatch } from './watch.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
  block TEXT PRIMARY KEY,
  node_name TEXT NOT NULL UNIQUE,
  node_ip TEXT NOT NULL,
  pool TEXT NOT NULL,
  max_pods INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL,
  renewed_at INTEGER NOT NULL,
  expires_at INTEGER,
  quarantine_until INTEGER
);`;

interface BlockRow {
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

/** Opens a SQLite file with WAL and a busy timeout; retries the few moments a first open may find it locked. */
export function openSqliteFile(path: string, what: string): Database.Database {
  try {
    // Only root (the agents, the operator) may read or change the store: folders it creates are 0700, the
    // file 0600 (SQLite gives its -wal and -shm files the file's mode).
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600); // a file an older podnet left readable is closed too
  } catch {
    // the open below reports the unusable path
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 15_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return db;
    } catch (e) {
      db?.close();
      lastError = e;
      if ((e as { code?: string }).code === 'SQLITE_NOTADB') {
        throw new PodnetError(
          'StoreCorrupt',
          `the file ${path} is not a podnet ${what}: ${(e as Error).message}`,
          {
            field: '--store',
            hint: 'point --store at a podnet store file, or a new path to create one',
            cause: e,
          },
        );
      }
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') break;
    }
  }
  throw new PodnetError(
    'StoreUnreachable',
    `cannot open the ${what} ${path}: ${(lastError as Error)?.message}`,
    {
      field: '--store',
      hint: 'check that the directory exists and is writable by this user',
      retryable: true,
      cause: lastError,
    },
  );
}

/**
 * Runs `fn` in BEGIN IMMEDIATE. Writers queue on the busy timeout; one that waited it out gets a retryable
 * error instead of a raw SQLite one.
 */
export function immediate<T>(db: Database.Database, what: string, fn: () => T): T {
  try {
    return db.transaction(fn).immediate();
  } catch (e) {
    if (
      (e as { code?: string }).code === 'SQLITE_BUSY' ||
      (e as { code?: string }).code === 'SQLITE_LOCKED'
    ) {
      throw new PodnetError('StoreBusy', `${what} is locked by other writers: ${(e as Error).message}`, {
        hint: 'many processes write at once; retry in a moment',
        retryable: true,
        cause: e,
      });
    }
    throw e;
  }
}

function prepare(db: Database.Database) {
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    putMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    byNode: db.prepare('SELECT * FROM blocks WHERE node_name = ?'),
    byBlock: db.prepare('SELECT * FROM blocks WHERE block = ?'),
    all: db.prepare('SELECT * FROM blocks'),
    put: db.prepare(
      `INSERT OR REPLACE INTO blocks (block, node_name, node_ip, pool, max_pods, claimed_at, renewed_at, expires_at, quarantine_until)
       VALUES (@block, @nodeName, @nodeIp, @pool, @maxPods, @claimedAt, @renewedAt, @expiresAt, @quarantineUntil)`,
    ),
    remove: db.prepare('DELETE FROM blocks WHERE block = ?'),
  };
}

export class SqliteStore implements ClusterStore {
  readonly url: string;
  private readonly db: Database.Database;
  private readonly quarantineSeconds: number;
  private localWrites = 0;
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(path: string, opts: StoreOptions = {}) {
    this.url = `sqlite:${path}`;
    this.quarantineSeconds = opts.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS;
    this.db = openSqliteFile(path, 'cluster store');
    try {
      this.db
        .transaction(() => {
          this.db.exec(SCHEMA);
          this.db
            .prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)')
            .run('schema_version', String(SCHEMA_VERSION));
        })
        .immediate();
      const version = (
        this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }
      ).value;
      if (version !== String(SCHEMA_VERSION)) {
        throw new PodnetError(
          'StoreSchemaMismatch',
          `the store ${path} has schema version ${version} (row meta.schema_version), this podnet reads version ${SCHEMA_VERSION}`,
          {
            field: 'meta.schema_version',
            hint: 'use the podnet version that wrote this store, or point --store at a store for this version',
            details: { found: version, expected: SCHEMA_VERSION },
          },
        );
      }
      this.stmt = prepare(this.db);
    } catch (e) {
      this.db.close();
      if (e instanceof PodnetError) throw e;
      throw new PodnetError(
        'StoreCorrupt',
        `the file ${path} is not a podnet store: ${(e as Error).message}`,
        {
          field: '--store',
          hint: 'point --store at a podnet store file, or a new path to create one',
          cause: e,
        },
      );
    }
  }

  private decode(row: BlockRow | undefined, space: BlockSpace | null): StoredBlock | undefined {
    if (!row) return undefined;
    return decodeBlock(
      {
        block: row.block,
        nodeName: row.node_name,
        nodeIp: row.node_ip,
        pool: row.pool,
        maxPods: row.max_pods,
        claimedAt: row.claimed_at,
        renewedAt: row.renewed_at,
        expiresAt: row.expires_at,
        quarantineUntil: row.quarantine_until,
      },
      `blocks row "${row.block}"`,
      space,
    );
  }

  private readCluster(): ClusterRecord | null {
    const text = this.stmt.getMeta.get('cluster') as string | undefined;
    return text === undefined
      ? null
      : decodeCluster(parseJson(text, 'meta row "cluster"'), 'meta row "cluster"');
  }

  private allRows(space: BlockSpace | null): StoredBlock[] {
    return (this.stmt.all.all() as BlockRow[]).map((r) => this.decode(r, space) as StoredBlock);
  }

  private rows(space: BlockSpace): BlockRows {
    return {
      byNode: (n) => this.decode(this.stmt.byNode.get(n) as BlockRow | undefined, space),
      byBlock: (b) => this.decode(this.stmt.byBlock.get(b) as BlockRow | undefined, space),
      counts: (now) => {
        const states = this.allRows(space).map((r) => blockState(r, now));
        return {
          leased: states.filter((s) => s === 'live').length,
          quarantined: states.filter((s) => s === 'quarantined').length,
        };
      },
      put: (row) => {
        this.stmt.put.run(row);
      },
      remove: (b) => {
        this.stmt.remove.run(b);
      },
      getCursor: () => BigInt((this.stmt.getMeta.get('block_cursor') as string | undefined) ?? '0'),
      setCursor: (p) => {
        this.stmt.putMeta.run('block_cursor', String(p));
      },
    };
  }

  /** Runs `fn` in BEGIN IMMEDIATE; the cluster record must exist. */
  private write<T>(fn: (record: ClusterRecord, rows: BlockRows) => T): T {
    const result = immediate(this.db, this.url, () => {
      const record = this.readCluster();
      if (!record) throw clusterNotFound(this.url);
      return fn(record, this.rows(clusterSpace(record)));
    });
    this.localWrites++;
    return result;
  }

  async getCluster(): Promise<ClusterRecord | null> {
    return this.readCluster();
  }

  async putCluster(profile: ClusterProfile, expectedGeneration: number): Promise<ClusterRecord> {
    const record = immediate(this.db, this.url, () => {
      const next = nextCluster(this.readCluster(), profile, expectedGeneration, Date.now());
      this.stmt.putMeta.run('cluster', encodeCluster(next));
      return next;
    });
    this.localWrites++;
    return record;
  }

  async claimBlock(req: ClaimRequest): Promise<BlockLease> {
    validateClaim(req);
    return toLease(
      this.write((record, rows) =>
        claimIn(rows, clusterSpace(record), req, Date.now(), this.quarantineSeconds),
      ),
    );
  }

  async renewBlock(nodeName: string, ttlSeconds: number): Promise<BlockLease> {
    return toLease(
      this.write((_, rows) => renewIn(rows, nodeName, ttlSeconds, Date.now(), this.quarantineSeconds)),
    );
  }

  async releaseBlock(nodeName: string): Promise<void> {
    this.write((_, rows) => releaseIn(rows, nodeName, Date.now(), this.quarantineSeconds));
  }

  private snapshot(): StoredBlock[] {
    const record = this.readCluster();
    return this.allRows(record ? clusterSpace(record) : null);
  }

  async listBlocks(): Promise<BlockLease[]> {
    const now = Date.now();
    return byBlockAddress(
      this.snapshot()
        .filter((r) => blockState(r, now) === 'live')
        .map(toLease),
    );
  }

  async listQuarantined(): Promise<QuarantinedBlock[]> {
    const now = Date.now();
    return byBlockAddress(
      this.snapshot()
        .filter((r) => blockState(r, now) === 'quarantined')
        .map(toQuarantined),
    );
  }

  /** data_version moves when another connection commits; localWrites covers this connection's own commits. */
  private readonly marker = () => `${this.db.pragma('data_version', { simple: true })}:${this.localWrites}`;

  watchBlocks(onChange: (leases: BlockLease[]) => void): Promise<() => void> {
    return pollWatch(
      { marker: this.marker, read: () => this.listBlocks(), nextChangeAt: nextExpiry },
      onChange,
      500,
    );
  }

  watchCluster(onChange: (record: ClusterRecord | null) => void): Promise<() => void> {
    return pollWatch({ marker: this.marker, read: () => this.getCluster() }, onChange, 500);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

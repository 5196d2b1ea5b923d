/**
 * The versioned store in one SQLite file: the contract of versioned.ts for one host, shared by every process
 * on it (agents, the CLI). WAL, every write in BEGIN IMMEDIATE (writers queue on the busy timeout), the
 * revision the last one in the events log, so processes that write in turn see one history.
 *
 *   meta    schema_version, compacted (events up to it are gone; the revision when the log is empty)
 *   kv      key, value, create_revision, mod_revision, lease
 *   leases  id (never reused), ttl_seconds, expires_at (epoch ms)
 *   events  revision, seq, type, key, value, create_revision, lease: the last HISTORY revisions, for watches
 *
 * Expired leases are swept (their keys deleted as one revision, logged as deletes) at the start of every
 * write and by watchers' polls; until then reads skip keys whose lease has expired, so no read ever returns
 * one. Watchers poll `PRAGMA data_version` (it moves when another connection commits) plus this
 * connection's own write count, and read the events log after the last revision they saw.
 */
import type Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import { immediate, openSqliteFile } from './sqlite.js';
import { leaseNotFound, storeClosed } from './versioned-errors.js';
import type {
  Compare,
  KeyValue,
  Lease,
  TxnOp,
  TxnResult,
  VersionedStore,
  WatchOptions,
  WatchUpdate,
} from './versioned.js';

/** The layout this podnet writes (version 1 was the block table of the first release, migrated at open). */
export const SQLITE_SCHEMA_VERSION = 2;

/** Revisions of events kept for watchers; one further behind gets a snapshot, as after an etcd compaction. */
export const DEFAULT_HISTORY_REVISIONS = 10_000;

/** The log is cut in steps of this many revisions, so a commit rarely rewrites the `compacted` row. */
const TRIM_BATCH = 64;

/** How often a watcher looks for commits of other processes (a read of one pragma when nothing changed). */
const POLL_MS = 20;

const META = 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);';
// Keyed tables without a rowid: one b-tree each, so a write touches fewer pages.
const TABLES = `
CREATE TABLE kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  create_revision INTEGER NOT NULL,
  mod_revision INTEGER NOT NULL,
  lease INTEGER
) WITHOUT ROWID;
CREATE TABLE leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ttl_seconds INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE TABLE events (
  revision INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
  key TEXT NOT NULL,
  value TEXT,
  create_revision INTEGER,
  lease INTEGER,
  PRIMARY KEY (revision, seq)
) WITHOUT ROWID;`;

interface KvRow {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  lease: number | null;
}

interface EventRow {
  revision: number;
  type: 'put' | 'delete';
  key: string;
  value: string | null;
  create_revision: number | null;
  lease: number | null;
}

type Event = Extract<WatchUpdate, { type: 'events' }>['events'][number];

export interface SqliteVersionedOptions {
  /** Revisions of events kept for watchers (default 10,000). */
  historyRevisions?: number;
  /**
   * Runs inside the opening transaction when the file holds an older podnet layout (its meta.schema_version
   * is below SQLITE_SCHEMA_VERSION, after the version 2 tables were created): moves the old data into `kv`
   * with `put` (`until`: the key lives on a lease ending then; null: until deleted) and drops the old tables
   * and meta rows. It runs in the opening transaction: when it throws, the file stays as it was.
   */
  migrate?: (
    db: Database.Database,
    fromVersion: number,
    put: (key: string, value: string, until: number | null) => void,
  ) => void;
}

/** The smallest text greater than every text starting with `prefix` (UTF-8 order is code point order). */
export function prefixEnd(prefix: string): string | null {
  const chars = [...prefix];
  while (chars.length > 0) {
    const last = chars.pop() as string;
    let next = (last.codePointAt(0) as number) + 1;
    if (next === 0xd800) next = 0xe000; // surrogates are no characters
    if (next <= 0x10ffff) return chars.join('') + String.fromCodePoint(next);
  }
  return null;
}

function toKv(r: KvRow): KeyValue {
  return {
    key: r.key,
    value: r.value,
    createRevision: r.create_revision,
    modRevision: r.mod_revision,
    lease: r.lease === null ? null : String(r.lease),
  };
}

function toEvent(r: EventRow): Event {
  if (r.type === 'delete') return { type: 'delete', key: r.key, modRevision: r.revision };
  return {
    type: 'put',
    kv: toKv({
      key: r.key,
      value: r.value as string,
      create_revision: r.create_revision as number,
      mod_revision: r.revision,
      lease: r.lease,
    }),
  };
}

/** Groups events (in revision order) into one update per revision, as every backend delivers them. */
function byRevision(rows: EventRow[]): WatchUpdate[] {
  const updates: WatchUpdate[] = [];
  for (const r of rows) {
    const last = updates[updates.length - 1];
    if (last?.type === 'events' && last.revision === r.revision) last.events.push(toEvent(r));
    else updates.push({ type: 'events', revision: r.revision, events: [toEvent(r)] });
  }
  return updates;
}

const leaseId = (lease: string) => (/^[1-9][0-9]{0,15}$/.test(lease) ? Number(lease) : null);

function prepare(db: Database.Database) {
  const live =
    '(k.lease IS NULL OR EXISTS (SELECT 1 FROM leases l WHERE l.id = k.lease AND l.expires_at > @now))';
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    getRaw: db.prepare('SELECT * FROM kv WHERE key = ?'),
    getLive: db.prepare(`SELECT * FROM kv k WHERE k.key = @key AND ${live}`),
    listAll: db.prepare(`SELECT * FROM kv k WHERE ${live} ORDER BY k.key`),
    listFrom: db.prepare(`SELECT * FROM kv k WHERE k.key >= @lo AND ${live} ORDER BY k.key`),
    listRange: db.prepare(`SELECT * FROM kv k WHERE k.key >= @lo AND k.key < @hi AND ${live} ORDER BY k.key`),
    put: db.prepare(
      'INSERT OR REPLACE INTO kv (key, value, create_revision, mod_revision, lease) VALUES (?, ?, ?, ?, ?)',
    ),
    remove: db.prepare('DELETE FROM kv WHERE key = ?'),
    keysOnLeases: db
      .prepare('SELECT key FROM kv WHERE lease IN (SELECT value FROM json_each(?)) ORDER BY key')
      .pluck(),
    logEvent: db.prepare(
      'INSERT INTO events (revision, seq, type, key, value, create_revision, lease) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    lastRevision: db.prepare('SELECT max(revision) FROM events').pluck(),
    eventsAfter: db.prepare('SELECT * FROM events WHERE revision > ? ORDER BY revision, seq'),
    trimEvents: db.prepare('DELETE FROM events WHERE revision <= ?'),
    lease: db.prepare('SELECT * FROM leases WHERE id = ? AND expires_at > ?'),
    grant: db.prepare('INSERT INTO leases (ttl_seconds, expires_at) VALUES (?, ?)'),
    extend: db.prepare('UPDATE leases SET expires_at = ? WHERE id = ?'),
    dropLease: db.prepare('DELETE FROM leases WHERE id = ?'),
    expired: db.prepare('SELECT id FROM leases WHERE expires_at <= ?').pluck(),
    nextExpiry: db.prepare('SELECT min(expires_at) FROM leases').pluck(),
  };
}

interface Watcher {
  prefix: string;
  hi: string | null;
  /** The last revision this watcher has been told about. */
  seen: number;
  onUpdate: (u: WatchUpdate) => void;
}

export class SqliteVersionedStore implements VersionedStore {
  readonly url: string;
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly history: number;
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | null = null;
  /** This connection's commits: data_version only counts other connections'. */
  private localWrites = 0;
  private polledAt = '';
  /** Earliest lease expiry seen at the last poll: a sweep is due then though nobody writes. */
  private sweepAt = Number.POSITIVE_INFINITY;

  constructor(path: string, opts: SqliteVersionedOptions = {}) {
    this.url = `sqlite:${path}`;
    this.history = opts.historyRevisions ?? DEFAULT_HISTORY_REVISIONS;
    this.db = openSqliteFile(path, 'cluster store');
    try {
      this.initialize(path, opts.migrate);
      this.stmt = prepare(this.db);
    } catch (e) {
      this.db.close();
      if (e instanceof PodnetError) throw e;
      throw notAStore(path, (e as Error).message, e);
    }
  }

  /** Creates the tables of a new file, migrates an older layout, refuses a newer or foreign one. */
  private initialize(path: string, migrate: SqliteVersionedOptions['migrate']): void {
    immediate(this.db, this.url, () => {
      const tables = this.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .pluck()
        .all() as string[];
      if (tables.length === 0) {
        this.db.exec(META + TABLES);
        this.initMeta();
        return;
      }
      if (!tables.includes('meta')) throw notAStore(path, `it has tables ${tables.join(', ')} but no meta`);
      const text = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get();
      const version = Number(text);
      if (!Number.isInteger(version) || version < 1) {
        throw notAStore(path, `its meta.schema_version is ${JSON.stringify(text ?? null)}`);
      }
      if (version > SQLITE_SCHEMA_VERSION) throw schemaTooNew(path, version);
      if (version === SQLITE_SCHEMA_VERSION) return;
      if (!migrate) throw notAStore(path, `schema version ${version} has no migration here`);
      this.db.exec(TABLES);
      this.initMeta();
      const put = this.db.prepare(
        'INSERT INTO kv (key, value, create_revision, mod_revision, lease) VALUES (?, ?, 1, 1, ?)',
      );
      const grant = this.db.prepare('INSERT INTO leases (ttl_seconds, expires_at) VALUES (?, ?)');
      const now = Date.now();
      migrate(this.db, version, (key, value, until) => {
        const lease =
          until === null
            ? null
            : grant.run(Math.max(1, Math.ceil((until - now) / 1000)), until).lastInsertRowid;
        put.run(key, value, lease);
      });
      const migrated = this.db.prepare('SELECT count(*) FROM kv').pluck().get() as number;
      // Everything carried over is the store's first revision, so a fresh watcher gets it as its snapshot.
      if (migrated > 0) this.db.prepare("UPDATE meta SET value = '1' WHERE key = 'compacted'").run();
    });
  }

  private initMeta(): void {
    const set = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    set.run('schema_version', String(SQLITE_SCHEMA_VERSION));
    set.run('compacted', '0');
  }

  private meta(key: 'compacted'): number {
    return Number(this.stmt.getMeta.get(key));
  }

  /**
   * The store's revision: the last one logged, or where the log was cut when it is empty (every revision logs
   * at least one event, so no counter row has to be written with each commit).
   */
  private revision(): number {
    return (this.stmt.lastRevision.get() as number | null) ?? this.meta('compacted');
  }

  /** Runs `fn` in BEGIN IMMEDIATE after sweeping expired leases, then tells this process's watchers. */
  private write<T>(fn: (now: number) => T): T {
    if (!this.db.open) throw storeClosed(this.url);
    const result = immediate(this.db, this.url, () => {
      const now = Date.now();
      this.sweep(now);
      return fn(now);
    });
    this.localWrites++;
    // This process's watchers hear of its own commit at once (as the memory store's do), not at the next tick.
    for (const w of [...this.watchers]) if (this.watchers.has(w)) this.catchUp(w);
    return result;
  }

  /** Applies `ops` as the next revision; returns it, or null when nothing changed (a delete of nothing). */
  private commit(ops: TxnOp[]): number | null {
    const revision = this.revision() + 1;
    let seq = 0;
    for (const op of ops) {
      const old = this.stmt.getRaw.get(op.key) as KvRow | undefined;
      if (op.type === 'put') {
        const lease = op.lease ? leaseId(op.lease) : null;
        const created = old?.create_revision ?? revision;
        this.stmt.put.run(op.key, op.value, created, revision, lease);
        this.stmt.logEvent.run(revision, seq++, 'put', op.key, op.value, created, lease);
      } else if (old) {
        this.stmt.remove.run(op.key);
        this.stmt.logEvent.run(revision, seq++, 'delete', op.key, null, null, null);
      }
    }
    if (seq === 0) return null;
    const forget = revision - this.history;
    if (forget > this.meta('compacted') + Math.min(TRIM_BATCH, this.history)) {
      this.stmt.trimEvents.run(forget);
      this.stmt.setMeta.run('compacted', String(forget));
    }
    return revision;
  }

  /**
   * Ends the given leases: their keys are deleted as one revision. Finding them scans `kv` (no index on the
   * lease: it would cost every write a page, and ending a lease is rare), which is fine at one host's scale.
   */
  private endLeases(ids: number[]): void {
    if (ids.length === 0) return;
    const keys = this.stmt.keysOnLeases.all(JSON.stringify(ids)) as string[];
    this.commit(keys.map((key) => ({ type: 'delete', key })));
    for (const id of ids) this.stmt.dropLease.run(id);
  }

  private sweep(now: number): void {
    this.endLeases(this.stmt.expired.all(now) as number[]);
  }

  async get(key: string): Promise<KeyValue | null> {
    this.open();
    const row = this.stmt.getLive.get({ key, now: Date.now() }) as KvRow | undefined;
    return row ? toKv(row) : null;
  }

  async list(prefix: string): Promise<{ revision: number; items: KeyValue[] }> {
    this.open();
    return this.db.transaction(() => ({ revision: this.revision(), items: this.under(prefix) }))();
  }

  private under(prefix: string, hi = prefixEnd(prefix)): KeyValue[] {
    const now = Date.now();
    const rows =
      prefix === ''
        ? this.stmt.listAll.all({ now })
        : hi === null
          ? this.stmt.listFrom.all({ lo: prefix, now })
          : this.stmt.listRange.all({ lo: prefix, hi, now });
    return (rows as KvRow[]).map(toKv);
  }

  async txn(compares: Compare[], ops: TxnOp[]): Promise<TxnResult> {
    return this.write((now) => {
      const current = compares.map((c) => {
        const row = this.stmt.getRaw.get(c.key) as KvRow | undefined;
        return row ? toKv(row) : null;
      });
      const holds = compares.every((c, i) => (current[i]?.modRevision ?? 0) === c.modRevision);
      if (!holds) return { succeeded: false, revision: this.revision(), current };
      const leases = new Set(ops.map((op) => (op.type === 'put' && op.lease) || null));
      for (const lease of leases) {
        if (lease === null) continue;
        const id = leaseId(lease);
        if (id === null || !this.stmt.lease.get(id, now)) throw leaseNotFound(lease);
      }
      this.commit(ops);
      return { succeeded: true, revision: this.revision(), current: [] };
    });
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    return this.write((now) => {
      const id = this.stmt.grant.run(ttlSeconds, now + ttlSeconds * 1000).lastInsertRowid;
      return { id: String(id), ttlSeconds };
    });
  }

  async keepAlive(lease: string): Promise<void> {
    this.write((now) => {
      const id = leaseId(lease);
      const row = id === null ? undefined : (this.stmt.lease.get(id, now) as { ttl_seconds: number });
      if (!row) throw leaseNotFound(lease);
      this.stmt.extend.run(now + row.ttl_seconds * 1000, id);
    });
  }

  async revokeLease(lease: string): Promise<void> {
    this.write(() => {
      const id = leaseId(lease);
      if (id !== null) this.endLeases([id]);
    });
  }

  /** Forgets the events up to `revision` (as etcd's compaction): watchers from before it get a snapshot. */
  compact(revision: number): void {
    immediate(this.db, this.url, () => {
      this.stmt.trimEvents.run(revision);
      if (revision > this.meta('compacted')) this.stmt.setMeta.run('compacted', String(revision));
    });
  }

  async watch(
    prefix: string,
    onUpdate: (u: WatchUpdate) => void,
    opts: WatchOptions = {},
  ): Promise<() => void> {
    this.open();
    const w: Watcher = { prefix, hi: prefixEnd(prefix), seen: opts.afterRevision ?? -1, onUpdate };
    this.catchUp(w);
    this.watchers.add(w);
    this.timer ??= setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** Tells the watcher what happened after the last revision it saw: the events, or a snapshot when they are gone. */
  private catchUp(w: Watcher): void {
    // The events first, then whether they were complete: a trim by another process in between shows in
    // `compacted`, and then the watcher gets a snapshot instead.
    const rows = this.stmt.eventsAfter.all(w.seen) as EventRow[];
    if (w.seen < this.meta('compacted')) {
      const snapshot = this.db.transaction(
        (): WatchUpdate => ({
          type: 'snapshot',
          revision: this.revision(),
          items: this.under(w.prefix, w.hi),
        }),
      )();
      w.seen = snapshot.revision;
      w.onUpdate(snapshot);
      return;
    }
    if (rows.length === 0) return;
    w.seen = rows[rows.length - 1].revision;
    for (const u of byRevision(rows.filter((r) => r.key.startsWith(w.prefix)))) w.onUpdate(u);
  }

  private poll(): void {
    if (!this.db.open) return;
    try {
      if (Date.now() >= this.sweepAt) {
        this.sweepAt = Number.POSITIVE_INFINITY; // recomputed below; the sweep's own write polls again
        this.write(() => {});
      }
      const marker = `${this.db.pragma('data_version', { simple: true })}:${this.localWrites}`;
      if (marker === this.polledAt) return;
      this.polledAt = marker;
      this.sweepAt = (this.stmt.nextExpiry.get() as number | null) ?? Number.POSITIVE_INFINITY;
      for (const w of [...this.watchers]) if (this.watchers.has(w)) this.catchUp(w);
    } catch {
      // Busy or briefly locked: the next tick polls again; nothing is lost, the events stay in the log.
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watchers.clear();
    if (this.db.open) this.db.close();
  }

  private open(): void {
    if (!this.db.open) throw storeClosed(this.url);
  }
}

function notAStore(path: string, why: string, cause?: unknown): PodnetError {
  return new PodnetError('StoreCorrupt', `the file ${path} is not a podnet store: ${why}`, {
    field: '--store',
    hint: 'point --store at a podnet store file, or a new path to create one',
    cause,
  });
}

function schemaTooNew(path: string, version: number): PodnetError {
  return new PodnetError(
    'StoreSchemaMismatch',
    `the store ${path} has schema version ${version} (row meta.schema_version), written by a newer podnet; this podnet reads versions up to ${SQLITE_SCHEMA_VERSION}`,
    {
      field: 'meta.schema_version',
      hint: 'upgrade podnet to the version that wrote this store (it is never rewritten by an older one)',
      details: { found: version, expected: SQLITE_SCHEMA_VERSION },
    },
  );
}

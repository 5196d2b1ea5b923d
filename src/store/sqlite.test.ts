import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import { openStore } from './open.js';
import { encodeCluster, nextCluster } from './records.js';
import { claim, storeContract } from './testing/contract.js';
import { testProfile } from './testing/profile.js';
import { SqliteVersionedStore } from './versioned-sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('sqlite', {
  open: async (opts) => openStore(`sqlite:${join(dir, `store-${n++}.db`)}`, opts),
  // The records are rows of the versioned store's kv table, as a hand edit or another program would change them.
  corrupt: async (store, kind) => {
    const db = new Database(store.url.slice('sqlite:'.length));
    try {
      const put = (key: string, value: string) =>
        db.transaction(() => {
          const revision =
            Number(db.prepare('SELECT coalesce(max(mod_revision), 0) FROM kv').pluck().get()) + 1;
          db.prepare(
            'INSERT OR REPLACE INTO kv (key, value, create_revision, mod_revision, lease) VALUES (?, ?, ?, ?, NULL)',
          ).run(key, value, revision, revision);
        })();
      if (kind === 'foreign-block') {
        const row = {
          block: '192.168.9.0/24',
          nodeName: 'foreign',
          nodeIp: '10.0.0.9',
          pool: 'p',
          maxPods: 30,
        };
        put(
          'blocks/192.168.9.0-24',
          JSON.stringify({ ...row, claimedAt: 0, renewedAt: 0, expiresAt: null, quarantineUntil: null }),
        );
        return 'key blocks/192.168.9.0-24';
      }
      const rec = JSON.parse(
        db.prepare("SELECT value FROM kv WHERE key = 'cluster'").pluck().get() as string,
      );
      put(
        'cluster',
        kind === 'bad-json' ? '{"schemaVersion":1,' : JSON.stringify({ ...rec, schemaVersion: 99 }),
      );
      return 'key cluster';
    } finally {
      db.close();
    }
  },
  lowestFirst: true,
  quarantineSlackMs: 0,
});

it('refuses a store file written by a newer schema version, naming the row', async () => {
  const path = join(dir, 'old.db');
  (await openStore(`sqlite:${path}`)).close();
  const db = new Database(path);
  db.prepare("UPDATE meta SET value = '7' WHERE key = 'schema_version'").run();
  db.close();
  assert.throws(
    () => new SqliteVersionedStore(path),
    (e: unknown) =>
      e instanceof PodnetError && e.code === 'StoreSchemaMismatch' && e.field === 'meta.schema_version',
  );
});

it('refuses a file that is not a podnet store', async () => {
  const path = join(dir, 'other.db');
  const db = new Database(path);
  db.exec('CREATE TABLE blocks (x TEXT)');
  db.close();
  await assert.rejects(
    openStore(`sqlite:${path}`),
    (e: unknown) => e instanceof PodnetError && e.code === 'StoreCorrupt',
  );
});

it('rejects malformed store URLs with InvalidStoreUrl', async () => {
  for (const url of [
    'sqlite:',
    'mysql://x',
    'etcd:',
    'etcd:127.0.0.1:2379',
    'etcd:http://127.0.0.1',
    'etcd:http://127.0.0.1:1?prefix=x',
  ]) {
    await assert.rejects(
      openStore(url),
      (e: unknown) => e instanceof PodnetError && e.code === 'InvalidStoreUrl',
      url,
    );
  }
});

/** A store as the first release wrote it (its SQL, verbatim): schema version 1, the record in meta. */
function writeV1(path: string, rows: unknown[][]): void {
  const db = new Database(path);
  db.exec(`
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
);`);
  const meta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  meta.run('schema_version', '1');
  meta.run('cluster', encodeCluster(nextCluster(null, testProfile('10.244.0.0/22'), 0, Date.now())));
  meta.run('block_cursor', '3');
  const insert = db.prepare(
    `INSERT OR REPLACE INTO blocks (block, node_name, node_ip, pool, max_pods, claimed_at, renewed_at, expires_at, quarantine_until)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const r of rows) insert.run(...r);
  db.close();
}

it('migrates a store of schema version 1 at open, in one transaction: leases, quarantine and the record kept', async () => {
  const file = join(dir, 'v1.db');
  const now = Date.now();
  const hour = 3600_000;
  writeV1(file, [
    ['10.244.0.0/24', 'live', '10.0.0.4', 'pool1', 250, now - hour, now, now + hour, now + 2 * hour],
    ['10.244.1.0/24', 'resting', '10.0.0.5', 'pool1', 250, now - hour, now - hour, now - 1000, now + hour],
    [
      '10.244.2.0/24',
      'gone',
      '10.0.0.6',
      'pool1',
      250,
      now - 3 * hour,
      now - 3 * hour,
      now - 2 * hour,
      now - hour,
    ],
    ['10.244.3.0/24', 'pinned', '10.0.0.7', 'pool1', 30, now - hour, now - hour, null, null],
  ]);
  const store = await openStore(`sqlite:${file}`);
  try {
    assert.equal((await store.getCluster())?.generation, 1);
    assert.deepEqual(
      (await store.listBlocks()).map((l) => [l.block, l.nodeName, l.expiresAt && Date.parse(l.expiresAt)]),
      [
        ['10.244.0.0/24', 'live', now + hour],
        ['10.244.3.0/24', 'pinned', null],
      ],
    );
    assert.deepEqual(
      (await store.listQuarantined()).map((q) => [q.block, q.nodeName]),
      [['10.244.1.0/24', 'resting']],
    );
    const again = await store.claimBlock(claim('live'));
    assert.deepEqual([again.block, again.claimedAt], ['10.244.0.0/24', new Date(now - hour).toISOString()]);
    assert.equal((await store.claimBlock(claim('resting'))).block, '10.244.1.0/24', 'its own block back');
    assert.equal((await store.claimBlock(claim('new'))).block, '10.244.2.0/24', 'the freed block is free');
    const lease = (await store.kv.get('blocks/10.244.0.0-24'))?.lease;
    assert.ok(lease, 'a migrated lease lives on a store lease');
  } finally {
    await store.close();
  }
  const db = new Database(file, { readonly: true });
  assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(), '2');
  assert.deepEqual(
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'blocks'").all(),
    [],
  );
  db.close();
});

it('leaves a version 1 store untouched when its data cannot be migrated (a corrupt record)', async () => {
  const file = join(dir, 'v1-bad.db');
  writeV1(file, []);
  const bad = new Database(file);
  bad.prepare("UPDATE meta SET value = '{\"schemaVersion\":1,' WHERE key = 'cluster'").run();
  bad.close();
  await assert.rejects(
    openStore(`sqlite:${file}`),
    (e: unknown) =>
      e instanceof PodnetError && e.code === 'StoreCorrupt' && /meta row "cluster"/.test(e.message),
  );
  const db = new Database(file, { readonly: true });
  assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(), '1');
  assert.deepEqual(
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
    ['blocks', 'meta'],
    'the migration rolled back whole',
  );
  db.close();
});

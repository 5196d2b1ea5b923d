import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import { openStore } from './open.js';
import { SqliteStore } from './sqlite.js';
import { storeContract } from './testing/contract.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract('sqlite', {
  open: async (opts) => openStore(`sqlite:${join(dir, `store-${n++}.db`)}`, opts),
  corrupt: async (store, kind) => {
    const db = new Database(store.url.slice('sqlite:'.length));
    try {
      if (kind === 'foreign-block') {
        db.prepare(
          `INSERT INTO blocks (block, node_name, node_ip, pool, max_pods, claimed_at, renewed_at, expires_at, quarantine_until)
           VALUES ('192.168.9.0/24', 'foreign', '10.0.0.9', 'p', 30, 0, 0, NULL, NULL)`,
        ).run();
        return 'blocks row "192.168.9.0/24"';
      }
      const rec = JSON.parse(
        (db.prepare("SELECT value FROM meta WHERE key = 'cluster'").get() as { value: string }).value,
      );
      const value =
        kind === 'bad-json' ? '{"schemaVersion":1,' : JSON.stringify({ ...rec, schemaVersion: 99 });
      db.prepare("UPDATE meta SET value = ? WHERE key = 'cluster'").run(value);
      return 'meta row "cluster"';
    } finally {
      db.close();
    }
  },
  lowestFirst: true,
  quarantineSlackMs: 0,
});

it('refuses a store file written by another schema version, naming the row', async () => {
  const path = join(dir, 'old.db');
  (await openStore(`sqlite:${path}`)).close();
  const db = new Database(path);
  db.prepare("UPDATE meta SET value = '7' WHERE key = 'schema_version'").run();
  db.close();
  assert.throws(
    () => new SqliteStore(path),
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

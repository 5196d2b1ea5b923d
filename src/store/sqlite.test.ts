import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import { openStore } from './open.js';
import { storeContract } from './testing/contract.js';
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
            Number(db.prepare("SELECT value FROM meta WHERE key = 'revision'").pluck().get()) + 1;
          db.prepare(
            'INSERT OR REPLACE INTO kv (key, value, create_revision, mod_revision, lease) VALUES (?, ?, ?, ?, NULL)',
          ).run(key, value, revision, revision);
          db.prepare("UPDATE meta SET value = ? WHERE key = 'revision'").run(String(revision));
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

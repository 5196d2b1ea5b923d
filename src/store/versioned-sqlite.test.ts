import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';
import { runTogether } from './testing/procs.js';
import { versionedContract } from './testing/versioned-contract.js';
import { SQLITE_SCHEMA_VERSION, SqliteVersionedStore, prefixEnd } from './versioned-sqlite.js';
import type { WatchUpdate } from './versioned.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-versioned-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const path = (name = `store-${n++}.db`) => join(dir, name);
const pathOf = (url: string) => url.slice('sqlite:'.length);

versionedContract('sqlite', {
  open: async () => new SqliteVersionedStore(path()),
  openSecond: async (store) => new SqliteVersionedStore(pathOf(store.url)),
  compact: async (store, revision) => (store as SqliteVersionedStore).compact(revision),
  expirySlackMs: 0,
});

const refused = (code: string, field: string, message: RegExp) => (e: unknown) =>
  e instanceof PodnetError && e.code === code && e.field === field && message.test(e.message);

it('keeps the store to root: the file and its -wal/-shm 0600, a folder it creates 0700', async () => {
  const file = join(dir, 'private', 'nested', 'cluster.db');
  const s = new SqliteVersionedStore(file);
  try {
    await s.txn([], [{ type: 'put', key: 'k', value: '"v"' }]);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(statSync(join(dir, 'private')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'private', 'nested')).mode & 0o777, 0o700);
  } finally {
    await s.close();
  }
});

it('refuses a file that is not a podnet store, and leaves it as it was', () => {
  const garbage = path('garbage.db');
  writeFileSync(
    garbage,
    'this is not a database, it is a text file with enough bytes to look like one'.repeat(20),
  );
  assert.throws(
    () => new SqliteVersionedStore(garbage),
    refused('StoreCorrupt', '--store', /is not a podnet/),
  );
  const foreign = path('foreign.db');
  const db = new Database(foreign);
  db.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ann')");
  db.close();
  assert.throws(
    () => new SqliteVersionedStore(foreign),
    refused('StoreCorrupt', '--store', /tables users but no meta/),
  );
  const check = new Database(foreign);
  assert.deepEqual(
    check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(),
    ['users'],
    'nothing created in a foreign file',
  );
  check.close();
});

it('refuses a store written by a newer podnet with StoreSchemaMismatch, naming the row, reading nothing', async () => {
  const file = path('newer.db');
  const s = new SqliteVersionedStore(file);
  await s.txn([], [{ type: 'put', key: 'k', value: '"v"' }]);
  await s.close();
  const db = new Database(file);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SQLITE_SCHEMA_VERSION + 1));
  db.close();
  assert.throws(
    () => new SqliteVersionedStore(file),
    (e: unknown) =>
      refused('StoreSchemaMismatch', 'meta.schema_version', /written by a newer podnet/)(e) &&
      /upgrade podnet/.test((e as PodnetError).hint ?? '') &&
      (e as PodnetError).details?.found === SQLITE_SCHEMA_VERSION + 1,
  );
});

it('never returns a key whose lease expired, before any sweep ran; the next write sweeps and logs the delete', async () => {
  const s = new SqliteVersionedStore(path());
  try {
    const lease = await s.grantLease(1);
    await s.txn([], [{ type: 'put', key: 'e/k', value: '"v"', lease: lease.id }]);
    const { revision } = await s.list('');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await s.get('e/k'), null);
    assert.deepEqual((await s.list('e/')).items, []);
    await s.txn([], [{ type: 'put', key: 'other', value: '"x"' }]);
    const seen: WatchUpdate[] = [];
    const stop = await s.watch('e/', (u) => seen.push(u), { afterRevision: revision });
    stop();
    assert.deepEqual(seen, [
      {
        type: 'events',
        revision: revision + 1,
        events: [{ type: 'delete', key: 'e/k', modRevision: revision + 1 }],
      },
    ]);
  } finally {
    await s.close();
  }
});

it('bounds the events log: a watcher further behind than the history gets a snapshot', async () => {
  const s = new SqliteVersionedStore(path(), { historyRevisions: 5 });
  try {
    for (let i = 0; i < 12; i++) await s.txn([], [{ type: 'put', key: `h/${i % 3}`, value: `${i}` }]);
    const db = new Database(pathOf(s.url), { readonly: true });
    const kept = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    assert.ok(kept >= 5 && kept <= 10, `${kept} events kept: the last 5 revisions, cut in steps of 5`);
    db.close();
    const seen: WatchUpdate[] = [];
    (await s.watch('h/', (u) => seen.push(u), { afterRevision: 3 }))();
    assert.deepEqual(
      seen.map((u) => u.type),
      ['snapshot'],
    );
    const replay: WatchUpdate[] = [];
    (await s.watch('h/', (u) => replay.push(u), { afterRevision: 7 }))();
    assert.deepEqual(
      replay.map((u) => u.revision),
      [8, 9, 10, 11, 12],
    );
  } finally {
    await s.close();
  }
});

it('prefixEnd: the least text above every key with the prefix', () => {
  assert.equal(prefixEnd('blocks/'), 'blocks0');
  assert.equal(prefixEnd('a'), 'b');
  assert.equal(prefixEnd('\u{d7ff}'), '\u{e000}');
  assert.equal(prefixEnd('x\u{10ffff}'), 'y');
  assert.equal(prefixEnd(''), null);
});

it('processes share one file: writes of two other processes and this one, one history, all seen by a watcher here', async () => {
  const url = `sqlite:${path()}`;
  const s = new SqliteVersionedStore(pathOf(url));
  try {
    const seen: string[] = [];
    const revisions: number[] = [];
    const stop = await s.watch('p/', (u) => {
      if (u.type !== 'events') return;
      revisions.push(u.revision);
      for (const e of u.events) if (e.type === 'put') seen.push(e.kv.key);
    });
    const workers = await runTogether([
      ['kv-put', url, 'p/a', '50'],
      ['kv-put', url, 'p/b', '50'],
    ]);
    for (let i = 0; i < 50; i++) await s.txn([], [{ type: 'put', key: `p/c-${i}`, value: `${i}` }]);
    await Promise.all(workers.map((w) => w.exited));
    const theirs = workers.flatMap((w) => w.results) as { revision: number }[];
    assert.equal(theirs.length, 100);
    for (let i = 0; i < 100 && seen.length < 150; i++) await new Promise((r) => setTimeout(r, 50));
    stop();
    assert.equal(seen.length, 150, 'every write of every process, once');
    assert.equal(new Set(seen).size, 150);
    assert.deepEqual(
      revisions,
      [...revisions].sort((x, y) => x - y),
      'in revision order',
    );
    assert.equal(new Set(revisions).size, 150, 'one revision per write, none shared between processes');
    assert.equal((await s.list('p/')).revision, Math.max(...revisions));
  } finally {
    await s.close();
  }
});

/**
 * The behavioural contract of versioned.ts that every backend (memory, sqlite, etcd) must meet; each
 * backend's test file runs it. The semantics are etcd v3's (https://etcd.io/docs/v3.4/learning/api/:
 * revisions, compare on mod_revision with 0 for a missing key, leases, watch from a start revision with a
 * compacted one refused), so the three backends are interchangeable under the rules written over them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PodnetError } from '../../errors/index.js';
import { type KeyValue, type VersionedStore, type WatchUpdate, createKey } from '../versioned.js';

export interface VersionedHarness {
  /** A new, empty store (its own file, map or key prefix). */
  open(): Promise<VersionedStore>;
  /** Another client on the same data as `store` (a second object on the file, a second etcd client). */
  openSecond(store: VersionedStore): Promise<VersionedStore>;
  /** Makes the events up to `revision` unavailable to watchers, as an etcd compaction does. */
  compact(store: VersionedStore, revision: number): Promise<void>;
  /** How long after its TTL a lease's keys may still be there (etcd checks its leases every 500 ms). */
  expirySlackMs: number;
  teardown?(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = (v: unknown) => JSON.stringify(v);
const put = (key: string, value: string, lease?: string) => ({ type: 'put' as const, key, value, lease });
const del = (key: string) => ({ type: 'delete' as const, key });

async function rejects(p: Promise<unknown>, code: string): Promise<PodnetError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PodnetError, `expected PodnetError ${code}, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** What a watcher was told, in a form a test compares whole: one entry per update. */
function describeUpdate(u: WatchUpdate): unknown {
  if (u.type === 'snapshot') return { snapshot: u.revision, keys: u.items.map((i) => `${i.key}=${i.value}`) };
  return {
    events: u.revision,
    changes: u.events.map((e) => (e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`)),
  };
}

const keys = (items: KeyValue[]) => items.map((i) => i.key);

export function versionedContract(name: string, harness: VersionedHarness): void {
  describe(`VersionedStore contract: ${name}`, () => {
    const stores: VersionedStore[] = [];
    const open = async () => {
      const s = await harness.open();
      stores.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => {})));
      await harness.teardown?.();
    });

    /** Starts a watch and records every update; `upTo` waits until one at or past `revision` arrived. */
    async function record(s: VersionedStore, prefix: string, afterRevision?: number) {
      const seen: WatchUpdate[] = [];
      const stop = await s.watch(prefix, (u) => seen.push(u), { afterRevision });
      const upTo = (revision: number) =>
        until(() => seen.some((u) => u.revision >= revision), `a watch update at revision ${revision}`);
      return { seen, stop, upTo, described: () => seen.map(describeUpdate) };
    }

    it('creates a key only if it is absent', async () => {
      const s = await open();
      assert.equal(await s.get('a'), null);
      assert.equal(await createKey(s, 'a', json({ v: 1 })), true);
      assert.equal(await createKey(s, 'a', json({ v: 2 })), false);
      const kv = await s.get('a');
      assert.equal(kv?.value, json({ v: 1 }), 'the second create changed nothing');
      assert.ok((kv?.createRevision ?? 0) > 0);
      assert.equal(kv?.modRevision, kv?.createRevision);
      assert.equal(kv?.lease, null);
    });

    it('updates and deletes only at the mod revision the caller read', async () => {
      const s = await open();
      await createKey(s, 'k', '"v1"');
      const v1 = (await s.get('k')) as KeyValue;
      const up = await s.txn([{ key: 'k', modRevision: v1.modRevision }], [put('k', '"v2"')]);
      assert.equal(up.succeeded, true);
      const v2 = (await s.get('k')) as KeyValue;
      assert.deepEqual(
        [v2.value, v2.createRevision, v2.modRevision],
        ['"v2"', v1.createRevision, up.revision],
        'an update keeps the create revision and takes the transaction revision',
      );
      assert.ok(v2.modRevision > v1.modRevision);
      const stale = await s.txn([{ key: 'k', modRevision: v1.modRevision }], [put('k', '"lost"')]);
      assert.equal(stale.succeeded, false);
      assert.deepEqual(stale.current, [v2]);
      const staleDelete = await s.txn([{ key: 'k', modRevision: v1.modRevision }], [del('k')]);
      assert.equal(staleDelete.succeeded, false);
      assert.equal((await s.get('k'))?.value, '"v2"');
      assert.equal((await s.txn([{ key: 'k', modRevision: v2.modRevision }], [del('k')])).succeeded, true);
      assert.equal(await s.get('k'), null);
      await createKey(s, 'k', '"again"');
      assert.ok(((await s.get('k'))?.createRevision ?? 0) > v2.modRevision, 'a re-created key is new');
    });

    it('a failed guard applies nothing and returns the current state of every compared key', async () => {
      const s = await open();
      await createKey(s, 'a', '"a"');
      await createKey(s, 'b', '"b"');
      const [a, b] = [(await s.get('a')) as KeyValue, (await s.get('b')) as KeyValue];
      const before = await s.list('');
      const res = await s.txn(
        [
          { key: 'a', modRevision: a.modRevision },
          { key: 'b', modRevision: b.modRevision + 100 },
          { key: 'c', modRevision: 0 },
        ],
        [put('a', '"x"'), put('c', '"y"'), del('b')],
      );
      assert.equal(res.succeeded, false);
      assert.deepEqual(res.current, [a, b, null], 'in the order compared, null for an absent key');
      assert.deepEqual(await s.list(''), before, 'nothing changed, not even the revision');
      assert.equal(res.revision, before.revision);
    });

    it('applies every operation of a transaction as one revision, or none', async () => {
      const s = await open();
      await createKey(s, 'old', '"o"');
      const res = await s.txn(
        [
          { key: 'x', modRevision: 0 },
          { key: 'y', modRevision: 0 },
        ],
        [put('x', '"1"'), put('y', '"2"'), del('old')],
      );
      assert.equal(res.succeeded, true);
      const { items, revision } = await s.list('');
      assert.deepEqual(
        items.map((i) => [i.key, i.modRevision]),
        [
          ['x', res.revision],
          ['y', res.revision],
        ],
      );
      assert.equal(revision, res.revision);
    });

    it('bumps the revision strictly with every write, also when writes overlap', async () => {
      const s = await open();
      const revisions: number[] = [];
      for (let i = 0; i < 10; i++) revisions.push((await s.txn([], [put(`seq/${i}`, json(i))])).revision);
      for (let i = 1; i < revisions.length; i++) assert.ok(revisions[i] > revisions[i - 1], `${revisions}`);
      const parallel = await Promise.all(
        Array.from({ length: 10 }, (_, i) => s.txn([], [put(`par/${i}`, json(i))])),
      );
      const rs = parallel.map((r) => r.revision);
      assert.equal(new Set(rs).size, 10, `distinct revisions: ${rs}`);
      assert.ok(Math.min(...rs) > revisions[9]);
      assert.equal((await s.list('')).revision, Math.max(...rs));
    });

    it('lists by prefix, sorted by key, and never a key outside the prefix', async () => {
      const s = await open();
      for (const k of ['p/b', 'p/a', 'p/c/d', 'p', 'pa', 'q/a', 'o/z']) await createKey(s, k, json(k));
      assert.deepEqual(keys((await s.list('p/')).items), ['p/a', 'p/b', 'p/c/d']);
      assert.deepEqual(keys((await s.list('p/c/')).items), ['p/c/d']);
      assert.deepEqual(keys((await s.list('p')).items), ['p', 'p/a', 'p/b', 'p/c/d', 'pa']);
      assert.deepEqual(keys((await s.list('none/')).items), []);
      assert.deepEqual(keys((await s.list('')).items), ['o/z', 'p', 'p/a', 'p/b', 'p/c/d', 'pa', 'q/a']);
      assert.equal((await s.list('p/a')).items[0].value, json('p/a'));
    });

    it('deletes the keys of an expired lease, and watchers see the deletes', async () => {
      const s = await open();
      const lease = await s.grantLease(1);
      assert.equal(lease.ttlSeconds, 1);
      await s.txn([], [put('l/on', '"leased"', lease.id), put('l/off', '"kept"')]);
      assert.equal((await s.get('l/on'))?.lease, lease.id);
      const w = await record(s, 'l/');
      try {
        await until(
          async () => (await s.get('l/on')) === null,
          'the expiry',
          1000 + harness.expirySlackMs + 2000,
        );
        assert.deepEqual(keys((await s.list('l/')).items), ['l/off']);
        await until(
          () => w.described().some((u) => JSON.stringify(u).includes('delete l/on')),
          'the watcher to see the delete',
        );
        assert.equal(JSON.stringify(w.described()).includes('delete l/off'), false);
        await rejects(s.keepAlive(lease.id), 'StoreLeaseNotFound');
      } finally {
        w.stop();
      }
    });

    it('keeps a lease alive while it is renewed, ends it at once on revoke, and refuses puts on a lease that is gone', async () => {
      const s = await open();
      const lease = await s.grantLease(2);
      await createKey(s, 'r/k', '"v"', lease.id);
      for (let i = 0; i < 3; i++) {
        await sleep(900);
        await s.keepAlive(lease.id);
      }
      assert.equal((await s.get('r/k'))?.value, '"v"', 'alive 2.7 s into a 2 s lease');
      await s.revokeLease(lease.id);
      assert.equal(await s.get('r/k'), null, 'revoke deletes its keys now');
      await s.revokeLease(lease.id); // already gone: fine
      await rejects(s.keepAlive(lease.id), 'StoreLeaseNotFound');
      const before = await s.list('');
      await rejects(s.txn([], [put('r/good', '"g"'), put('r/bad', '"b"', lease.id)]), 'StoreLeaseNotFound');
      await rejects(s.txn([], [put('r/never', '"n"', '999999999')]), 'StoreLeaseNotFound');
      assert.deepEqual(await s.list(''), before, 'a refused transaction applies none of its operations');
    });

    it('watches: a snapshot, then every change under the prefix in order, one update per revision', async () => {
      const s = await open();
      await s.txn([], [put('w/a', '"a"'), put('w/b', '"b"'), put('wx', '"other"')]);
      const { revision } = await s.list('w/');
      const w = await record(s, 'w/');
      try {
        const r1 = (await s.txn([], [put('w/c', '"c"'), del('w/a')])).revision;
        await s.txn([], [put('x/y', '"elsewhere"')]);
        const r3 = (await s.txn([], [put('w/b', '"b2"')])).revision;
        const r4 = (await s.txn([], [del('w/c')])).revision;
        await w.upTo(r4);
        assert.deepEqual(w.described(), [
          { snapshot: revision, keys: ['w/a="a"', 'w/b="b"'] },
          { events: r1, changes: ['put w/c="c"', 'delete w/a'] },
          { events: r3, changes: ['put w/b="b2"'] },
          { events: r4, changes: ['delete w/c'] },
        ]);
        const deleted = w.seen[3];
        assert.ok(deleted.type === 'events' && deleted.events[0].type === 'delete');
        assert.equal(deleted.events[0].modRevision, r4, 'a delete carries its revision');
        const putC = w.seen[1];
        assert.ok(putC.type === 'events' && putC.events[0].type === 'put');
        assert.deepEqual(putC.events[0].kv, {
          key: 'w/c',
          value: '"c"',
          createRevision: r1,
          modRevision: r1,
          lease: null,
        });
      } finally {
        w.stop();
      }
    });

    it('watches from a revision: exactly the changes after it, then the new ones', async () => {
      const s = await open();
      const r1 = (await s.txn([], [put('m/1', '"1"')])).revision;
      const r2 = (await s.txn([], [put('m/2', '"2"')])).revision;
      const r3 = (await s.txn([], [del('m/1')])).revision;
      await s.txn([], [put('n/1', '"not mine"')]);
      const r5 = (await s.txn([], [put('m/3', '"3"')])).revision;
      const w = await record(s, 'm/', r1);
      let r6 = 0;
      try {
        await w.upTo(r5);
        r6 = (await s.txn([], [put('m/4', '"4"')])).revision;
        await w.upTo(r6);
        assert.deepEqual(w.described(), [
          { events: r2, changes: ['put m/2="2"'] },
          { events: r3, changes: ['delete m/1'] },
          { events: r5, changes: ['put m/3="3"'] },
          { events: r6, changes: ['put m/4="4"'] },
        ]);
      } finally {
        w.stop();
      }
      const now = await record(s, 'm/', r6);
      try {
        const r7 = (await s.txn([], [put('m/5', '"5"')])).revision;
        await now.upTo(r7);
        assert.deepEqual(now.described(), [{ events: r7, changes: ['put m/5="5"'] }], 'nothing before r7');
      } finally {
        now.stop();
      }
    });

    it('gives a snapshot instead when the revision is older than the history, so nothing is lost', async () => {
      const s = await open();
      const r1 = (await s.txn([], [put('c/1', '"1"')])).revision;
      await s.txn([], [put('c/2', '"2"')]);
      const r3 = (await s.txn([], [del('c/1'), put('c/3', '"3"')])).revision;
      await harness.compact(s, r3);
      const w = await record(s, 'c/', r1);
      try {
        await w.upTo(r3);
        const r4 = (await s.txn([], [put('c/4', '"4"')])).revision;
        await w.upTo(r4);
        const d = w.described() as { snapshot?: number }[];
        assert.ok((d[0].snapshot ?? 0) >= r3, `a snapshot first: ${JSON.stringify(d)}`);
        assert.deepEqual(d, [
          { snapshot: d[0].snapshot, keys: ['c/2="2"', 'c/3="3"'] },
          { events: r4, changes: ['put c/4="4"'] },
        ]);
      } finally {
        w.stop();
      }
    });

    it("a second client on the same store reads the first one's writes and watches them", async () => {
      const s = await open();
      const other = await harness.openSecond(s);
      stores.push(other);
      const w = await record(other, 's/');
      try {
        const r = (await s.txn([], [put('s/k', '"from the first"')])).revision;
        assert.equal((await other.get('s/k'))?.value, '"from the first"');
        await w.upTo(r);
        assert.deepEqual(w.described().slice(-1), [{ events: r, changes: ['put s/k="from the first"'] }]);
        const back = await other.txn([{ key: 's/k', modRevision: r }], [put('s/k', '"from the second"')]);
        assert.ok(back.succeeded && back.revision > r, 'one revision counter for both');
        assert.equal((await s.get('s/k'))?.value, '"from the second"');
      } finally {
        w.stop();
      }
    });

    it('refuses to be used after close', async () => {
      const s = await harness.open();
      await s.close();
      await rejects(s.txn([], [put('z', '"z"')]), 'StoreClosed');
    });
  });
}

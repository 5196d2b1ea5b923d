import assert from 'node:assert/strict';
import { it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { openVersionedStore } from './open.js';
import { versionedContract } from './testing/versioned-contract.js';
import { MemoryVersionedStore } from './versioned-memory.js';

versionedContract('memory', {
  open: async () => new MemoryVersionedStore(),
  openSecond: async (store) => store, // one process, one map: every client is the same object
  // The memory store keeps the last 10,000 events: push the older ones out of its history.
  compact: async (store) => {
    for (let i = 0; i <= 10_000; i++) await store.txn([], [{ type: 'put', key: 'zz/filler', value: `${i}` }]);
  },
  expirySlackMs: 0,
});

it('memory:NAME is one store per name in the process; closing a client keeps the data for the others', async () => {
  const a = await openVersionedStore('memory:versioned-memory-test');
  const b = await openVersionedStore('memory:versioned-memory-test');
  const other = await openVersionedStore('memory:versioned-memory-other');
  await a.txn([], [{ type: 'put', key: 'k', value: '"v"' }]);
  assert.equal((await b.get('k'))?.value, '"v"');
  assert.equal(await other.get('k'), null, 'another name, another store');
  await a.close();
  await assert.rejects(a.get('k'), (e: unknown) => e instanceof PodnetError && e.code === 'StoreClosed');
  assert.equal((await b.get('k'))?.value, '"v"');
  const again = await openVersionedStore('memory:versioned-memory-test', { create: false });
  assert.equal((await again.get('k'))?.value, '"v"');
  await assert.rejects(
    openVersionedStore('memory:never-written', { create: false }),
    (e: unknown) => e instanceof PodnetError && e.code === 'StoreNotFound',
  );
});

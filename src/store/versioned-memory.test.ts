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

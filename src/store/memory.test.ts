import { MemoryStore } from './memory.js';
import { storeContract } from './testing/contract.js';

// The memory store holds only objects it validated itself, so no corruption applies to it.
storeContract('memory', {
  open: async (opts) => new MemoryStore(opts),
  corrupt: async () => {
    throw new Error('not applicable');
  },
  lowestFirst: true,
  quarantineSlackMs: 0,
  kinds: [],
});

import { MemoryStore } from './memory.js';
import { storeContract } from './testing/contract.js';

storeContract('memory', {
  open: async (opts) => new MemoryStore(opts),
  // Foreign data written through the versioned store underneath, as another program sharing it could.
  corrupt: async (store, kind) => {
    const write = (key: string, value: string) => store.kv.txn([], [{ type: 'put', key, value }]);
    if (kind === 'foreign-block') {
      const row = {
        block: '192.168.9.0/24',
        nodeName: 'foreign',
        nodeIp: '10.0.0.9',
        pool: 'p',
        maxPods: 30,
      };
      await write(
        'blocks/192.168.9.0-24',
        JSON.stringify({ ...row, claimedAt: 0, renewedAt: 0, expiresAt: null, quarantineUntil: null }),
      );
      return 'key blocks/192.168.9.0-24';
    }
    const rec = JSON.parse((await store.kv.get('cluster'))?.value as string);
    await write(
      'cluster',
      kind === 'bad-json' ? '{"schemaVersion":1,' : JSON.stringify({ ...rec, schemaVersion: 99 }),
    );
    return 'key cluster';
  },
  lowestFirst: true,
  quarantineSlackMs: 0,
});

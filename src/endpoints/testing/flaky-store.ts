/**
 * The memory versioned store as tests need it around the endpoint publisher: it counts write transactions
 * (store writes per pod start) and can be made unreachable (`down`), as an etcd behind a partition is.
 */
import { PodnetError } from '../../errors/index.js';
import { MemoryVersionedStore } from '../../store/versioned-memory.js';
import type { Compare, TxnOp } from '../../store/versioned.js';

export class FlakyStore extends MemoryVersionedStore {
  writes = 0;
  down = false;
  private check(): void {
    if (this.down)
      throw new PodnetError('StoreUnreachable', 'the store is unreachable (test)', { retryable: true });
  }
  override async txn(c: Compare[], ops: TxnOp[]) {
    this.check();
    this.writes++;
    return super.txn(c, ops);
  }
  override async list(prefix: string) {
    this.check();
    return super.list(prefix);
  }
  override async grantLease(ttl: number) {
    this.check();
    return super.grantLease(ttl);
  }
  override async keepAlive(lease: string) {
    this.check();
    return super.keepAlive(lease);
  }
}

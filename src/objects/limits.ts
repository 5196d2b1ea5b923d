/**
 * One apply or delete is one store transaction, so it must fit what etcd accepts in one: at most 128
 * compares and 128 operations (`--max-txn-ops`, default 128) and a request of at most 1.5 MiB
 * (`--max-request-bytes`, default 1572864). A larger invocation is refused whole, with the limit named, rather
 * than split into several transactions that would break the all-or-nothing promise.
 */
import { PodnetError } from '../errors/index.js';
import type { Compare, TxnOp } from '../store/versioned.js';

export const MAX_TXN_OPS = 128;
/** etcd's default request limit, less room for the request's own framing. */
export const MAX_TXN_BYTES = 1_572_864 - 16 * 1024;

export function checkTxnSize(compares: Compare[], ops: TxnOp[], verb: 'apply' | 'delete'): void {
  const count = Math.max(compares.length, ops.length);
  const bytes = ops.reduce(
    (n, op) => n + op.key.length + (op.type === 'put' ? Buffer.byteLength(op.value) : 0),
    0,
  );
  if (count <= MAX_TXN_OPS && bytes <= MAX_TXN_BYTES) return;
  throw new PodnetError(
    'TransactionTooLarge',
    count > MAX_TXN_OPS
      ? `this ${verb} needs ${count} store operations in one transaction, more than the ${MAX_TXN_OPS} etcd allows; nothing was changed`
      : `this ${verb} writes ${bytes} bytes in one transaction, more than the ${MAX_TXN_BYTES} etcd accepts; nothing was changed`,
    {
      field: verb === 'apply' ? '--filename' : 'KIND',
      hint:
        verb === 'apply'
          ? 'split the manifests into several podnet apply runs (each one is atomic on its own)'
          : 'delete the objects inside the namespace in smaller groups first, then the namespace',
      details: { operations: count, bytes, maxOperations: MAX_TXN_OPS, maxBytes: MAX_TXN_BYTES },
    },
  );
}

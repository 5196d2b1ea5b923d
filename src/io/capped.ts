/**
 * Reading input with a cap: a file is checked by its size before it is read, standard input is read in chunks
 * and given up on as soon as it passes the cap, so a wrong stream (a log, /dev/zero, a runaway pipe) never
 * lands in memory. Every command that reads `-f FILE` or `-f -` goes through here.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class InputTooLarge extends Error {
  /** `bytes`: a file's size, or (`stream`) how much of a stream was read before giving up. */
  constructor(
    readonly bytes: number,
    readonly stream: boolean,
  ) {
    super(`${stream ? 'more than ' : ''}${bytes} bytes`);
  }
}

/**
 * The bytes of `path` (`-` = standard input), at most `maxBytes`; throws InputTooLarge past it, and the fs
 * errors otherwise
 * (ENOENT, EACCES, EISDIR; `ENOTFILE` for a path that is not a regular file).
 */
export function readCapped(path: string, maxBytes: number): Buffer {
  const fd = path === '-' ? 0 : openSync(path, 'r');
  try {
    if (fd !== 0) {
      const st = fstatSync(fd);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
      if (st.size > maxBytes) throw new InputTooLarge(st.size, false);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        // A non-blocking stdin (a terminal, some pipes) has nothing yet: wait a moment and read again.
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new InputTooLarge(maxBytes, true);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

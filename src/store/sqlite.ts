/**
 * Opening SQLite files the way every podnet store on one host does (the cluster store of versioned-sqlite.ts,
 * the node-local pod addresses): WAL, a busy timeout that queues writers, every change in BEGIN IMMEDIATE,
 * so several processes (agents, the CLI) share a file safely; files root-only.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PodnetError } from '../errors/index.js';

/** Opens a SQLite file with WAL and a busy timeout; retries the few moments a first open may find it locked. */
export function openSqliteFile(path: string, what: string): Database.Database {
  try {
    // Only root (the agents, the operator) may read or change the store: folders it creates are 0700, the
    // file 0600 (SQLite gives its -wal and -shm files the file's mode).
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600); // a file an older podnet left readable is closed too
  } catch {
    // the open below reports the unusable path
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 15_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return db;
    } catch (e) {
      db?.close();
      lastError = e;
      if ((e as { code?: string }).code === 'SQLITE_NOTADB') {
        throw new PodnetError(
          'StoreCorrupt',
          `the file ${path} is not a podnet ${what}: ${(e as Error).message}`,
          {
            field: '--store',
            hint: 'point --store at a podnet store file, or a new path to create one',
            cause: e,
          },
        );
      }
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') break;
    }
  }
  throw new PodnetError(
    'StoreUnreachable',
    `cannot open the ${what} ${path}: ${(lastError as Error)?.message}`,
    {
      field: '--store',
      hint: 'check that the directory exists and is writable by this user',
      retryable: true,
      cause: lastError,
    },
  );
}

/**
 * Runs `fn` in BEGIN IMMEDIATE. Writers queue on the busy timeout; one that waited it out gets a retryable
 * error instead of a raw SQLite one.
 */
export function immediate<T>(db: Database.Database, what: string, fn: () => T): T {
  try {
    return db.transaction(fn).immediate();
  } catch (e) {
    if (
      (e as { code?: string }).code === 'SQLITE_BUSY' ||
      (e as { code?: string }).code === 'SQLITE_LOCKED'
    ) {
      throw new PodnetError('StoreBusy', `${what} is locked by other writers: ${(e as Error).message}`, {
        hint: 'many processes write at once; retry in a moment',
        retryable: true,
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * Level-based watching for stores without push notifications (SQLite, memory): poll a cheap change marker and
 * the next lease expiry; when either moved, re-list and report the full snapshot if it differs from the last.
 */
import type { BlockLease } from './types.js';

export interface PollSource {
  /** A value that changes whenever the data may have changed (a counter, PRAGMA data_version). */
  marker(): unknown;
  list(): Promise<BlockLease[]>;
}

export async function pollWatch(
  source: PollSource,
  onChange: (leases: BlockLease[]) => void,
  intervalMs: number,
): Promise<() => void> {
  let last = '';
  let marker: unknown;
  let nextExpiry = Number.POSITIVE_INFINITY;
  let stopped = false;
  const refresh = async () => {
    marker = source.marker();
    const leases = await source.list();
    nextExpiry = Math.min(
      ...leases.map((l) => (l.expiresAt ? Date.parse(l.expiresAt) : Number.POSITIVE_INFINITY)),
    );
    const sig = JSON.stringify(leases);
    if (sig !== last && !stopped) {
      last = sig;
      onChange(leases);
    }
  };
  await refresh();
  let busy = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    if (source.marker() === marker && Date.now() < nextExpiry) return;
    busy = true;
    refresh()
      .catch(() => {}) // a failed poll is retried on the next tick; the watcher keeps the last good snapshot
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * Level-based watching for every backend: poll a cheap change marker (a write counter, PRAGMA data_version, a
 * count of etcd watch events) and the time the data next changes by itself (a lease expiring); when either
 * moved, read again and report the snapshot if it differs from the last one reported.
 */

export interface PollSource<T> {
  /** A value that changes whenever the data may have changed. */
  marker(): unknown;
  read(): Promise<T>;
  /** When this snapshot changes with no write (ms since the epoch); never when absent. */
  nextChangeAt?(snapshot: T): number;
}

export async function pollWatch<T>(
  source: PollSource<T>,
  onChange: (snapshot: T) => void,
  intervalMs: number,
): Promise<() => void> {
  let last = '';
  let marker: unknown;
  let nextChange = Number.POSITIVE_INFINITY;
  let stopped = false;
  const refresh = async () => {
    marker = source.marker();
    const snapshot = await source.read();
    nextChange = source.nextChangeAt?.(snapshot) ?? Number.POSITIVE_INFINITY;
    const sig = JSON.stringify(snapshot);
    if (sig !== last && !stopped) {
      last = sig;
      onChange(snapshot);
    }
  };
  await refresh();
  let busy = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    if (source.marker() === marker && Date.now() < nextChange) return;
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

/** When the first of these leases expires: a block watch must report the expiry though nobody wrote. */
export function nextExpiry(leases: { expiresAt: string | null }[]): number {
  return Math.min(...leases.map((l) => (l.expiresAt ? Date.parse(l.expiresAt) : Number.POSITIVE_INFINITY)));
}

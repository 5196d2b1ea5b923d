/**
 * The logs of the agent and of the lab's daemons (fabric router, NSG enforcer, load balancer, kubelet): one
 * JSON object per line on stderr, leading with `ts` (RFC 3339 UTC), `level`, `msg` (a constant string),
 * `component`, then keys (`node`, `block`, `code`, `err`), as operators know from Kubernetes' JSON log format.
 */
import { type Logger, destination, pino } from 'pino';

export type { Logger };

export function agentLogger(level: string, dest: NodeJS.WritableStream | number = 2): Logger {
  return daemonLogger({ component: 'agent' }, level, dest);
}

/** A daemon's logger; `base` (its `component` and identifying keys) leads every line. */
export function daemonLogger(
  base: { component: string } & Record<string, unknown>,
  level = 'info',
  dest: NodeJS.WritableStream | number = 2,
): Logger {
  return pino(
    {
      level,
      base,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes: a daemon killed right after logging still leaves the line behind.
    typeof dest === 'number' ? destination({ dest, sync: true }) : dest,
  );
}

/** Error fields for a log line: the stable code when there is one, and the message. */
export function errFields(err: unknown): { code?: string; err: string } {
  const code = (err as { code?: unknown })?.code;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    err: err instanceof Error ? err.message : String(err),
  };
}

/**
 * A warning that may come in floods (every malformed connection to the agent's socket: one probe run logged
 * 3,425 of them): the first is logged at once, then at most one line per `intervalMs`, carrying how many were
 * left out since the last line (`suppressed`), so the log shows the rate without the flood.
 */
export function throttledWarn(
  log: Logger,
  msg: string,
  intervalMs = 10_000,
  now: () => number = Date.now,
): (fields: Record<string, unknown>) => void {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (fields) => {
    const t = now();
    if (t - last < intervalMs) {
      suppressed++;
      return;
    }
    log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    last = t;
    suppressed = 0;
  };
}

/**
 * The agent's logs: one JSON object per line on stderr, leading with `ts` (RFC 3339 UTC), `level`, `msg`
 * (a constant string), `component`, then keys (`node`, `block`, `code`, `err`), as operators know from
 * Kubernetes' JSON log format.
 */
import { type Logger, destination, pino } from 'pino';

export type { Logger };

export function agentLogger(level: string, dest: NodeJS.WritableStream | number = 2): Logger {
  return pino(
    {
      level,
      base: { component: 'agent' },
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

/**
 * Every CNI call the agent serves, observed once it is answered: one JSON log line with a stable `msg` per
 * command (`cni add`, `cni del`, `cni check`, `cni gc`, ...) carrying the container id, pod, namespace,
 * interface, address, CNI result code and duration, and the `podnet_cni_requests_total{command,result}` and
 * `podnet_cni_request_duration_seconds{command}` metrics. The CNI error's own `code` is logged, so a runtime's
 * error and the agent's line join on it.
 */
import { parseCniArgs } from '../cni/protocol.js';
import type { CniRequest, CniResponse } from '../cni/types.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;

/** The log fields of one answered call (pure). */
export function cniLogFields(
  req: CniRequest,
  res: CniResponse,
  seconds: number,
): { command: string; level: 'info' | 'debug' | 'warn'; msg: string; fields: Record<string, unknown> } {
  const raw = req.env.CNI_COMMAND ?? '';
  // Label values stay bounded: an unknown command is `invalid`, never the text a caller sent.
  const command = (COMMANDS as readonly string[]).includes(raw) ? raw : 'invalid';
  const args = parseCniArgs(req.env.CNI_ARGS ?? '');
  let body: { code?: unknown; msg?: unknown; ips?: { address?: unknown }[] } = {};
  try {
    body = res.stdout ? (JSON.parse(res.stdout) as typeof body) : {};
  } catch {
    // a result that is not JSON is logged without its fields
  }
  const ok = res.exitCode === 0;
  const fields: Record<string, unknown> = {
    command,
    containerId: req.env.CNI_CONTAINERID || undefined,
    pod: args.K8S_POD_NAME,
    ns: args.K8S_POD_NAMESPACE,
    ifname: req.env.CNI_IFNAME || undefined,
    address: ok ? body.ips?.map((i) => i.address).filter((a) => typeof a === 'string') : undefined,
    result: ok ? 0 : typeof body.code === 'number' ? body.code : 999,
    err: ok ? undefined : typeof body.msg === 'string' ? body.msg : undefined,
    durationSeconds: Math.round(seconds * 1e6) / 1e6,
  };
  // Runtimes call STATUS and VERSION often; they stay at debug unless they fail.
  const level = !ok ? 'warn' : command === 'STATUS' || command === 'VERSION' ? 'debug' : 'info';
  return { command, level, msg: `cni ${command.toLowerCase()}`, fields };
}

/** The observer the agent's CNI endpoint calls after every answer. */
export function cniObserver(log: Logger, metrics: AgentMetrics) {
  return (req: CniRequest, res: CniResponse, seconds: number): void => {
    const { command, level, msg, fields } = cniLogFields(req, res, seconds);
    metrics.cniRequests.inc({ command, result: res.exitCode === 0 ? 'ok' : 'error' });
    metrics.cniDuration.observe({ command }, seconds);
    log[level](fields, msg);
  };
}

/**
 * The agent's settings, parsed and checked from its command-line flags before anything starts (pure), so a
 * typo fails at once with the flag named instead of half-way through start-up.
 */
import { formatIp, parseIp } from '../addr/index.js';
import { type ErrorCode, PodnetError } from '../errors/index.js';

export type PeerRoutesMode = 'direct' | 'off';

export interface AgentConfig {
  /** Cluster store URL (`sqlite:PATH` or `etcd:URL`). */
  store: string;
  node: string;
  nodeIp: string;
  /** The node's IPv6 VNet address (dual-stack clusters: where peers route its IPv6 block); null = none. */
  nodeIp6: string | null;
  /** Node pool; null = the first pool of the cluster profile. */
  pool: string | null;
  /** Named network namespace the node lives in; null = the agent's own. */
  netns: string | null;
  socket: string;
  stateDir: string;
  metrics: { socket: string } | { port: number } | null;
  peerRoutes: PeerRoutesMode;
  leaseTtlSeconds: number;
  /** How often the dataplane and the cluster record are re-checked besides store changes. */
  resyncSeconds: number;
  /** Port of the proxy's `/healthz` and of the health check node ports (kube-proxy's); null = not served. */
  proxyHealthzPort: number | null;
  logLevel: string;
  /**
   * Serve cluster DNS to the node's pods (src/agent/dns.ts), relaying other names to `upstream` (none: they
   * are refused); null = not served.
   */
  clusterDns: { upstream: { host: string; port: number } | null } | null;
}

/** Flags as commander hands them over (strings, undefined when not given). */
export interface AgentFlags {
  store?: string;
  node?: string;
  nodeIp?: string;
  nodeIp6?: string;
  pool?: string;
  netns?: string;
  socket?: string;
  stateDir?: string;
  metricsSocket?: string;
  metricsPort?: string;
  peerRoutes?: string;
  leaseTtl?: string;
  resync?: string;
  proxyHealthzPort?: string;
  logLevel?: string;
  clusterDns?: boolean;
  dnsUpstream?: string;
}

export const AGENT_DEFAULTS = {
  socket: '/run/podnet/agent.sock',
  stateDir: '/var/lib/podnet',
  peerRoutes: 'direct' as PeerRoutesMode,
  leaseTtlSeconds: 86_400,
  resyncSeconds: 10,
  logLevel: 'info',
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
// Kubernetes node names: DNS subdomain (lower case alphanumerics, '-' and '.'), at most 253 characters.
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
// A netns name becomes a path under /run/netns: no slashes, no dot names.
const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

function required(v: string | undefined, flag: string, example: string): string {
  if (v === undefined || v.trim() === '') {
    throw new PodnetError('UsageError', `${flag} is required`, {
      field: flag,
      hint: `pass ${flag} ${example}`,
    });
  }
  return v.trim();
}

function wholeNumber(v: string, flag: string, min: number, max: number, code: ErrorCode): number {
  const n = /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new PodnetError(code, `${flag} must be a whole number from ${min} to ${max}, got "${v}"`, {
      field: flag,
      hint: `pass ${flag} with a value between ${min} and ${max}`,
    });
  }
  return n;
}

export function parseAgentFlags(f: AgentFlags): AgentConfig {
  const store = required(f.store, '--store', 'sqlite:/var/lib/podnet/cluster.db');
  const node = required(f.node, '--node', 'node-1');
  if (!NODE_NAME.test(node)) {
    throw new PodnetError('InvalidNodeName', `node name "${node.slice(0, 64)}" is not a valid node name`, {
      field: '--node',
      hint: 'use lower-case letters, digits, "-" and "." (a Kubernetes node name), e.g. aks-nodepool1-0',
    });
  }
  const nodeIp = formatIp(parseIp(required(f.nodeIp, '--node-ip', '10.224.0.4'), '--node-ip'));
  const nodeIp6 = f.nodeIp6 === undefined ? null : formatIp(parseIp(f.nodeIp6.trim(), '--node-ip6'));
  if (nodeIp6 !== null && !nodeIp6.includes(':')) {
    throw new PodnetError('UsageError', `--node-ip6 must be an IPv6 address, got "${nodeIp6}"`, {
      field: '--node-ip6',
      hint: "pass the node's IPv6 VNet address, e.g. --node-ip6 fd00:10::4",
    });
  }
  if (f.netns !== undefined && !NETNS_NAME.test(f.netns)) {
    throw new PodnetError('InvalidNetnsName', `"${f.netns.slice(0, 64)}" is not a network namespace name`, {
      field: '--netns',
      hint: 'give the name as `ip netns list` shows it (a namespace under /run/netns)',
    });
  }
  if (f.metricsSocket !== undefined && f.metricsPort !== undefined) {
    throw new PodnetError('UsageError', '--metrics-socket and --metrics-port exclude each other', {
      field: '--metrics-port',
      hint: 'serve metrics on either a unix socket or a loopback port',
    });
  }
  const metrics =
    f.metricsSocket !== undefined
      ? { socket: required(f.metricsSocket, '--metrics-socket', '/run/podnet/metrics.sock') }
      : f.metricsPort !== undefined
        ? { port: wholeNumber(f.metricsPort, '--metrics-port', 1, 65_535, 'InvalidMetricsPort') }
        : null;
  const peerRoutes = f.peerRoutes ?? AGENT_DEFAULTS.peerRoutes;
  if (peerRoutes !== 'direct' && peerRoutes !== 'off') {
    throw new PodnetError(
      'InvalidPeerRoutesMode',
      `--peer-routes must be direct or off, got "${peerRoutes}"`,
      {
        field: '--peer-routes',
        hint: 'direct: the agent routes to peers on its own subnets; off: a fabric router does it',
      },
    );
  }
  const logLevel = f.logLevel ?? AGENT_DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new PodnetError('InvalidLogLevel', `--log-level must be one of ${LOG_LEVELS.join(', ')}`, {
      field: '--log-level',
      hint: 'use --log-level info (or debug to see every reconcile)',
    });
  }
  return {
    store,
    node,
    nodeIp,
    nodeIp6,
    pool: f.pool?.trim() || null,
    netns: f.netns ?? null,
    socket: f.socket ?? AGENT_DEFAULTS.socket,
    stateDir: f.stateDir ?? AGENT_DEFAULTS.stateDir,
    metrics,
    peerRoutes,
    // At least a few seconds: renewal runs at a third of the TTL.
    leaseTtlSeconds:
      f.leaseTtl === undefined
        ? AGENT_DEFAULTS.leaseTtlSeconds
        : wholeNumber(f.leaseTtl, '--lease-ttl', 6, 31_536_000, 'InvalidLeaseTtl'),
    resyncSeconds:
      f.resync === undefined
        ? AGENT_DEFAULTS.resyncSeconds
        : wholeNumber(f.resync, '--resync', 1, 3600, 'InvalidResync'),
    proxyHealthzPort:
      f.proxyHealthzPort === undefined
        ? null
        : wholeNumber(f.proxyHealthzPort, '--proxy-healthz-port', 1, 65_535, 'UsageError'),
    logLevel,
    clusterDns:
      f.clusterDns || f.dnsUpstream !== undefined
        ? { upstream: f.dnsUpstream === undefined ? null : dnsUpstream(f.dnsUpstream) }
        : null,
  };
}

/** `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 when left out). */
function dnsUpstream(v: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v.trim()) ?? /^([^:]+)(?::(\d+))?$/.exec(v.trim());
  const bad = () =>
    new PodnetError(
      'InvalidDnsUpstream',
      `--dns-upstream must be IP, IP:PORT or [IPv6]:PORT, got "${v.slice(0, 64)}"`,
      {
        field: '--dns-upstream',
        hint: 'pass the upstream resolver, e.g. --dns-upstream 203.0.113.10:53',
      },
    );
  const host = m?.[1] ?? (v.includes(':') && !v.includes('.') ? v.trim() : undefined);
  if (!host) throw bad();
  let ip: string;
  try {
    ip = formatIp(parseIp(host, '--dns-upstream'));
  } catch {
    throw bad();
  }
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw bad();
  return { host: ip, port };
}

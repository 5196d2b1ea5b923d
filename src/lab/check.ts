/**
 * `lab check`: real TCP probes through the lab, each one expecting what `podnet trace` decides for it over the
 * lab's objects (the profile, its pods, the NetworkPolicies and NSGs in force): the route, SNAT (the source
 * the receiver must see), the NSGs and the policies. The choice of probes and their expectations are pure
 * (`planProbes`); running them starts one listener per receiving namespace, which reports the source address
 * it saw, and connects from the sending namespace with `nc`. A probe that disagrees keeps the trace that
 * explains what was expected.
 */
import { fileURLToPath } from 'node:url';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../kernel/process.js';
import type { ClusterOutbound } from '../outbound/model.js';
import type { FirewallFlow } from '../outbound/render.js';
import type { OutboundType } from '../profile/types.js';
import { type TraceResult, type TraceWorld, compileWorld, trace } from '../trace/trace.js';
import type { Vnet } from '../vnet/model.js';
import type { LabState } from './model.js';
import { waitFor } from './processes.js';

export type ProbeKind =
  | 'pod-pod-same-node'
  | 'pod-pod-cross-node'
  | 'pod-pod-cross-pool'
  | 'pod-external'
  | 'external-pod'
  | 'node-pod';

export interface Endpoint {
  /** `pod/NAME`, `node/NAME` or `external/NAME`. */
  name: string;
  netns: string;
  ip: string;
  /** How trace names it: `NAMESPACE/NAME` for a pod, else its address. */
  at: string;
}

export interface PlannedProbe {
  from: Endpoint;
  to: Endpoint;
  kind: ProbeKind;
  /** 6 for a dual-stack lab's IPv6 twin of a probe (the ends' IPv6 addresses); IPv4 probes leave it out. */
  family?: 6;
  /** The TCP port it connects to. */
  port: number;
  /** trace's verdict on the probe's first packet, and the source address the receiver must see. */
  expect: 'allow' | 'deny';
  source?: string;
  /** The trace the expectation comes from (none for a probe planned by hand). */
  trace?: TraceResult;
}

export interface ProbeResult {
  from: string;
  to: string;
  kind: ProbeKind;
  family?: 6;
  expect: 'allow' | 'deny';
  /** What decided the expected verdict, as trace names it (`nsg user-nsg deny-web`). */
  decidedBy: string;
  ok: boolean;
  sourceSeen: string | null;
  /** The trace of the expected verdict, for a probe that did not agree with it. */
  trace?: TraceResult;
  /** The source the receiver had to see (allowed probes). */
  source?: string;
  connected: boolean;
  /** What the sender's `nc` said when it could not connect (refused, timed out, unreachable). */
  detail: string | null;
  durationSeconds: number;
}

/** trace's decisions in one line: `nsg user-nsg deny-web; networkpolicy shop/db ingress[0]`. */
export function decisionText(r: TraceResult): string {
  const parts = r.decidedBy.map(
    (d) => `${d.layer}${d.object ? ` ${d.object}` : ''}${d.rule !== null ? ` ${d.rule}` : ''}`,
  );
  return parts.length > 0 ? parts.join('; ') : '-';
}

type Unexpected = Omit<PlannedProbe, 'port' | 'expect' | 'source' | 'trace'>;

/** The families a lab's probes run in: IPv6 too when its nodes have IPv6 addresses (a dual-stack lab). */
export const labFamilies = (state: LabState): (4 | 6)[] => (state.nodes.some((n) => n.ip6) ? [4, 6] : [4]);

/**
 * The probe matrix: for each node with two pods, pod to pod on the node; a ring over all nodes (so every
 * node's pods are covered, new ones after `scale` too) from each node's first pod to the next node's, which
 * is `cross-pool` when the two nodes' pools differ; each node to the next node's first pod; each node's first
 * pod to every external host; every external host to each node's first pod. Each expects trace's verdict on
 * a TCP connection to `port` over `world` (with no NSG or policy: all pass, the outside hosts see the node IP
 * by SNAT, and the outside hosts cannot reach pods). A dual-stack lab runs the same matrix again over the ends'
 * IPv6 addresses, each expecting trace's verdict on that IPv6 flow (SNAT to the node's IPv6 address).
 */
export function planProbes(state: LabState, vnet: Vnet, world: TraceWorld, port: number): PlannedProbe[] {
  const compiled = compileWorld(world);
  return labFamilies(state)
    .flatMap((f) => probeMatrix(state, vnet, f))
    .map((p) => {
      const t = trace(world, { from: p.from.at, to: p.to.at, protocol: 'TCP', port, state: 'new' }, compiled);
      return {
        ...p,
        port,
        expect: t.verdict,
        ...(t.verdict === 'allow' ? { source: t.sourceSeen } : {}),
        trace: t,
      };
    });
}

function probeMatrix(state: LabState, vnet: Vnet, family: 4 | 6): Unexpected[] {
  const v6 = family === 6;
  const poolOrder = state.profile.nodePools.map((p) => p.name);
  const nodes = [...state.nodes].sort(
    (a, b) =>
      poolOrder.indexOf(a.pool) - poolOrder.indexOf(b.pool) ||
      a.name.localeCompare(b.name, 'en', { numeric: true }),
  );
  // trace names an IPv4 pod by name (its first address); an IPv6 flow by the pod's IPv6 address.
  const podsOf = (node: string) =>
    state.pods
      .filter((p) => p.node === node && (v6 ? p.ip6 : p.ip))
      .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
      .map((p) => ({
        name: `pod/${p.name}`,
        netns: p.netns,
        ip: (v6 ? p.ip6 : p.ip) as string,
        at: v6 ? (p.ip6 as string) : `${p.namespace}/${p.name}`,
      }));
  const probes: Unexpected[] = [];
  const tag = v6 ? { family: 6 as const } : {};
  for (const n of nodes) {
    const pods = podsOf(n.name);
    if (pods.length >= 2) {
      probes.push({ from: pods[0], to: pods[1], kind: 'pod-pod-same-node', ...tag });
    }
  }
  if (nodes.length >= 2) {
    nodes.forEach((n, i) => {
      const next = nodes[(i + 1) % nodes.length];
      if (nodes.length === 2 && i === 1) return; // the ring of two is one pair each way; keep one direction
      const [a] = podsOf(n.name);
      const [b] = podsOf(next.name);
      if (a && b) {
        const kind = n.pool === next.pool ? 'pod-pod-cross-node' : 'pod-pod-cross-pool';
        probes.push({ from: a, to: b, kind, ...tag });
      }
    });
  }
  nodes.forEach((n, i) => {
    const next = nodes[(i + 1) % nodes.length];
    const [b] = podsOf(next.name);
    const ip = v6 ? n.ip6 : n.ip;
    if (b && ip) {
      const from = { name: `node/${n.name}`, netns: n.netns, ip, at: ip };
      probes.push({ from, to: b, kind: 'node-pod', ...tag });
    }
  });
  for (const n of nodes) {
    const [a] = podsOf(n.name);
    if (!a) continue;
    for (const h of vnet.externalHosts) {
      const ip = v6 ? h.ip6 : h.ip;
      if (!ip) continue;
      const host = { name: `external/${h.name}`, netns: h.netns, ip, at: ip };
      probes.push({ from: a, to: host, kind: 'pod-external', ...tag });
      probes.push({ from: host, to: a, kind: 'external-pod', ...tag });
    }
  }
  return probes;
}

/** Judges one probe: allowed ones must connect with the expected source, denied ones must not connect. */
export function judge(
  p: Pick<PlannedProbe, 'expect' | 'source'>,
  connected: boolean,
  sourceSeen: string | null,
): boolean {
  return p.expect === 'allow' ? connected && sourceSeen === p.source : !connected && sourceSeen === null;
}

interface Listener {
  child: NetnsProcess;
  seen: Map<string, string | null>;
}

async function startListener(netns: string, port: number, dual: boolean): Promise<Listener> {
  const script = fileURLToPath(new URL('./probe-listener.js', import.meta.url));
  const child = spawnInNetns(netns, [process.execPath, script, String(port), ...(dual ? ['::'] : [])]);
  const seen = new Map<string, string | null>();
  let ready = false;
  let buf = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    buf += d;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'ready') ready = true;
      else {
        const m = JSON.parse(line) as { tag: string; peer: string | null };
        seen.set(m.tag, m.peer);
      }
      i = buf.indexOf('\n');
    }
  });
  await waitFor(`a probe listener in ${netns}`, 10_000, async () => (ready ? true : undefined));
  return { child, seen };
}

const CONNECT_TIMEOUT_S = 2;

async function runProbe(p: PlannedProbe, tag: string, l: Listener): Promise<ProbeResult> {
  const started = performance.now();
  const r = await execInNetns(
    p.from.netns,
    ['nc', '-v', '-N', '-w', String(CONNECT_TIMEOUT_S), p.to.ip, String(p.port)],
    {
      input: `${tag}\n`,
      timeoutMs: (CONNECT_TIMEOUT_S + 3) * 1000,
    },
  );
  const connected = r.code === 0;
  let sourceSeen: string | null = null;
  if (connected) {
    // The listener prints after the sender closed; give its line a moment to arrive.
    sourceSeen = await waitFor(`probe ${tag} to be seen`, 2000, async () =>
      l.seen.has(tag) ? l.seen.get(tag) : undefined,
    ).catch(() => null);
  } else sourceSeen = l.seen.get(tag) ?? null;
  const ok = judge(p, connected, sourceSeen);
  return {
    from: p.from.name,
    to: p.to.name,
    kind: p.kind,
    ...(p.family ? { family: p.family } : {}),
    expect: p.expect,
    decidedBy: p.trace ? decisionText(p.trace) : '-',
    ok,
    sourceSeen,
    ...(ok || !p.trace ? {} : { trace: p.trace }),
    ...(p.source ? { source: p.source } : {}),
    connected,
    detail: connected ? null : r.stderr.trim() || null,
    durationSeconds: (performance.now() - started) / 1000,
  };
}

/** A port for one check's probes: below the ephemeral range (32768 up), so no client socket can hold it. */
export const probePort = () => 20_000 + Math.floor(Math.random() * 12_000);

/** Runs the probes (a few at a time, all to one port) and returns one result per probe, in plan order. */
export async function runProbes(probes: PlannedProbe[], concurrency = 4): Promise<ProbeResult[]> {
  const listeners = new Map<string, Listener>();
  const dual = probes.some((p) => p.family === 6);
  try {
    for (const p of probes)
      if (!listeners.has(p.to.netns))
        listeners.set(p.to.netns, await startListener(p.to.netns, p.port, dual));
    const results: ProbeResult[] = new Array(probes.length);
    let next = 0;
    const worker = async () => {
      while (next < probes.length) {
        const i = next++;
        const p = probes[i];
        results[i] = await runProbe(p, `probe-${i}`, listeners.get(p.to.netns) as Listener);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, probes.length) }, worker));
    return results;
  } finally {
    for (const l of listeners.values()) l.child.kill('SIGKILL');
  }
}

/** What the internet saw of the cluster's egress, against its outbound plan. */
export interface OutboundCheck {
  type: OutboundType;
  /** The address the plan (and so trace) says the internet sees. */
  publicIp: string;
  /** A dual-stack loadBalancer cluster's IPv6 outbound address, which its IPv6 probes must be seen from. */
  publicIp6?: string;
  /** The pods' probes to the internet host, and the sources it saw (one per probe, `null`: none). */
  probes: number;
  seen: (string | null)[];
  /** userDefinedRouting: how many of those flows the firewall logged (from the node, to the host and port). */
  logged?: number;
  ok: boolean;
}

/**
 * Judges the outbound type from the probes that ran (pods to the internet host; IPv6 ones only when the plan
 * has an IPv6 outbound address, else their egress leaves with the node's IPv6 address, which their own probes
 * check): every one seen from the plan's public address of its family and, behind a firewall, every one in its
 * log as the firewall saw it (from the sender's node). `log` is the firewall's log (null for the other types);
 * `nodeIp` maps a pod name to its node's address.
 */
export function judgeOutbound(
  outbound: ClusterOutbound,
  internet: string,
  probes: PlannedProbe[],
  results: ProbeResult[],
  log: FirewallFlow[] | null,
  nodeIp: (pod: string) => string | undefined,
): OutboundCheck {
  const out = probes
    .map((p, i) => ({ p, r: results[i] }))
    .filter(
      ({ p }) =>
        p.kind === 'pod-external' &&
        (p.family !== 6 || outbound.publicIp6 !== undefined) &&
        p.to.name === `external/${internet}`,
    );
  const expected = (p: PlannedProbe) => (p.family === 6 ? outbound.publicIp6 : outbound.publicIp);
  const seen = out.map(({ r }) => r.sourceSeen);
  const logged = log
    ? out.filter(({ p }) =>
        log.some(
          (f) =>
            f.source === nodeIp(p.from.name) &&
            f.destination === p.to.ip &&
            f.protocol === 'tcp' &&
            f.port === p.port,
        ),
      ).length
    : undefined;
  return {
    type: outbound.type,
    publicIp: outbound.publicIp,
    ...(outbound.publicIp6 ? { publicIp6: outbound.publicIp6 } : {}),
    probes: out.length,
    seen,
    ...(logged === undefined ? {} : { logged }),
    ok:
      out.every(({ p, r }) => r.sourceSeen === expected(p)) &&
      (logged === undefined || logged === out.length),
  };
}

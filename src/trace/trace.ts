/**
 * `podnet trace`: the verdict one flow gets through every layer podnet has objects for, and why. Pure: a
 * world of plain data in, the decision out. It runs the same engines the dataplane is made from (the
 * NetworkPolicy engine of src/policy, the NSG engine of src/nsg, the overlay's SNAT rule), in the order a packet
 * meets them:
 *
 *   route          outside hosts cannot open connections to pod addresses (the overlay is not routed to them)
 *   service        a ClusterIP or LoadBalancer frontend port: the proxy's DNAT to one of the service's endpoints
 *                  (service.ts, decided by the proxy's own code); every later layer is evaluated for each
 *                  endpoint the proxy may choose, and the flow is allowed only when each of them allows it
 *   nat            traffic leaving the pod CIDR takes its node's address (what the next layers see)
 *   networkpolicy  egress of the source pod, on its node
 *   nsg            the NSGs the packet crosses between two hosts: source NIC, source subnet, then destination
 *                  subnet, destination NIC (Azure's order; pods count as their node's NIC and subnet)
 *   outbound       to the internet, the cluster's outbound type: the hop that SNATs and its address (outbound.ts)
 *   networkpolicy  ingress of the destination pod, on its node
 *
 * A layer with no objects is not evaluated and does not change the verdict. Replies of an allowed connection
 * and connections admitted before the objects changed pass the stateful layers (NSGs, NetworkPolicy).
 */
import { containsIp, formatIp, parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { ingressIps, servedHere } from '../loadbalancer/frontends.js';
import { evaluateNsg } from '../nsg/evaluate.js';
import { vnetTagContext } from '../nsg/tags.js';
import type { Nic, Nsg, NsgDirection, NsgPacketProtocol } from '../nsg/types.js';
import type { ClusterOutbound } from '../outbound/model.js';
import {
  type CompiledPolicies,
  type DirectionOutcome,
  type FlowEnd,
  compilePolicies,
  evaluatePolicies,
} from '../policy/engine.js';
import type { NetworkPolicy, PolicyPod } from '../policy/types.js';
import type { ClusterProfile } from '../profile/types.js';
import type { Service } from '../services/types.js';
import { outboundStep } from './outbound.js';
import { type ServiceCandidate, type ServiceMatch, serviceMatch } from './service.js';

export type TraceLayer = 'route' | 'service' | 'nat' | 'nsg' | 'networkpolicy' | 'outbound';
export const TRACE_LAYERS: readonly TraceLayer[] = [
  'route',
  'service',
  'nat',
  'nsg',
  'networkpolicy',
  'outbound',
];

/** A pod as trace sees it: identity, labels, ports, where it runs. */
export interface TracePod extends PolicyPod {
  /** Its node's address (`status.hostIP`): SNAT's source and its NIC and subnet for NSGs. */
  hostIP?: string;
  /** Its node's addresses of both families (`status.hostIPs`, dual-stack): SNAT takes the one of the packet's family. */
  hostIPs?: string[];
}

export interface TraceWorld {
  profile?: ClusterProfile;
  namespaces: Map<string, Record<string, string>>;
  pods: TracePod[];
  policies: NetworkPolicy[];
  nsgs: Nsg[];
  nics: Nic[];
  /** The cluster's way out as its VNet carries it (a lab's plan); without it only the outbound type is known. */
  outbound?: ClusterOutbound;
  /** Services with their cluster IPs (and `status.loadBalancer` frontends); none = no service step. */
  services?: Service[];
}

export type TraceState = 'new' | 'reply' | 'established';

export interface TraceFlow {
  /** `NS/POD` or an address. */
  from: string;
  to: string;
  protocol: NsgPacketProtocol;
  port?: number;
  sourcePort?: number;
  state: TraceState;
  /**
   * For a flow to a service: the one endpoint to follow (`IP`, `IP:PORT` or `NAMESPACE/POD`); unset = every
   * endpoint the proxy may choose.
   */
  endpoint?: string;
}

export interface Decision {
  layer: TraceLayer;
  object: string | null;
  rule: string | number | null;
}

export interface Hop {
  layer: TraceLayer | 'endpoint';
  at: string;
  verdict: 'allow' | 'deny' | 'info';
  detail: string;
}

export interface TraceResult {
  verdict: 'allow' | 'deny';
  sourceSeen: string;
  decidedBy: Decision[];
  hops: Hop[];
  notEvaluated: TraceLayer[];
  /**
   * Set for a flow to a service port: what the proxy matched, and each endpoint it may choose with the verdict
   * the rest of the layers give the flow to it. `hops` follow one of them: `--endpoint`'s, else the first denied,
   * else the first.
   */
  service?: ServiceMatch & { endpoints: (ServiceCandidate & { verdict: 'allow' | 'deny' })[] };
}

/** One end of the flow, resolved: a pod, a node of the profile's subnets, or a host outside the cluster. */
interface End {
  ip: string;
  pod?: TracePod;
  /** The subnet (profile name) the address, or its pod's node, sits on. */
  subnet?: string;
  kind: 'pod' | 'node' | 'external';
}

function inCidrs(cidrs: readonly string[], ip: string): boolean {
  const a = parseIp(ip);
  return cidrs.some((c) => {
    const p = parseCidr(c);
    return p.family === a.family && containsIp(p, a);
  });
}

function subnetOf(profile: ClusterProfile | undefined, ip: string | undefined): string | undefined {
  if (!profile || !ip) return undefined;
  return profile.vnet.subnets.find((s) => inCidrs(s.cidr6 ? [s.cidr, s.cidr6] : [s.cidr], ip))?.name;
}

/** The world's pods by name, by address and by node address: built once per pod list, not per flow. */
interface PodIndex {
  pods: readonly TracePod[];
  size: number;
  byName: Map<string, TracePod>;
  byIp: Map<string, TracePod>;
  namespaces: Set<string>;
  nodeByHost: Map<string, string | undefined>;
  /** A node address -> all the addresses of that node, as its pods report them (`hostIPs`). */
  hostsByHost: Map<string, string[]>;
}

const podIndexes = new WeakMap<TraceWorld, PodIndex>();

function podIndex(world: TraceWorld): PodIndex {
  const known = podIndexes.get(world);
  if (known && known.pods === world.pods && known.size === world.pods.length) return known;
  const index: PodIndex = {
    pods: world.pods,
    size: world.pods.length,
    byName: new Map(),
    byIp: new Map(),
    namespaces: new Set(),
    nodeByHost: new Map(),
    hostsByHost: new Map(),
  };
  // The first pod wins every key, as a search of the list in order would find it.
  const first = <V>(m: Map<string, V>, k: string, v: V) => {
    if (!m.has(k)) m.set(k, v);
  };
  for (const p of world.pods) {
    first(index.byName, `${p.namespace}/${p.name}`, p);
    for (const ip of p.ips) first(index.byIp, ip, p);
    index.namespaces.add(p.namespace);
    const hosts = podHostIps(p);
    for (const h of hosts) {
      first(index.nodeByHost, h, p.node);
      first(index.hostsByHost, h, hosts);
    }
  }
  podIndexes.set(world, index);
  return index;
}

function resolveEnd(world: TraceWorld, text: string, field: string): End {
  const index = podIndex(world);
  if (text.includes('/') && !/^[0-9a-fA-F:.]+\/\d+$/.test(text)) {
    const [ns, name] = text.split('/');
    if (!world.namespaces.has(ns) && !index.namespaces.has(ns)) {
      throw new PodnetError('TraceUnknownNamespace', `no namespace "${ns}" in the objects given`, {
        field,
        hint: 'give the pod as NAMESPACE/NAME of a Pod in the files or the store',
      });
    }
    const pod = index.byName.get(`${ns}/${name}`);
    if (!pod) {
      throw new PodnetError('TraceUnknownPod', `no pod "${text}" in the objects given`, {
        field,
        hint: 'list them with podnet get pods -A; a Pod needs status.podIP to be traced',
      });
    }
    if (pod.ips.length === 0) {
      throw new PodnetError('TraceUnknownPod', `pod "${text}" has no address (status.podIP)`, {
        field,
        hint: 'trace a pod that runs, or give its address',
      });
    }
    return { ip: pod.ips[0], pod, kind: 'pod', subnet: subnetOf(world.profile, pod.hostIP) };
  }
  let ip: string;
  try {
    ip = formatIp(parseIp(text));
  } catch {
    throw new PodnetError('TraceBadFlow', `"${text}" is neither NAMESPACE/POD nor an IP address`, {
      field,
      hint: 'e.g. default/web or 10.244.1.7',
    });
  }
  const pod = index.byIp.get(ip);
  if (pod) return { ip, pod, kind: 'pod', subnet: subnetOf(world.profile, pod.hostIP) };
  const subnet = subnetOf(world.profile, ip);
  return { ip, kind: subnet ? 'node' : 'external', subnet };
}

function describe(e: End): string {
  return e.pod ? `pod/${e.pod.namespace}/${e.pod.name} (${e.ip})` : `${e.kind} ${e.ip}`;
}

function policyHop(direction: 'egress' | 'ingress', d: DirectionOutcome, at: string): Hop {
  const detail: Record<DirectionOutcome['outcome'], string> = {
    allowed: d.outcome === 'allowed' ? `admitted by ${d.by.policy} ${direction}[${d.by.index}]` : '',
    denied:
      d.outcome === 'denied' ? `isolated by ${d.isolatedBy.join(', ')}, and no rule admits the flow` : '',
    'not-isolated': `no policy isolates it for ${direction}`,
    'not-a-pod': 'not a pod: no NetworkPolicy applies',
    'node-local': "from the pod's own node: always allowed",
    self: 'a pod to itself: always allowed',
  };
  return {
    layer: 'networkpolicy',
    at,
    verdict: d.outcome === 'denied' ? 'deny' : d.outcome === 'allowed' ? 'allow' : 'info',
    detail: `${direction}: ${detail[d.outcome]}`,
  };
}

/** The NSGs a packet between two ends crosses, in Azure's order, with the direction each sees it in. */
function nsgPath(
  world: TraceWorld,
  src: End,
  dst: End,
): { nsg: Nsg; direction: NsgDirection; where: string }[] {
  // A pod meets the NIC of its node, whichever of the node's addresses (`hostIPs`) the NIC lists.
  const nicOf = (e: End) => {
    const ips = endHostIps(world, e);
    return world.nics.find((n) => n.ips.some((ip) => ips.includes(ip)));
  };
  const bySubnet = (s?: string) => (s ? world.nsgs.find((n) => n.subnets.includes(s)) : undefined);
  const byName = (n?: string) => (n ? world.nsgs.find((x) => x.name === n) : undefined);
  const path: { nsg: Nsg; direction: NsgDirection; where: string }[] = [];
  const push = (nsg: Nsg | undefined, direction: NsgDirection, where: string) => {
    if (nsg) path.push({ nsg, direction, where });
  };
  const [srcNic, dstNic] = [nicOf(src), nicOf(dst)];
  push(byName(srcNic?.nsg), 'Outbound', `NIC ${srcNic?.name}`);
  push(bySubnet(src.subnet), 'Outbound', `subnet ${src.subnet}`);
  push(bySubnet(dst.subnet), 'Inbound', `subnet ${dst.subnet}`);
  push(byName(dstNic?.nsg), 'Inbound', `NIC ${dstNic?.name}`);
  return path;
}

export function compileWorld(world: TraceWorld): CompiledPolicies {
  return compilePolicies({ namespaces: world.namespaces, pods: world.pods, policies: world.policies });
}

/** The flow's verdict, layer by layer. `compiled` may be given to trace many flows over one world. */
export function trace(world: TraceWorld, flow: TraceFlow, compiled = compileWorld(world)): TraceResult {
  if (flow.protocol !== 'ICMP' && flow.port === undefined) {
    throw new PodnetError('TraceBadFlow', `--port is required for ${flow.protocol}`, {
      field: '--port',
      hint: 'give the destination port, e.g. --port 80',
    });
  }
  const src = resolveEnd(world, flow.from, '--from');
  const dst = resolveEnd(world, flow.to, '--to');
  const match =
    flow.port !== undefined && dst.kind !== 'pod'
      ? serviceMatch(
          world.services ?? [],
          world.pods,
          world.profile?.network.podCidrs ?? [],
          { ...src, ...(src.kind === 'node' ? { node: nodeOfIp(world, src.ip) } : {}) },
          {
            ip: dst.ip,
            protocol: flow.protocol,
            port: flow.port,
            ...(dst.kind === 'node' ? { node: nodeOfIp(world, dst.ip) } : {}),
          },
        )
      : null;
  if (!match) {
    if (flow.endpoint !== undefined)
      throw new PodnetError('TraceBadFlow', `--endpoint: ${dst.ip} is not a service port`, {
        field: '--endpoint',
        hint: 'give --endpoint only for a flow --to a ClusterIP or LoadBalancer frontend',
      });
    const lbService = dst.kind === 'external' ? frontendWithoutRule(world, dst.ip) : undefined;
    if (lbService)
      return stoppedAt(
        world,
        flow,
        compiled,
        src,
        dst,
        { layer: 'service', object: lbService, rule: 'no-load-balancing-rule' },
        'vnet load balancer',
        `${dst.ip} is the frontend of ${lbService}, which has no load balancing rule for ${flow.protocol}${flow.port === undefined ? '' : `/${flow.port}`}: the load balancer drops it`,
      );
    return walk(world, flow, compiled, src, dst);
  }
  return throughService(world, flow, compiled, src, dst, match);
}

/** Where the service proxy sends a flow: the hop it adds and the endpoint's end, seen after the DNAT. */
interface ViaService {
  hop: Hop;
  candidate: ServiceCandidate;
  /** The proxying node's address, when the proxy masquerades. */
  masqueradeTo?: End;
  /**
   * Set when the flow came in through the VNet's load balancer (an outside client of a frontend): the node it
   * was sent to, and the frontend address and port the packet still carries there (floating IP), which that
   * node's subnet and NIC NSGs see.
   */
  lb?: { node: End; frontend: string; port: number | undefined; hop: Hop };
}

/**
 * A flow to a service port: each endpoint the proxy may choose (or `--endpoint`'s) walked through the later
 * layers as the DNAT leaves it. Allowed only when every one of them allows it: which one a connection gets is
 * the proxy's random choice.
 */
function throughService(
  world: TraceWorld,
  flow: TraceFlow,
  compiled: CompiledPolicies,
  src: End,
  frontend: End,
  match: ServiceMatch,
): TraceResult {
  const chosen =
    flow.endpoint === undefined
      ? match.candidates
      : match.candidates.filter((c) => isEndpoint(c, flow.endpoint as string));
  // Dropped before any endpoint is chosen: the service step shows what matched, and no endpoint.
  const refused = (decision: Decision, at: string, detail: string): TraceResult => ({
    ...stoppedAt(world, flow, compiled, src, frontend, decision, at, detail),
    service: { ...match, endpoints: [] },
  });
  if (match.frontend === 'ClusterIP' && src.kind === 'external')
    return refused(
      { layer: 'route', object: null, rule: 'cluster-ip-not-routed' },
      'vnet',
      `${frontend.ip} is a cluster IP of ${match.service}: only pods and nodes reach it, the VNet has no route to it`,
    );
  if (match.sourceRanges && !match.sourceRanges.allowed)
    return refused(
      { layer: 'service', object: match.service, rule: 'loadBalancerSourceRanges' },
      `node ${[...new Set(match.candidates.map((c) => c.via))].join(', ')}`.trim(),
      `${src.ip} is not in ${match.service}'s loadBalancerSourceRanges (${match.sourceRanges.ranges.join(', ')}): the proxy drops it before the DNAT`,
    );
  const head = `${match.service} port ${match.port}/${flow.protocol} (${match.frontend}${match.externalTrafficPolicy ? `, externalTrafficPolicy ${match.externalTrafficPolicy}` : ''})`;
  if (match.candidates.length === 0) {
    const r = walk(world, flow, compiled, src, frontend);
    const at = r.hops.findIndex((h) => h.layer === 'route') + 1;
    const hop: Hop = {
      layer: 'service',
      at: `node ${src.pod?.node ?? ''}`.trim(),
      verdict: 'deny',
      detail: `${head}: no endpoint the proxy may choose (${match.why.join('; ')}): rejected or dropped`,
    };
    return {
      verdict: 'deny',
      sourceSeen: src.ip,
      decidedBy: [{ layer: 'service', object: match.service, rule: 'no-endpoints' }],
      hops: [...r.hops.slice(0, at), hop],
      notEvaluated: r.notEvaluated,
      service: { ...match, endpoints: [] },
    };
  }
  if (chosen.length === 0)
    throw new PodnetError(
      'TraceBadFlow',
      `--endpoint ${flow.endpoint} is not an endpoint ${match.service} may choose`,
      {
        field: '--endpoint',
        hint: `one of ${[...new Set(match.candidates.map((c) => c.endpoint))].join(', ')}`,
      },
    );
  const viaLb = match.frontend === 'LoadBalancer' && src.kind === 'external';
  const proxying = [...new Set(match.candidates.map((c) => c.via))];
  const results = chosen.map((c) => {
    const endpoint = resolveEnd(world, c.ip, '--endpoint');
    const nodeAddress = hostOfNode(world, c.via);
    const node: End | undefined = nodeAddress
      ? { ip: nodeAddress, kind: 'node', subnet: subnetOf(world.profile, nodeAddress) }
      : undefined;
    const masqueradeTo = c.masquerade ? node : undefined;
    const lb =
      viaLb && node
        ? {
            node,
            frontend: frontend.ip,
            port: flow.port,
            hop: {
              layer: 'service' as const,
              at: 'vnet load balancer',
              verdict: 'info' as const,
              detail: `a new flow to ${frontend.ip} goes to node ${c.via} (${match.externalTrafficPolicy === 'Local' ? 'Local: the nodes with an endpoint' : 'Cluster: every node'} answer the health probe: ${proxying.join(', ')}), the frontend still its destination (floating IP)`,
            },
          }
        : undefined;
    const hop: Hop = {
      layer: 'service',
      at: `node ${c.via}`,
      verdict: 'info',
      detail: `${head}: DNAT to ${c.endpoint} (pod/${c.pod}), one of ${match.candidates.length}; ${c.hairpin ? 'hairpin: masqueraded' : c.masquerade ? `masqueraded to the node address ${nodeAddress ?? c.via}` : 'the source is kept'}`,
    };
    return walk(world, { ...flow, port: c.port }, compiled, src, endpoint, {
      hop,
      candidate: c,
      ...(masqueradeTo ? { masqueradeTo } : {}),
      ...(lb ? { lb } : {}),
    });
  });
  const shown = results.find((r) => r.verdict === 'deny') ?? results[0];
  return {
    ...shown,
    verdict: results.every((r) => r.verdict === 'allow') ? 'allow' : 'deny',
    service: { ...match, endpoints: chosen.map((c, i) => ({ ...c, verdict: results[i].verdict })) },
  };
}

/** A flow dropped before it reaches an endpoint (by the VNet, or by a node's proxy): the first hops, then the drop. */
function stoppedAt(
  world: TraceWorld,
  flow: TraceFlow,
  compiled: CompiledPolicies,
  src: End,
  dst: End,
  decision: Decision,
  at: string,
  detail: string,
): TraceResult {
  const r = walk(world, flow, compiled, src, dst);
  const route = r.hops.findIndex((h) => h.layer === 'route');
  return {
    ...r,
    verdict: 'deny',
    decidedBy: [decision],
    hops: [...r.hops.slice(0, Math.max(route, 1)), { layer: decision.layer, at, verdict: 'deny', detail }],
  };
}

/**
 * The LoadBalancer Service (this VNet's load balancer serves) whose frontend `ip` is, for a flow no service port
 * matched: the load balancer has no rule for it and drops it (Azure drops traffic to a frontend port no rule names).
 */
function frontendWithoutRule(world: TraceWorld, ip: string): string | undefined {
  const s = (world.services ?? []).find((x) => servedHere(x) && ingressIps(x).includes(ip));
  return s ? `${s.metadata.namespace}/${s.metadata.name}` : undefined;
}

/** `--endpoint` names this candidate: its address, address:port, or its pod. */
function isEndpoint(c: ServiceCandidate, text: string): boolean {
  return text === c.ip || text === c.endpoint || text === `${c.ip}:${c.port}` || text === c.pod;
}

/** A node's address: the hostIP of a pod on it. */
function hostOfNode(world: TraceWorld, node: string): string | undefined {
  return world.pods.find((p) => p.node === node && p.hostIP)?.hostIP;
}

/** The layers after the route (and the service step, when `via` is given) for a flow from `src` to `dst`. */
function walk(
  world: TraceWorld,
  flow: TraceFlow,
  compiled: CompiledPolicies,
  src: End,
  dst: End,
  via?: ViaService,
): TraceResult {
  const hops: Hop[] = [
    {
      layer: 'endpoint',
      at: describe(src),
      verdict: 'info',
      detail: `sends ${flow.protocol}${flow.port ? ` to port ${flow.port}` : ''} (${flow.state})`,
    },
  ];
  const decidedBy: Decision[] = [];
  const notEvaluated: TraceLayer[] = [];
  const state: { verdict: 'allow' | 'deny' } = { verdict: 'allow' };
  // A call, not a property test: TypeScript would keep a test's narrowing across the deny() calls in between.
  const denied = () => state.verdict === 'deny';
  const deny = (d: Decision, hop: Hop) => {
    state.verdict = 'deny';
    decidedBy.push(d);
    hops.push(hop);
  };
  const profile = world.profile;
  const podCidrs = profile?.network.podCidrs ?? [];
  const stateful = flow.state !== 'new';

  // route: an outside host has no route to the pod CIDR; only replies of connections the pod opened come back.
  if (!profile) notEvaluated.push('route');
  else if (dst.kind === 'pod' && !via && src.kind === 'external' && flow.state !== 'reply') {
    deny(
      { layer: 'route', object: null, rule: 'pod-cidr-not-routed' },
      {
        layer: 'route',
        at: 'vnet',
        verdict: 'deny',
        detail: `outside hosts cannot reach pod addresses: ${dst.ip} is in the pod CIDR ${podCidrs.join(', ')}`,
      },
    );
  } else
    hops.push({
      layer: 'route',
      at: 'vnet',
      verdict: 'allow',
      detail: `${via ? flow.to : dst.ip} is reachable from ${src.ip}`,
    });
  if (via?.lb) hops.push(via.lb.hop);
  if (via) hops.push(via.hop);

  // nat: the address every later layer sees.
  let sourceSeen = src.ip;
  if (via?.masqueradeTo) {
    sourceSeen = via.masqueradeTo.ip;
    hops.push({
      layer: 'nat',
      at: `node ${via.candidate.via}`,
      verdict: 'info',
      detail: `the service proxy masquerades to the node address ${sourceSeen}`,
    });
    decidedBy.push({ layer: 'nat', object: null, rule: 'service-masquerade' });
  } else if (!profile) notEvaluated.push('nat');
  else if (src.pod && !inCidrs([...podCidrs, ...profile.network.nonMasqueradeCidrs], dst.ip)) {
    const host = hostOfFamily(src.pod, dst.ip);
    if (host) sourceSeen = host;
    hops.push({
      layer: 'nat',
      at: `node ${src.pod.node ?? src.pod.hostIP}`,
      verdict: 'info',
      detail: `SNAT to the node address ${sourceSeen}: ${dst.ip} is outside the pod CIDR`,
    });
    decidedBy.push({ layer: 'nat', object: null, rule: 'masquerade' });
  } else
    hops.push({
      layer: 'nat',
      at: 'node',
      verdict: 'info',
      detail: `no SNAT: the source stays ${sourceSeen}`,
    });

  const policiesGiven = world.policies.length > 0;
  const policyFlow = {
    src: { ip: src.ip, pod: src.pod } as FlowEnd,
    dst: { ip: dst.ip, pod: dst.pod } as FlowEnd,
    protocol: flow.protocol,
    ...(flow.port === undefined ? {} : { port: flow.port }),
  };
  // Ingress ipBlock peers see the source as it arrives (after SNAT); a node's own address is node traffic.
  if (!src.pod)
    policyFlow.src = {
      ip: via?.masqueradeTo ? src.ip : sourceSeen,
      ...(src.kind === 'node' ? { node: nodeOfIp(world, src.ip) } : {}),
    };
  const policy = policiesGiven ? evaluatePolicies(compiled, policyFlow) : null;
  // The proxy masquerades in postrouting, after the proxying node's own filter: an endpoint on that node is
  // judged by the client's address, one on another node by the node's.
  if (policy && via?.masqueradeTo && dst.pod?.node !== via.candidate.via)
    policy.ingress = evaluatePolicies(compiled, {
      ...policyFlow,
      src: { ip: sourceSeen, node: via.candidate.via },
    }).ingress;

  // One direction of NetworkPolicy at the end's own node: a hop, and the deciding rule or the default deny.
  const policyStep = (direction: 'egress' | 'ingress', d: DirectionOutcome, end: End, side: string) => {
    const hop = policyHop(direction, d, end.pod ? `node ${end.pod.node ?? ''}`.trim() : side);
    if (d.outcome === 'denied' && !stateful) {
      deny({ layer: 'networkpolicy', object: null, rule: 'default-deny' }, hop);
      return;
    }
    hops.push(hop);
    if (d.outcome === 'allowed')
      decidedBy.push({ layer: 'networkpolicy', object: d.by.policy, rule: `${direction}[${d.by.index}]` });
  };
  if (policy && !denied()) policyStep('egress', policy.egress, src, 'source');

  if (world.nsgs.length === 0) notEvaluated.push('nsg');
  else if (!denied()) {
    // The legs the packet crosses the VNet on, each with the addresses NSGs see there: through the load
    // balancer, the client to the chosen node with the frontend as destination, then (masqueraded) that node
    // to the endpoint; otherwise the one leg from the source, or the node that masqueraded it, to the
    // destination. A pod's node to the pod, or two pods of one node: the packet never leaves the host.
    const from = via?.masqueradeTo ?? via?.lb?.node ?? src;
    const dstHosts = endHostIps(world, dst);
    const sameNode = endHostIps(world, from).some((ip) => dstHosts.includes(ip));
    const legs = [
      ...(via?.lb
        ? [{ path: nsgPath(world, src, via.lb.node), src: src.ip, dst: via.lb.frontend, port: via.lb.port }]
        : []),
      { path: sameNode ? [] : nsgPath(world, from, dst), src: sourceSeen, dst: dst.ip, port: flow.port },
    ];
    if (legs.every((l) => l.path.length === 0))
      hops.push({
        layer: 'nsg',
        at: 'vnet',
        verdict: 'info',
        detail: sameNode ? 'stays on one node: no NSG sees it' : 'crosses no NSG',
      });
    for (const leg of legs)
      for (const step of leg.path) {
        if (denied()) break;
        const packet = {
          src: leg.src,
          dst: leg.dst,
          protocol: flow.protocol,
          srcPort: flow.sourcePort ?? 40000,
          ...(leg.port === undefined ? {} : { dstPort: leg.port }),
        };
        const v = evaluateNsg(
          step.nsg,
          step.direction,
          packet,
          vnetTagContext(
            profile ?? { vnet: { addressSpaces: [] }, connectedNetworks: [], network: { podCidrs: [] } },
          ),
        );
        const rule = v.rule ?? 'platform';
        const hop: Hop = {
          layer: 'nsg',
          at: `${step.nsg.name} (${step.where}, ${step.direction})`,
          verdict: v.access === 'Allow' || stateful ? 'allow' : 'deny',
          detail: stateful
            ? `${v.access} by ${rule}, but the connection is tracked: it passes`
            : `${v.access} by ${rule}${v.priority ? ` (priority ${v.priority})` : ''}`,
        };
        if (v.access === 'Deny' && !stateful) deny({ layer: 'nsg', object: step.nsg.name, rule }, hop);
        else {
          hops.push(hop);
          decidedBy.push({ layer: 'nsg', object: step.nsg.name, rule: stateful ? 'stateful' : rule });
        }
      }
  }

  if (!profile) notEvaluated.push('outbound');
  else if (!denied()) {
    const out = outboundStep(profile, world.outbound, src.kind !== 'external', dst.ip, sourceSeen);
    if (out) {
      hops.push(out.hop);
      if (out.decision) decidedBy.push(out.decision);
      sourceSeen = out.sourceSeen;
    }
  }

  if (!policiesGiven) notEvaluated.push('networkpolicy');
  else if (policy && !denied()) policyStep('ingress', policy.ingress, dst, 'destination');
  if (!denied())
    hops.push({
      layer: 'endpoint',
      at: describe(dst),
      verdict: 'allow',
      detail: `receives it from ${sourceSeen}`,
    });
  return {
    verdict: state.verdict,
    sourceSeen,
    decidedBy: denied() ? decidedBy.slice(-1) : decidedBy,
    hops,
    notEvaluated,
  };
}

/** The addresses of the pod's node (`hostIP`, then `hostIPs`), each once. */
function podHostIps(pod: TracePod): string[] {
  return [...new Set([...(pod.hostIP ? [pod.hostIP] : []), ...(pod.hostIPs ?? [])])];
}

/**
 * The addresses of the host an end is on: a pod's node (both families), or the node itself with its other
 * addresses as its pods report them (`hostIPs`).
 */
function endHostIps(world: TraceWorld, e: End): string[] {
  if (e.pod) return podHostIps(e.pod);
  if (e.kind !== 'node') return [];
  return podIndex(world).hostsByHost.get(e.ip) ?? [e.ip];
}

/** The pod's node address of `ip`'s family: masquerade takes the node's address of the packet's family. */
function hostOfFamily(pod: TracePod, ip: string): string | undefined {
  const family = parseIp(ip).family;
  return podHostIps(pod).find((h) => parseIp(h).family === family);
}

/** The node whose address `ip` is (a pod's hostIP), for "traffic from a pod's own node". */
function nodeOfIp(world: TraceWorld, ip: string): string | undefined {
  return podIndex(world).nodeByHost.get(ip);
}

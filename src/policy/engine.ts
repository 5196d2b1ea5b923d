/**
 * The NetworkPolicy engine: Kubernetes v1 semantics over plain data, compiled once per snapshot of the
 * cluster into per-rule address sets and port sets (the same sets the node's nftables section is made of), then
 * queried per flow. `podnet trace`, the lab check's expectations and the nftables compiler all read these
 * compiled rules, so they cannot disagree.
 *
 * Semantics (kubernetes website network-policies.md; pkg/apis/networking; the upstream e2e suite):
 * - a pod is isolated for a direction when a policy of its namespace selects it and lists the direction in
 *   `policyTypes`; what is allowed is the union of those policies' rules; a flow between pods needs the
 *   source's egress and the destination's ingress;
 * - a rule with no peers admits any peer; a rule with no ports admits every port and protocol (ICMP too);
 * - a peer with podSelector and namespaceSelector is their AND; podSelector alone means the policy's own
 *   namespace; ipBlock is `cidr` minus `except`, per peer, and it matches pod addresses too (as the upstream
 *   e2e expects and Calico does; Cilium does not);
 * - a named port resolves on the destination pod's container ports (name and protocol): the selected pod for
 *   ingress, the peer pod for egress; it never matches a destination that is not a pod;
 * - hostNetwork pods are left out of selectors (node traffic); traffic from a pod's own node to it is always
 *   allowed (kubelet probes), and so is a pod's traffic to itself ("a pod cannot block traffic to itself",
 *   kubernetes/website PR #39875).
 */
import { parseIp } from '../addr/index.js';
import {
  type IpRange,
  cidrRange,
  ipRange,
  normalizeRanges,
  rangesContain,
  subtractRanges,
} from '../addr/ranges.js';
import { selectorMatcher, selectorMatches } from './selector.js';
import type {
  FlowProtocol,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyPod,
  PolicyWorld,
} from './types.js';
import { parseLooseCidr } from './validate.js';

export type Direction = 'ingress' | 'egress';

/** Which rule: `ns/name`, the direction and the rule's index in it. */
export interface RuleRef {
  policy: string;
  direction: Direction;
  index: number;
}

export interface PortRange {
  protocol: FlowProtocol;
  from: number;
  to: number;
}

export interface CompiledRule {
  ref: RuleRef;
  /** Who the rule admits on the far side: null = any peer. */
  peers: IpRange[] | null;
  /** Numeric ports (and protocol-only entries as 0-65535); null = every port of every protocol. */
  ports: PortRange[] | null;
  /** Named ports resolved on each destination pod: `ip|protocol|port`. */
  named: Set<string>;
}

export interface CompiledPolicy {
  ref: string;
  namespace: string;
  /** The pods it selects (`ns/name`) and the directions it isolates them for. */
  selects: Set<string>;
  types: Set<Direction>;
  rules: Record<Direction, CompiledRule[]>;
}

export interface CompiledPolicies {
  policies: CompiledPolicy[];
  /** Policies by the namespace they live in: a pod is only ever selected by its own namespace's policies. */
  byNamespace: Map<string, CompiledPolicy[]>;
}

const podKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const namedKey = (ip: string, protocol: string, port: number) => `${ip}|${protocol}|${port}`;

/**
 * One snapshot's lookups, built once per compile: pods by namespace (never hostNetwork pods: they are node
 * traffic to policies), each pod's address ranges, and the pods each distinct selector pair picks, so that
 * a thousand policies over thousands of pods match each selector against its namespaces' pods only once.
 */
class WorldIndex {
  readonly byNamespace = new Map<string, PolicyPod[]>();
  readonly all: PolicyPod[];
  private readonly ranges = new Map<PolicyPod, IpRange[]>();
  private readonly picked = new Map<string, PolicyPod[]>();

  constructor(readonly world: PolicyWorld) {
    this.all = world.pods.filter((p) => !p.hostNetwork);
    for (const p of this.all) {
      const list = this.byNamespace.get(p.namespace);
      if (list) list.push(p);
      else this.byNamespace.set(p.namespace, [p]);
    }
  }

  rangesOf(pods: PolicyPod[]): IpRange[] {
    return pods.flatMap((p) => {
      let r = this.ranges.get(p);
      if (!r) {
        r = p.ips.map((ip) => ipRange(parseIp(ip)));
        this.ranges.set(p, r);
      }
      return r;
    });
  }

  /** The pods of `namespace`, or of the namespaces `namespaceSelector` picks, that `podSelector` picks. */
  select(namespace: string, podSelector?: LabelSelector, namespaceSelector?: LabelSelector): PolicyPod[] {
    const key = JSON.stringify([namespaceSelector ? null : namespace, podSelector, namespaceSelector]);
    let pods = this.picked.get(key);
    if (!pods) {
      // A pod's namespace without a Namespace object has no labels.
      const namespaces = namespaceSelector
        ? [...this.byNamespace.keys()].filter((n) =>
            selectorMatches(namespaceSelector, this.world.namespaces.get(n) ?? {}),
          )
        : [namespace];
      const matches = podSelector ? selectorMatcher(podSelector) : () => true;
      pods = namespaces.flatMap((n) => (this.byNamespace.get(n) ?? []).filter((p) => matches(p.labels)));
      this.picked.set(key, pods);
    }
    return pods;
  }
}

/** The pods a peer's selectors pick, seen from a policy in `namespace`. */
function selectedPeerPods(index: WorldIndex, peer: NetworkPolicyPeer, namespace: string): PolicyPod[] {
  return index.select(namespace, peer.podSelector, peer.namespaceSelector);
}

function peerRanges(index: WorldIndex, peer: NetworkPolicyPeer, namespace: string): IpRange[] {
  if (peer.ipBlock) {
    const cidr = parseLooseCidr(peer.ipBlock.cidr);
    if (!cidr) return [];
    const except = (peer.ipBlock.except ?? []).flatMap((e) => {
      const c = parseLooseCidr(e);
      return c ? [cidrRange(c)] : [];
    });
    return subtractRanges([cidrRange(cidr)], normalizeRanges(except));
  }
  return index.rangesOf(selectedPeerPods(index, peer, namespace));
}

function portRange(p: NetworkPolicyPort): PortRange | null {
  const protocol = p.protocol ?? 'TCP';
  if (p.port === undefined) return { protocol, from: 0, to: 65535 };
  if (typeof p.port === 'number') return { protocol, from: p.port, to: p.endPort ?? p.port };
  return null;
}

/** `ip|protocol|port` for every named port of `ports` that a destination pod declares. */
function resolveNamed(ports: NetworkPolicyPort[], destinations: PolicyPod[]): Set<string> {
  const out = new Set<string>();
  for (const p of ports) {
    if (typeof p.port !== 'string') continue;
    const protocol = p.protocol ?? 'TCP';
    for (const pod of destinations) {
      const cp = pod.ports.find((x) => x.name === p.port && x.protocol === protocol);
      if (cp) for (const ip of pod.ips) out.add(namedKey(ip, protocol, cp.containerPort));
    }
  }
  return out;
}

function compilePolicy(index: WorldIndex, policy: NetworkPolicy): CompiledPolicy {
  const namespace = policy.metadata.namespace ?? 'default';
  const ref = `${namespace}/${policy.metadata.name}`;
  const selected = index.select(namespace, policy.spec.podSelector ?? {});
  const compileRules = (
    direction: Direction,
    rules: { peers?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[],
  ) =>
    rules.map((r, i): CompiledRule => {
      const peers = r.peers && r.peers.length > 0 ? r.peers : null;
      const ports = r.ports && r.ports.length > 0 ? r.ports : null;
      const named = ports?.some((p) => typeof p.port === 'string') ?? false;
      // Named ports resolve on the destination: the selected pods for ingress, the peer pods for egress.
      const destinations = !named
        ? []
        : direction === 'ingress'
          ? selected
          : peers
            ? peers.filter((p) => !p.ipBlock).flatMap((p) => selectedPeerPods(index, p, namespace))
            : index.all;
      return {
        ref: { policy: ref, direction, index: i },
        peers: peers ? normalizeRanges(peers.flatMap((p) => peerRanges(index, p, namespace))) : null,
        ports: ports ? ports.map(portRange).filter((x): x is PortRange => x !== null) : null,
        named: ports ? resolveNamed(ports, destinations) : new Set(),
      };
    });
  const types = new Set(
    (policy.spec.policyTypes ?? ['Ingress']).map((t) => (t === 'Egress' ? 'egress' : 'ingress') as Direction),
  );
  return {
    ref,
    namespace,
    selects: new Set(selected.map(podKey)),
    types,
    rules: {
      ingress: compileRules(
        'ingress',
        (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })),
      ),
      egress: compileRules(
        'egress',
        (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })),
      ),
    },
  };
}

export function compilePolicies(world: PolicyWorld): CompiledPolicies {
  const index = new WorldIndex(world);
  const policies = world.policies.map((p) => compilePolicy(index, p));
  const byNamespace = new Map<string, CompiledPolicy[]>();
  for (const p of policies) byNamespace.set(p.namespace, [...(byNamespace.get(p.namespace) ?? []), p]);
  return { policies, byNamespace };
}

/** One end of a flow: its address as the policy layer sees it, the pod it belongs to, or the node it is. */
export interface FlowEnd {
  ip: string;
  pod?: PolicyPod;
  /** Set when the address is a node's own (traffic from a node to its own pods is always allowed). */
  node?: string;
}

export interface PolicyFlow {
  src: FlowEnd;
  dst: FlowEnd;
  protocol: FlowProtocol;
  /** Destination port (none for ICMP). */
  port?: number;
}

export type DirectionOutcome =
  /** The pod is isolated and this rule admits the flow. */
  | { outcome: 'allowed'; by: RuleRef }
  /** The pod is isolated and no rule admits it: `isolatedBy` lists the policies that isolate it. */
  | { outcome: 'denied'; isolatedBy: string[] }
  /** No policy isolates the pod for this direction, or this end is not a pod (nothing to isolate). */
  | { outcome: 'not-isolated' | 'not-a-pod' }
  /** Traffic from the pod's own node, or from the pod to itself: neither can be blocked. */
  | { outcome: 'node-local' | 'self' };

export interface PolicyDecision {
  allowed: boolean;
  egress: DirectionOutcome;
  ingress: DirectionOutcome;
}

function ruleAdmits(rule: CompiledRule, peerIp: string, dstIp: string, flow: PolicyFlow): boolean {
  if (rule.peers && !rangesContain(rule.peers, parseIp(peerIp))) return false;
  if (!rule.ports) return true;
  if (flow.protocol === 'ICMP' || flow.port === undefined) return false;
  const port = flow.port;
  return (
    rule.ports.some((p) => p.protocol === flow.protocol && port >= p.from && port <= p.to) ||
    rule.named.has(namedKey(dstIp, flow.protocol, port))
  );
}

function decide(
  compiled: CompiledPolicies,
  direction: Direction,
  pod: PolicyPod | undefined,
  flow: PolicyFlow,
): DirectionOutcome {
  if (!pod || pod.hostNetwork) return { outcome: 'not-a-pod' };
  const key = podKey(pod);
  const isolating = (compiled.byNamespace.get(pod.namespace) ?? []).filter(
    (p) => p.types.has(direction) && p.selects.has(key),
  );
  if (isolating.length === 0) return { outcome: 'not-isolated' };
  const peerIp = direction === 'egress' ? flow.dst.ip : flow.src.ip;
  for (const p of isolating) {
    for (const rule of p.rules[direction]) {
      if (ruleAdmits(rule, peerIp, flow.dst.ip, flow)) return { outcome: 'allowed', by: rule.ref };
    }
  }
  return { outcome: 'denied', isolatedBy: isolating.map((p) => p.ref) };
}

/** The NetworkPolicy verdict of one flow: the source pod's egress, then the destination pod's ingress. */
export function evaluatePolicies(compiled: CompiledPolicies, flow: PolicyFlow): PolicyDecision {
  if (flow.src.pod && flow.dst.pod && podKey(flow.src.pod) === podKey(flow.dst.pod)) {
    return { allowed: true, egress: { outcome: 'self' }, ingress: { outcome: 'self' } };
  }
  const egress = decide(compiled, 'egress', flow.src.pod, flow);
  const ingress: DirectionOutcome =
    flow.src.node !== undefined && flow.dst.pod?.node === flow.src.node
      ? { outcome: 'node-local' }
      : decide(compiled, 'ingress', flow.dst.pod, flow);
  const ok = (d: DirectionOutcome) => d.outcome !== 'denied';
  return { allowed: ok(egress) && ok(ingress), egress, ingress };
}

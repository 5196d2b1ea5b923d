/**
 * NetworkPolicy as a section of the node's nftables table (`pol`), derived from the engine's compiled rules
 * (engine.ts) so that the kernel and `podnet trace` cannot disagree: this file decides nothing the engine
 * does not, it only lays the engine's per-rule address and port sets out for one node. docs/policy.md shows
 * the layout.
 *
 * Only the node's own pods are isolated (ingress to them, egress from them), as Kubernetes defines it; the
 * peer sets hold cluster-wide addresses. Local pods with the same isolating policies (and, for ingress, the
 * same resolution of named ports) share one class: a chain and, per family, two sets. Per new packet the cost
 * is a conntrack check, one verdict-map lookup per direction and at most two set lookups in the class, however
 * many pods and policies the cluster has:
 *
 *   pol_forward (filter forward 0, after the services' DNAT at -100, so it sees the chosen endpoint)
 *     ct state established,related accept         replies and admitted connections
 *     ip saddr . ip daddr @pol_self_v4 accept     a pod to itself (through a Service) is never blocked
 *     ip saddr vmap @pol_egress_v4                isolated local senders: jump pol_e_<class>
 *     ip daddr vmap @pol_ingress_v4               isolated local receivers: goto pol_i_<class>
 *   pol_input (filter input 0): the same egress dispatch for pods talking to their own node
 *   pol_e_<class>: daddr in _any (rules without ports), or daddr . l4proto . dport in _ports: return; else drop
 *   pol_i_<class>: saddr in _any, or saddr . l4proto . dport in _ports: accept; else drop
 *
 * Traffic from the node itself (kubelet probes) leaves through output, which the section does not hook:
 * always allowed, like the engine's `node-local`. Set elements are disjoint (nft refuses overlaps in interval
 * sets), computed here: a class's `_ports` set is the union of its rules' peer x port boxes cut into
 * disjoint pieces.
 */
import { createHash } from 'node:crypto';
import { BITS, type Family, formatIp, parseIp } from '../addr/index.js';
import { type IpRange, normalizeRanges } from '../addr/ranges.js';
import type { NftChain, NftSet, TableSection } from '../dataplane/nft-table.js';
import type { CompiledPolicies, CompiledPolicy, CompiledRule, Direction } from './engine.js';
import type { PolicyPod } from './types.js';

export const POLICY_SECTION = 'pol';

type L4 = 'TCP' | 'UDP' | 'SCTP';
const L4_PROTOCOLS: readonly L4[] = ['TCP', 'UDP', 'SCTP'];
const NFT_PROTO: Record<L4, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

const FAMILY = {
  4: { v: 'v4', match: 'ip', type: 'ipv4_addr' },
  6: { v: 'v6', match: 'ip6', type: 'ipv6_addr' },
} as const;

/** One class of local pods for one direction: the chain's name and its sets' elements per family. */
export interface PolicyClass {
  name: string;
  direction: Direction;
  /** What isolates the pods of the class (`ns/name` of each policy), for listings and docs. */
  policies: string[];
  /** Peers admitted on every port and protocol (rules without ports), per family, as nft elements. */
  any: Record<Family, string[]>;
  /** Disjoint `peer . protocol . port` elements, per family. */
  ports: Record<Family, string[]>;
}

/** The section's input: what the node's policy section holds, rendered by `policySection`. */
export interface NodePolicyInput {
  /** The families the node table has (those of the cluster's pod CIDRs). */
  families: Family[];
  classes: PolicyClass[];
  /** Isolated local pod address -> its class, per direction. */
  egress: { ip: string; class: string }[];
  ingress: { ip: string; class: string }[];
  /** The addresses of the node's own pods (a pod's traffic to itself). */
  self: string[];
}

export const emptyNodePolicy = (families: Family[]): NodePolicyInput => ({
  families,
  classes: [],
  egress: [],
  ingress: [],
  self: [],
});

const podKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** An address range as an nft element: `10.0.0.5`, `10.0.0.0/24` when aligned, else `10.0.0.5-10.0.0.9`. */
export function rangeElement(r: IpRange): string {
  const from = formatIp({ family: r.family, value: r.from });
  if (r.from === r.to) return from;
  const size = r.to - r.from + 1n;
  const bits = size.toString(2).length - 1;
  if (size === 1n << BigInt(bits) && r.from % size === 0n) return `${from}/${BITS[r.family] - bits}`;
  return `${from}-${formatIp({ family: r.family, value: r.to })}`;
}

const portElement = (p: { from: number; to: number }) =>
  p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`;

const everything = (family: Family): IpRange => ({
  family,
  from: 0n,
  to: (1n << BigInt(BITS[family])) - 1n,
});

/** One rule's share of a class: who (per family) may use which ports. */
interface Box {
  peers: IpRange[];
  ports: { protocol: L4; from: number; to: number }[];
}

function normalizePorts(ports: { from: number; to: number }[]): { from: number; to: number }[] {
  const sorted = [...ports].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: { from: number; to: number }[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && p.from <= last.to + 1) last.to = Math.max(last.to, p.to);
    else out.push({ ...p });
  }
  return out;
}

/**
 * The union of boxes (peer ranges x port ranges of one protocol) as disjoint `peer . port` pieces: a sweep
 * over the peer boundaries, each stretch of addresses taking the union of the ports of the boxes covering it,
 * neighbouring stretches with the same ports merged. Every address and port pair is in at most one piece.
 */
function disjointPieces(boxes: { peers: IpRange[]; ports: { from: number; to: number }[] }[]) {
  const events: { at: bigint; box: number; open: boolean }[] = [];
  boxes.forEach((b, i) => {
    for (const r of b.peers) {
      events.push({ at: r.from, box: i, open: true }, { at: r.to + 1n, box: i, open: false });
    }
  });
  events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const active = new Map<number, number>();
  const pieces: { from: bigint; to: bigint; ports: { from: number; to: number }[]; key: string }[] = [];
  for (let i = 0; i < events.length; ) {
    const at = events[i].at;
    for (; i < events.length && events[i].at === at; i++) {
      const e = events[i];
      const n = (active.get(e.box) ?? 0) + (e.open ? 1 : -1);
      if (n === 0) active.delete(e.box);
      else active.set(e.box, n);
    }
    if (active.size === 0 || i >= events.length) continue;
    const to = events[i].at - 1n;
    const ports = normalizePorts([...active.keys()].flatMap((b) => boxes[b].ports));
    const key = ports.map(portElement).join(',');
    const last = pieces.at(-1);
    if (last && last.key === key && last.to + 1n === at) last.to = to;
    else pieces.push({ from: at, to, ports, key });
  }
  return pieces;
}

function portsElements(family: Family, boxes: Box[]): string[] {
  const out: string[] = [];
  for (const protocol of L4_PROTOCOLS) {
    const mine = boxes
      .map((b) => ({
        peers: b.peers.filter((r) => r.family === family),
        ports: b.ports.filter((p) => p.protocol === protocol),
      }))
      .filter((b) => b.peers.length > 0 && b.ports.length > 0);
    for (const piece of disjointPieces(mine)) {
      const peer = rangeElement({ family, from: piece.from, to: piece.to });
      for (const p of piece.ports) out.push(`${peer} . ${NFT_PROTO[protocol]} . ${portElement(p)}`);
    }
  }
  return out;
}

const isL4 = (p: string): p is L4 => (L4_PROTOCOLS as readonly string[]).includes(p);

/** A named-port entry of the engine (`ip|protocol|port`) as address, protocol and port. */
function parseNamed(key: string): { ip: string; protocol: L4; port: number } | null {
  const [ip, protocol, port] = key.split('|');
  return isL4(protocol) ? { ip, protocol, port: Number(port) } : null;
}

/** The boxes of one rule for a class: ingress named ports resolved on `pod` (every pod of the class alike). */
function ruleBoxes(rule: CompiledRule, direction: Direction, pod: PolicyPod): Box[] {
  const peers = rule.peers ?? [everything(4), everything(6)];
  const numeric = (rule.ports ?? []).flatMap((p) =>
    isL4(p.protocol) ? [{ protocol: p.protocol, from: p.from, to: p.to }] : [],
  );
  const named = [...rule.named].flatMap((k) => {
    const n = parseNamed(k);
    return n ? [n] : [];
  });
  if (direction === 'ingress') {
    const own = new Set(pod.ips);
    const resolved = named
      .filter((n) => own.has(n.ip))
      .map((n) => ({ protocol: n.protocol, from: n.port, to: n.port }));
    return [{ peers, ports: [...numeric, ...resolved] }];
  }
  // Egress named ports resolve on each destination pod: a box per destination address.
  return [
    { peers, ports: numeric },
    ...named.map((n) => ({
      peers: [{ ...rangeOf(n.ip) }],
      ports: [{ protocol: n.protocol, from: n.port, to: n.port }],
    })),
  ];
}

function rangeOf(ip: string): IpRange {
  const a = parseIp(ip);
  return { family: a.family, from: a.value, to: a.value };
}

/** The named ports a pod resolves for ingress rules, as part of its class's key. */
function namedSignature(policies: CompiledPolicy[], pod: PolicyPod): string {
  const own = new Set(pod.ips);
  return policies
    .flatMap((p) =>
      p.rules.ingress.flatMap((r) =>
        [...r.named]
          .map(parseNamed)
          .filter((n) => n !== null && own.has(n.ip))
          .map((n) => `${p.ref}#${r.ref.index}:${n?.protocol}/${n?.port}`),
      ),
    )
    .sort()
    .join(',');
}

function buildClass(
  direction: Direction,
  name: string,
  policies: CompiledPolicy[],
  pod: PolicyPod,
  families: Family[],
): PolicyClass {
  const rules = policies.flatMap((p) => p.rules[direction]);
  const anyPeers = normalizeRanges(
    rules.filter((r) => r.ports === null).flatMap((r) => r.peers ?? [everything(4), everything(6)]),
  );
  const boxes = rules.filter((r) => r.ports !== null).flatMap((r) => ruleBoxes(r, direction, pod));
  const perFamily = (f: (family: Family) => string[]) =>
    Object.fromEntries(families.map((family) => [family, f(family)])) as Record<Family, string[]>;
  return {
    name,
    direction,
    policies: policies.map((p) => p.ref),
    any: perFamily((family) => anyPeers.filter((r) => r.family === family).map(rangeElement)),
    ports: perFamily((family) => portsElements(family, boxes)),
  };
}

/**
 * What the node's policy section holds, from the engine's compiled policies: each local pod's isolating
 * policies per direction (the engine's `selects` and `types`), grouped into classes, each class's sets from
 * the engine's rules. Pure.
 */
export function compileNodePolicy(
  compiled: CompiledPolicies,
  pods: readonly PolicyPod[],
  node: string,
  families: Family[],
): NodePolicyInput {
  const local = pods.filter((p) => p.node === node && !p.hostNetwork);
  const classes = new Map<string, PolicyClass>();
  const out: NodePolicyInput = { ...emptyNodePolicy(families) };
  const inFamilies = (ip: string) => families.includes(parseIp(ip).family);
  for (const pod of local) {
    const ips = pod.ips.filter(inFamilies);
    out.self.push(...ips);
    for (const direction of ['egress', 'ingress'] as const) {
      const key = podKey(pod);
      const isolating = (compiled.byNamespace.get(pod.namespace) ?? []).filter(
        (p) => p.types.has(direction) && p.selects.has(key),
      );
      if (isolating.length === 0) continue;
      const classKey = [
        direction,
        ...isolating.map((p) => p.ref),
        direction === 'ingress' ? namedSignature(isolating, pod) : '',
      ].join('\n');
      const name = `${POLICY_SECTION}_${direction === 'ingress' ? 'i' : 'e'}_${hash(classKey)}`;
      if (!classes.has(name)) classes.set(name, buildClass(direction, name, isolating, pod, families));
      for (const ip of ips) out[direction].push({ ip, class: name });
    }
  }
  const byIp = (a: { ip: string }, b: { ip: string }) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  out.classes = [...classes.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  out.egress.sort(byIp);
  out.ingress.sort(byIp);
  out.self.sort();
  return out;
}

/**
 * The section's sets and chains (see the top of this file); none while no local pod is isolated, so a node
 * without policies pays nothing per packet.
 */
export function policySection(input: NodePolicyInput): TableSection {
  if (input.classes.length === 0) return { name: POLICY_SECTION, sets: [], chains: [] };
  const fams = input.families.map((f) => ({ f, ...FAMILY[f] }));
  const sets: NftSet[] = [];
  const chains: NftChain[] = [];
  const familyOf = (ip: string) => parseIp(ip).family;
  for (const { f, v, type } of fams) {
    sets.push({
      name: `${POLICY_SECTION}_self_${v}`,
      type: `${type} . ${type}`,
      interval: false,
      elements: input.self.filter((ip) => familyOf(ip) === f).map((ip) => `${ip} . ${ip}`),
    });
    for (const direction of ['egress', 'ingress'] as const) {
      sets.push({
        name: `${POLICY_SECTION}_${direction}_${v}`,
        type,
        verdictMap: true,
        interval: false,
        elements: input[direction]
          .filter((d) => familyOf(d.ip) === f)
          .map((d) => `${d.ip} : ${direction === 'egress' ? 'jump' : 'goto'} ${d.class}`),
      });
    }
  }
  for (const c of input.classes) {
    const peer = c.direction === 'ingress' ? 'saddr' : 'daddr';
    const pass = c.direction === 'ingress' ? 'accept' : 'return';
    const rules: string[] = [];
    for (const { f, v, type, match } of fams) {
      sets.push(
        { name: `${c.name}_any_${v}`, type, interval: true, elements: c.any[f] ?? [] },
        {
          name: `${c.name}_ports_${v}`,
          type: `${type} . inet_proto . inet_service`,
          interval: true,
          elements: c.ports[f] ?? [],
        },
      );
      rules.push(
        `${match} ${peer} @${c.name}_any_${v} ${pass}`,
        `${match} ${peer} . meta l4proto . th dport @${c.name}_ports_${v} ${pass}`,
      );
    }
    rules.push(`counter drop comment "podnet: the pod is isolated and no ${c.direction} rule admits it"`);
    chains.push({ name: c.name, rules });
  }
  const nd = input.families.includes(6)
    ? ['icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept']
    : [];
  chains.push(
    {
      name: `${POLICY_SECTION}_forward`,
      base: { type: 'filter', hook: 'forward', priority: 'filter' },
      rules: [
        'ct state established,related accept',
        ...fams.flatMap(({ v, match }) => [
          `${match} saddr . ${match} daddr @${POLICY_SECTION}_self_${v} accept`,
          `${match} saddr vmap @${POLICY_SECTION}_egress_${v}`,
          `${match} daddr vmap @${POLICY_SECTION}_ingress_${v}`,
        ]),
      ],
    },
    {
      name: `${POLICY_SECTION}_input`,
      base: { type: 'filter', hook: 'input', priority: 'filter' },
      rules: [
        'ct state established,related accept',
        ...nd,
        ...fams.map(({ v, match }) => `${match} saddr vmap @${POLICY_SECTION}_egress_${v}`),
      ],
    },
  );
  return { name: POLICY_SECTION, sets, chains };
}

/**
 * The node's NetworkPolicy section, checked against the engine it is derived from: a small interpreter runs
 * packets through the rendered section (its rule text and set elements, exactly what `nft -f` receives) on
 * the nodes the packet crosses, and every verdict must equal `evaluatePolicies`. The cases are the upstream
 * e2e tests (kubernetes test/e2e/network/netpol, named in each) and the examples of
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/, over the cyclonus model:
 * namespaces x, y, z with pods a, b, c serving 80 and 81 on TCP, UDP and SCTP with named ports.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Family, parseIp } from '../addr/index.js';
import type { IpRange } from '../addr/ranges.js';
import { type TableSection, tableDelta } from '../dataplane/nft-table.js';
import { NODE_TABLE } from '../dataplane/ruleset.js';
import { defaultNetworkPolicy } from './defaults.js';
import { type FlowEnd, compilePolicies, evaluatePolicies } from './engine.js';
import { compileNodePolicy, policySection, rangeElement } from './nft.js';
import type { FlowProtocol, NetworkPolicy, PolicyPod, PolicyWorld } from './types.js';

const NS = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
/** a and b run on n1, c on n2: a node holds pods of several namespaces, and pairs cross nodes. */
const nodeOf = (pod: string) => (pod === 'c' ? 'n2' : 'n1');
const NODE_IP: Record<string, string> = { n1: '10.224.0.4', n2: '10.224.0.5' };
const EXTERNAL = '203.0.113.7';
const ipOf = (ns: string, pod: string) =>
  `10.244.${nodeOf(pod) === 'n1' ? 0 : 1}.${NS.indexOf(ns) * 10 + PODS.indexOf(pod) + 4}`;

function pod(ns: string, name: string): PolicyPod {
  return {
    namespace: ns,
    name,
    labels: { pod: name },
    ips: [ipOf(ns, name)],
    node: nodeOf(name),
    ports: (['TCP', 'UDP', 'SCTP'] as const).flatMap((protocol) =>
      [80, 81].map((port) => ({
        name: `serve-${port}-${protocol.toLowerCase()}`,
        containerPort: port,
        protocol,
      })),
    ),
  };
}

function world(
  ...policies: { name?: string; namespace?: string; spec: NetworkPolicy['spec'] }[]
): PolicyWorld {
  return {
    namespaces: new Map(NS.map((n) => [n, { ns: n, 'kubernetes.io/metadata.name': n }])),
    pods: NS.flatMap((n) => PODS.map((p) => pod(n, p))),
    policies: policies.map((p, i) =>
      defaultNetworkPolicy({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: p.name ?? `p${i}`, namespace: p.namespace ?? 'x' },
        spec: p.spec,
      }),
    ),
  };
}

// ---- an interpreter of the rendered section: the rule forms policySection emits, nothing else ----

interface Packet {
  saddr: string;
  daddr: string;
  protocol: FlowProtocol;
  dport?: number;
}

type Element = { addr: IpRange[]; proto?: string; port?: [number, number]; verdict?: string };

function addrRange(text: string): IpRange {
  if (text.includes('/')) {
    const [a, len] = text.split('/');
    const ip = parseIp(a);
    const host = BigInt((ip.family === 4 ? 32 : 128) - Number(len));
    return { family: ip.family, from: ip.value, to: ip.value + (1n << host) - 1n };
  }
  const [from, to] = text.split('-');
  const a = parseIp(from);
  return { family: a.family, from: a.value, to: to ? parseIp(to).value : a.value };
}

function parseElement(text: string, verdictMap: boolean): Element {
  const [key, verdict] = verdictMap ? text.split(' : ') : [text];
  const parts = key.split(' . ');
  if (parts.length === 3) {
    const [lo, hi] = parts[2].split('-').map(Number);
    return { addr: [addrRange(parts[0])], proto: parts[1], port: [lo, hi ?? lo] };
  }
  return { addr: parts.map(addrRange), ...(verdict ? { verdict } : {}) };
}

const inRange = (r: IpRange, ip: string) => {
  const a = parseIp(ip);
  return a.family === r.family && a.value >= r.from && a.value <= r.to;
};

class Interpreter {
  private readonly sets = new Map<string, { elements: Element[]; verdictMap: boolean }>();
  private readonly chains = new Map<string, readonly string[]>();

  constructor(private readonly section: TableSection) {
    for (const s of section.sets) {
      const elements = s.elements.map((e) => parseElement(e, s.verdictMap ?? false));
      this.sets.set(s.name, { elements, verdictMap: s.verdictMap ?? false });
    }
    for (const c of section.chains) this.chains.set(c.name, c.rules);
  }

  private set(name: string) {
    const s = this.sets.get(name);
    assert.ok(s, `set ${name} is declared`);
    return s;
  }

  /** The verdict of the base chain on `hook` for the first packet of a connection. */
  run(hook: 'forward' | 'input', p: Packet): 'accept' | 'drop' {
    const base = this.section.chains.find((c) => c.base?.hook === hook);
    if (!base) return 'accept';
    const v = this.chain(base.name, p);
    return v === 'drop' ? 'drop' : 'accept';
  }

  private chain(name: string, p: Packet): 'accept' | 'drop' | 'return' {
    const rules = this.chains.get(name);
    assert.ok(rules, `chain ${name} is declared`);
    const family: Family = parseIp(p.saddr).family;
    for (const rule of rules) {
      let m: RegExpExecArray | null;
      if (rule === 'ct state established,related accept' || rule.startsWith('icmpv6 type ')) continue;
      if (rule.startsWith('counter drop')) return 'drop';
      m = /^(ip6?) saddr \. ip6? daddr @(\S+) accept$/.exec(rule);
      if (m) {
        if (this.fam(m[1]) !== family) continue;
        const hit = this.set(m[2]).elements.some(
          (e) => inRange(e.addr[0], p.saddr) && inRange(e.addr[1], p.daddr),
        );
        if (hit) return 'accept';
        continue;
      }
      m = /^(ip6?) (saddr|daddr) vmap @(\S+)$/.exec(rule);
      if (m) {
        if (this.fam(m[1]) !== family) continue;
        const ip = m[2] === 'saddr' ? p.saddr : p.daddr;
        const e = this.set(m[3]).elements.find((x) => inRange(x.addr[0], ip));
        if (!e?.verdict) continue;
        const [how, target] = e.verdict.split(' ');
        const v = this.chain(target, p);
        if (v === 'drop' || v === 'accept') return v;
        if (how === 'goto') return 'return';
        continue;
      }
      m = /^(ip6?) (saddr|daddr) @(\S+) (accept|return)$/.exec(rule);
      if (m) {
        if (this.fam(m[1]) !== family) continue;
        const ip = m[2] === 'saddr' ? p.saddr : p.daddr;
        if (this.set(m[3]).elements.some((e) => inRange(e.addr[0], ip))) return m[4] as 'accept' | 'return';
        continue;
      }
      m = /^(ip6?) (saddr|daddr) \. meta l4proto \. th dport @(\S+) (accept|return)$/.exec(rule);
      if (m) {
        if (this.fam(m[1]) !== family || p.protocol === 'ICMP' || p.dport === undefined) continue;
        const ip = m[2] === 'saddr' ? p.saddr : p.daddr;
        const port = p.dport;
        const proto = p.protocol.toLowerCase();
        const hit = this.set(m[3]).elements.some(
          (e) =>
            e.proto === proto &&
            e.port !== undefined &&
            port >= e.port[0] &&
            port <= e.port[1] &&
            inRange(e.addr[0], ip),
        );
        if (hit) return m[4] as 'accept' | 'return';
        continue;
      }
      assert.fail(`the interpreter does not know the rule "${rule}" of ${name}`);
    }
    return 'return';
  }

  private fam(match: string): Family {
    return match === 'ip' ? 4 : 6;
  }

  /** nft refuses overlapping elements in an interval set: none may overlap. */
  assertDisjoint(): void {
    for (const [name, s] of this.sets) {
      const els = s.elements;
      for (let i = 0; i < els.length; i++) {
        for (let j = i + 1; j < els.length; j++) {
          const a = els[i];
          const b = els[j];
          const addr = a.addr.every(
            (r, k) => r.family === b.addr[k].family && r.from <= b.addr[k].to && b.addr[k].from <= r.to,
          );
          const port =
            a.port === undefined ||
            b.port === undefined ||
            (a.proto === b.proto && a.port[0] <= b.port[1] && b.port[0] <= a.port[1]);
          assert.ok(!(addr && port), `${name}: ${s.elements[i]} overlaps ${s.elements[j]}`);
        }
      }
    }
  }
}

// ---- what the kernel decides: the hooks a packet meets on the nodes it crosses ----

interface End {
  ip: string;
  pod?: PolicyPod;
  node?: string;
}

function kernelAllows(tables: Map<string, Interpreter>, src: End, dst: End, p: Packet): boolean {
  const srcNode = src.pod?.node ?? src.node;
  const dstNode = dst.pod?.node ?? dst.node;
  const hooks: { node: string; hook: 'forward' | 'input' }[] = [];
  // The sender's node: a pod's packet is forwarded, or delivered to the node itself (input); the node's own
  // traffic leaves through output, which the section does not hook.
  if (src.pod && srcNode) hooks.push({ node: srcNode, hook: dst.node === srcNode ? 'input' : 'forward' });
  // The receiver's node, when it is another one and the receiver is a pod there: forwarded to the pod.
  if (dst.pod && dstNode && dstNode !== srcNode) hooks.push({ node: dstNode, hook: 'forward' });
  return hooks.every(({ node, hook }) => (tables.get(node) as Interpreter).run(hook, p) === 'accept');
}

function tablesOf(w: PolicyWorld): Map<string, Interpreter> {
  const compiled = compilePolicies(w);
  const out = new Map<string, Interpreter>();
  for (const node of ['n1', 'n2']) {
    const i = new Interpreter(policySection(compileNodePolicy(compiled, w.pods, node, [4])));
    i.assertDisjoint();
    out.set(node, i);
  }
  return out;
}

const PROBES: { protocol: FlowProtocol; port?: number }[] = [
  { protocol: 'TCP', port: 80 },
  { protocol: 'TCP', port: 81 },
  { protocol: 'UDP', port: 80 },
  { protocol: 'UDP', port: 81 },
  { protocol: 'SCTP', port: 80 },
  { protocol: 'SCTP', port: 81 },
  { protocol: 'TCP', port: 8080 },
  { protocol: 'ICMP' },
];

function ends(w: PolicyWorld): End[] {
  return [
    ...w.pods.map((p) => ({ ip: p.ips[0], pod: p })),
    ...Object.entries(NODE_IP).map(([node, ip]) => ({ ip, node })),
    { ip: EXTERNAL },
  ];
}

/** Every pair and probe: the kernel's verdict equals the engine's. Returns the engine's matrix. */
function assertAgrees(w: PolicyWorld): Map<string, boolean> {
  const compiled = compilePolicies(w);
  const tables = tablesOf(w);
  const verdicts = new Map<string, boolean>();
  for (const src of ends(w)) {
    for (const dst of ends(w)) {
      if (src === dst || (!src.pod && !dst.pod)) continue;
      for (const probe of PROBES) {
        const flow = { src: src as FlowEnd, dst: dst as FlowEnd, protocol: probe.protocol, port: probe.port };
        const engine = evaluatePolicies(compiled, flow).allowed;
        const kernel = kernelAllows(tables, src, dst, {
          saddr: src.ip,
          daddr: dst.ip,
          ...probe,
          dport: probe.port,
        });
        const what = `${name(src)} -> ${name(dst)} ${probe.protocol}/${probe.port ?? '-'}`;
        assert.equal(
          kernel,
          engine,
          `${what}: the kernel ${kernel ? 'allows' : 'drops'}, the engine disagrees`,
        );
        verdicts.set(what, engine);
      }
    }
  }
  return verdicts;
}

const name = (e: End) => (e.pod ? `${e.pod.namespace}/${e.pod.name}` : e.node ? `node/${e.node}` : e.ip);

/** The engine's and the kernel's common verdict for one flow. */
function reach(
  w: PolicyWorld,
  from: string,
  to: string,
  protocol: FlowProtocol = 'TCP',
  port: number | undefined = 80,
) {
  const v = assertAgrees(w).get(`${from} -> ${to} ${protocol}/${protocol === 'ICMP' ? '-' : port}`);
  assert.notEqual(v, undefined, `${from} -> ${to} was probed`);
  return v;
}

describe('the node policy section agrees with the engine (upstream e2e cases)', () => {
  it('no policy: nothing is isolated, the section is empty, everything passes', () => {
    const w = world();
    assertAgrees(w);
    const s = policySection(compileNodePolicy(compilePolicies(w), w.pods, 'n1', [4]));
    assert.deepEqual([s.sets, s.chains], [[], []]);
  });

  it('"should support a default-deny-ingress policy": x pods take nothing in, still send', () => {
    const w = world({ spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    assert.equal(reach(w, 'y/a', 'x/a'), false);
    assert.equal(reach(w, 'x/b', 'x/c', 'UDP'), false);
    assert.equal(reach(w, 'x/a', 'y/c'), true);
    assert.equal(reach(w, 'y/a', 'x/c', 'ICMP'), false);
  });

  it('"should support a default-deny-all policy": no ingress, no egress; nodes still reach their own pods', () => {
    const w = world({ spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    assert.equal(reach(w, 'x/a', 'y/a'), false);
    assert.equal(reach(w, 'x/a', EXTERNAL), false);
    assert.equal(reach(w, 'x/a', 'node/n1'), false, 'egress to its own node is egress too');
    assert.equal(reach(w, 'node/n1', 'x/a'), true, 'kubelet probes: the node reaches its own pods');
    assert.equal(reach(w, 'node/n2', 'x/a'), false, "another node is not the pod's node");
  });

  it('"should enforce policy to allow traffic from pods within server namespace based on PodSelector"', () => {
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      },
    });
    assert.equal(reach(w, 'x/b', 'x/a'), true);
    assert.equal(reach(w, 'x/c', 'x/a'), false);
    assert.equal(reach(w, 'y/b', 'x/a'), false, "podSelector alone means the policy's namespace");
  });

  it('"should enforce policy based on PodSelector and NamespaceSelector" (AND) versus "...PodSelector or NamespaceSelector" (OR)', () => {
    const and = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      },
    });
    assert.equal(reach(and, 'y/b', 'x/a'), true);
    assert.equal(reach(and, 'y/c', 'x/a'), false);
    assert.equal(reach(and, 'x/b', 'x/a'), false);
    const or = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      },
    });
    assert.equal(reach(or, 'y/c', 'x/a'), true);
    assert.equal(reach(or, 'x/b', 'x/a'), true);
    assert.equal(reach(or, 'z/b', 'x/a'), false);
  });

  it('"should enforce policy based on NamespaceSelector with MatchExpressions using default ns label"', () => {
    const w = world({
      spec: {
        podSelector: {},
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [
                    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['y'] },
                  ],
                },
              },
            ],
          },
        ],
      },
    });
    assert.equal(reach(w, 'z/a', 'x/b'), true);
    assert.equal(reach(w, 'y/a', 'x/b'), false);
  });

  it('"should enforce policy based on Ports" and "should enforce policy based on any PodSelectors" with a port', () => {
    const w = world({ spec: { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] } });
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 81), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 80), false);
    assert.equal(reach(w, 'y/a', 'x/a', 'UDP', 81), false, 'protocol defaults to TCP');
  });

  it('"should allow ingress access on one named port" and "should allow egress access on one named port"', () => {
    const ingress = world({
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] },
    });
    assert.equal(reach(ingress, 'y/a', 'x/c', 'UDP', 81), true);
    assert.equal(reach(ingress, 'y/a', 'x/c', 'UDP', 80), false);
    assert.equal(reach(ingress, 'y/a', 'x/c', 'TCP', 81), false);
    const egress = world({
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] },
    });
    assert.equal(reach(egress, 'x/a', 'y/c', 'TCP', 80), true);
    assert.equal(reach(egress, 'x/a', 'y/c', 'TCP', 81), false);
    assert.equal(reach(egress, 'x/a', EXTERNAL, 'TCP', 80), false, 'a named port never matches a non-pod');
  });

  it('named ports resolve per destination pod: the same name, different numbers (cilium#30003)', () => {
    const w = world({ spec: { podSelector: {}, ingress: [{ ports: [{ port: 'web' }] }] } });
    for (const p of w.pods) {
      const port = p.name === 'a' ? 8080 : 80;
      p.ports.push({ name: 'web', containerPort: port, protocol: 'TCP' });
    }
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 8080), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 80), false);
    assert.equal(reach(w, 'y/a', 'x/b', 'TCP', 80), true);
    assert.equal(reach(w, 'y/a', 'x/b', 'TCP', 8080), false);
  });

  it('"should enforce policy to allow ingress traffic from pods in all namespaces" and multiple protocols', () => {
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [{ namespaceSelector: {} }],
            ports: [
              { protocol: 'UDP', port: 80 },
              { protocol: 'SCTP', port: 81 },
            ],
          },
        ],
      },
    });
    assert.equal(reach(w, 'z/c', 'x/a', 'UDP', 80), true);
    assert.equal(reach(w, 'z/c', 'x/a', 'SCTP', 81), true);
    assert.equal(reach(w, 'z/c', 'x/a', 'SCTP', 80), false);
    assert.equal(
      reach(w, 'z/c', 'x/a', 'TCP', 80),
      false,
      '"should not allow access by TCP when a policy specifies only UDP"',
    );
  });

  it('"should enforce ingress policy allowing any port traffic to a server on a specific protocol"', () => {
    const w = world({ spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] } });
    assert.equal(reach(w, 'y/a', 'x/a', 'UDP', 81), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'UDP', 80), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 80), false);
  });

  it('"should support allow-all policy" and "multiple ingress policies with ingress allow-all policy taking precedence"', () => {
    const w = world(
      { spec: { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] } },
      { spec: { podSelector: {}, ingress: [{}] } },
    );
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 80), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'ICMP'), true, 'a rule without ports admits every protocol');
  });

  it('"should deny egress from pods based on PodSelector" and "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector"', () => {
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      },
    });
    assert.equal(reach(w, 'x/a', 'y/b'), true);
    assert.equal(reach(w, 'x/a', 'y/c'), false);
    assert.equal(reach(w, 'x/b', 'y/c'), true, 'x/b is not selected');
    assert.equal(reach(w, 'y/c', 'x/a'), true, 'egress-only policy: ingress stays open');
  });

  it('"should enforce egress policy allowing traffic to a server in a CIDR block" and "... with except clause"', () => {
    const cidr = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: `${ipOf('y', 'b')}/32` } }] }],
      },
    });
    assert.equal(reach(cidr, 'x/a', 'y/b'), true, 'ipBlock matches pod addresses, as the e2e expects');
    assert.equal(reach(cidr, 'x/a', 'y/c'), false);
    const except = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${ipOf('y', 'b')}/32`] } }] }],
      },
    });
    assert.equal(reach(except, 'x/a', 'y/b'), false);
    assert.equal(reach(except, 'x/a', 'z/c'), true);
    assert.equal(reach(except, 'x/a', EXTERNAL), false);
  });

  it('"should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"', () => {
    const w = world(
      {
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${ipOf('y', 'b')}/32`] } }] }],
        },
      },
      {
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: `${ipOf('y', 'b')}/32` } }] }],
        },
      },
    );
    assert.equal(reach(w, 'x/a', 'y/b'), true);
  });

  it('"should enforce ingress policy allowing any port traffic ... endPort" (ports 80 to 81 with endPort)', () => {
    const w = world({
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 81, protocol: 'TCP' }] }] },
    });
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 80), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 81), true);
    assert.equal(reach(w, 'y/a', 'x/a', 'TCP', 8080), false);
  });

  it('"should work with Ingress, Egress specified together" and "should stop enforcing policies after they are deleted"', () => {
    const both = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
        egress: [{ to: [{ podSelector: { matchLabels: { pod: 'c' } } }], ports: [{ port: 80 }] }],
      },
    });
    assert.equal(reach(both, 'x/b', 'x/a'), true);
    assert.equal(reach(both, 'x/c', 'x/a'), false);
    assert.equal(reach(both, 'x/a', 'x/c', 'TCP', 80), true);
    assert.equal(reach(both, 'x/a', 'x/c', 'TCP', 81), false);
    assert.equal(reach(both, 'x/a', 'x/b'), false);
    assert.equal(reach(world(), 'x/c', 'x/a'), true);
  });

  it("the docs' example policy (test-network-policy): ipBlock with except, namespace and pod peers, egress to a CIDR on 5978", () => {
    // https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource,
    // with the docs' 172.17.0.0/16 moved into the pod CIDR so that pods are in and out of the block.
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '10.244.1.0/24', except: [`${ipOf('x', 'c')}/32`] } },
              { namespaceSelector: { matchLabels: { ns: 'z' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
            ports: [{ protocol: 'TCP', port: 81 }],
          },
        ],
        egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/24' } }], ports: [{ protocol: 'TCP', port: 80 }] }],
      },
    });
    assert.equal(reach(w, 'y/c', 'x/a', 'TCP', 81), true, 'in the block');
    assert.equal(reach(w, 'x/c', 'x/a', 'TCP', 81), false, 'the except');
    assert.equal(reach(w, 'z/a', 'x/a', 'TCP', 81), true, 'namespace peer');
    assert.equal(reach(w, 'x/b', 'x/a', 'TCP', 81), true, 'pod peer');
    assert.equal(reach(w, 'x/b', 'x/a', 'TCP', 80), false, 'wrong port');
    assert.equal(reach(w, 'x/a', 'y/b', 'TCP', 80), true);
    assert.equal(reach(w, 'x/a', 'y/c', 'TCP', 80), false);
  });
});

describe('the node policy section layout', () => {
  const w = world(
    { name: 'deny', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } },
    {
      name: 'web',
      spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 80 }] }] },
    },
  );
  const input = compileNodePolicy(compilePolicies(w), w.pods, 'n1', [4]);

  it("dispatches only the node's own pods; pods isolated by the same policies share one class", () => {
    const local = w.pods.filter((p) => p.node === 'n1' && p.namespace === 'x').map((p) => p.ips[0]);
    assert.deepEqual(input.ingress.map((d) => d.ip).sort(), local.sort());
    assert.deepEqual(input.egress.map((d) => d.ip).sort(), local.sort());
    assert.equal(new Set(input.egress.map((d) => d.class)).size, 1, 'x/a and x/b egress: deny only');
    assert.equal(new Set(input.ingress.map((d) => d.class)).size, 2, 'x/a has web too');
    assert.deepEqual(
      input.self,
      w.pods
        .filter((p) => p.node === 'n1')
        .map((p) => p.ips[0])
        .sort(),
    );
  });

  it('checks conntrack first, then the dispatch maps, in forward and in input', () => {
    const s = policySection(input);
    const forward = s.chains.find((c) => c.name === 'pol_forward');
    assert.deepEqual(forward?.base, { type: 'filter', hook: 'forward', priority: 'filter' });
    assert.deepEqual(forward?.rules, [
      'ct state established,related accept',
      'ip saddr . ip daddr @pol_self_v4 accept',
      'ip saddr vmap @pol_egress_v4',
      'ip daddr vmap @pol_ingress_v4',
    ]);
    const input4 = s.chains.find((c) => c.name === 'pol_input');
    assert.deepEqual(input4?.rules, ['ct state established,related accept', 'ip saddr vmap @pol_egress_v4']);
    assert.ok(!s.chains.some((c) => c.base?.hook === 'output'), 'node-originated traffic is never filtered');
  });

  it('a new remote pod that a rule admits is one element per class that admits it, not a rewrite', () => {
    const peer = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] }],
      },
    });
    const before = policySection(compileNodePolicy(compilePolicies(peer), peer.pods, 'n1', [4]));
    const added: PolicyPod = {
      ...pod('z', 'new'),
      labels: { role: 'client' },
      ips: ['10.244.7.9'],
      node: 'n2',
    };
    const grown = { ...peer, pods: [...peer.pods, added] };
    const after = policySection(compileNodePolicy(compilePolicies(grown), grown.pods, 'n1', [4]));
    const delta = tableDelta(NODE_TABLE, [before], [after]);
    assert.ok(delta);
    assert.equal(delta.objects, 0);
    assert.equal(delta.elements, 1);
    assert.match(delta.script, /^add element inet podnet_node pol_i_\w+_any_v4 \{ 10\.244\.7\.9 \}\n$/);
  });

  it('renders ranges as nft elements: single addresses, aligned CIDRs, other ranges', () => {
    assert.equal(rangeElement({ family: 4, from: 10n, to: 10n }), '0.0.0.10');
    assert.equal(rangeElement({ family: 4, from: 256n, to: 511n }), '0.0.1.0/24');
    assert.equal(rangeElement({ family: 4, from: 5n, to: 9n }), '0.0.0.5-0.0.0.9');
    assert.equal(rangeElement({ family: 6, from: 0n, to: (1n << 128n) - 1n }), '::/0');
  });
});

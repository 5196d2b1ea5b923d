/**
 * NetworkPolicy semantics, case by case from the Kubernetes documentation (concepts/services-networking/
 * network-policies.md) and the upstream e2e suite (test/e2e/network/netpol, named in each test), over the
 * cyclonus model those tests use: namespaces x, y, z with pods a, b, c, each serving 80 and 81 over TCP, UDP
 * and SCTP with named ports serve-80-tcp and so on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultNetworkPolicy } from './defaults.js';
import { type PolicyFlow, compilePolicies, evaluatePolicies } from './engine.js';
import type { FlowProtocol, NetworkPolicy, PolicyPod, PolicyWorld } from './types.js';

const NS = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
const ip = (ns: string, pod: string) => `10.244.${NS.indexOf(ns)}.${PODS.indexOf(pod) + 10}`;

function pod(ns: string, name: string): PolicyPod {
  return {
    namespace: ns,
    name,
    labels: { pod: name },
    ips: [ip(ns, name)],
    node: `node-${name}`,
    ports: (['TCP', 'UDP', 'SCTP'] as const).flatMap((protocol) =>
      [80, 81].map((port) => ({
        name: `serve-${port}-${protocol.toLowerCase()}`,
        containerPort: port,
        protocol,
      })),
    ),
  };
}

function world(...policies: Partial<NetworkPolicy>[]): PolicyWorld {
  return {
    namespaces: new Map(NS.map((n) => [n, { ns: n, 'kubernetes.io/metadata.name': n }])),
    pods: NS.flatMap((n) => PODS.map((p) => pod(n, p))),
    policies: policies.map((p) =>
      defaultNetworkPolicy({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'p', namespace: 'x', ...p.metadata },
        spec: { podSelector: {}, ...p.spec },
      } as NetworkPolicy),
    ),
  };
}

/** Can `from` (ns/pod, or an IP) reach `to` on port/protocol? */
function reach(w: PolicyWorld, from: string, to: string, port = 80, protocol: FlowProtocol = 'TCP') {
  const end = (s: string) => {
    const [ns, name] = s.split('/');
    const p = w.pods.find((x) => x.namespace === ns && x.name === name);
    return p ? { ip: p.ips[0], pod: p } : { ip: s };
  };
  const flow: PolicyFlow = {
    src: end(from),
    dst: end(to),
    protocol,
    ...(protocol === 'ICMP' ? {} : { port }),
  };
  return evaluatePolicies(compilePolicies(w), flow);
}
const allowed = (w: PolicyWorld, from: string, to: string, port?: number, protocol?: FlowProtocol) =>
  reach(w, from, to, port, protocol).allowed;

/** The 9x9 truth table of who reaches whom on one port, as cyclonus prints it. */
function table(w: PolicyWorld, port = 80, protocol: FlowProtocol = 'TCP'): string[] {
  const all = NS.flatMap((n) => PODS.map((p) => `${n}/${p}`));
  return all.map((f) => `${f} ${all.map((t) => (allowed(w, f, t, port, protocol) ? '.' : 'X')).join('')}`);
}

describe('NetworkPolicy isolation', () => {
  it('no policy: everything reaches everything', () => {
    assert.ok(table(world()).every((row) => !row.includes('X')));
  });

  it('e2e "should support a default-deny-ingress policy": x pods take no ingress, still send', () => {
    const w = world({ spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    assert.equal(allowed(w, 'y/a', 'x/a'), false);
    assert.equal(allowed(w, 'x/b', 'x/a'), false, 'not even from its own namespace');
    assert.equal(allowed(w, 'x/a', 'y/a'), true, 'egress is not isolated');
    const d = reach(w, 'y/a', 'x/a');
    assert.deepEqual(d.ingress, { outcome: 'denied', isolatedBy: ['x/p'] });
    assert.deepEqual(d.egress, { outcome: 'not-isolated' });
  });

  it('e2e "should support a default-deny-all policy": x pods neither send nor receive', () => {
    const w = world({ spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    assert.equal(allowed(w, 'x/a', 'y/a'), false);
    assert.equal(allowed(w, 'y/a', 'x/a'), false);
    assert.equal(allowed(w, 'y/a', 'z/a'), true);
  });

  it('policyTypes defaulting: egress rules alone make the policy isolate egress; egress: [] does not', () => {
    // pkg/apis/networking/v1/defaults.go: empty policyTypes -> [Ingress] (+ Egress iff egress rules exist).
    const withRules = world({
      spec: { podSelector: {}, egress: [{ to: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] },
    });
    assert.deepEqual(withRules.policies[0].spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(allowed(withRules, 'x/a', 'x/b'), false, 'ingress to x/b is isolated too (Ingress default)');
    assert.equal(allowed(withRules, 'x/a', 'y/a'), false, 'egress isolated, y/a not admitted');
    const empty = world({ spec: { podSelector: {}, egress: [] } });
    assert.deepEqual(empty.policies[0].spec.policyTypes, ['Ingress']);
    assert.equal(allowed(empty, 'x/a', 'y/a'), true, 'egress: [] does not isolate egress');
  });

  it('an empty rule list denies; one empty rule allows everything', () => {
    assert.equal(allowed(world({ spec: { podSelector: {}, ingress: [] } }), 'y/a', 'x/a'), false);
    const all = world({ spec: { podSelector: {}, ingress: [{}] } });
    assert.equal(allowed(all, 'y/a', 'x/a', 12345, 'UDP'), true);
    assert.equal(allowed(all, 'y/a', 'x/a', undefined, 'ICMP'), true, 'no ports: every protocol, ICMP too');
  });

  it('a policy only isolates the pods its podSelector picks, in its own namespace', () => {
    const w = world({ spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [] } });
    assert.deepEqual(
      table(w).map((r) => r.split(' ')[1]),
      NS.flatMap((n) => PODS.map((p) => (n === 'x' && p === 'a' ? '.' : 'X') + '........')),
      'only x/a is isolated, and it still reaches itself',
    );
  });

  it('a pod cannot block traffic to itself (kubernetes/website PR #39875)', () => {
    const w = world({ spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    assert.deepEqual(reach(w, 'x/a', 'x/a'), {
      allowed: true,
      egress: { outcome: 'self' },
      ingress: { outcome: 'self' },
    });
    assert.equal(allowed(w, 'x/a', 'x/b'), false);
  });
});

describe('NetworkPolicy peers', () => {
  const from = (peers: object[]) =>
    world({ spec: { podSelector: {}, ingress: [{ from: peers }] } as NetworkPolicy['spec'] });

  it('e2e "should allow ingress access from pods within server namespace by PodSelector"', () => {
    const w = from([{ podSelector: { matchLabels: { pod: 'b' } } }]);
    assert.equal(allowed(w, 'x/b', 'x/a'), true);
    assert.equal(allowed(w, 'y/b', 'x/a'), false, 'podSelector alone means the policy namespace');
    assert.equal(allowed(w, 'x/c', 'x/a'), false);
    assert.deepEqual(reach(w, 'x/b', 'x/a').ingress, {
      outcome: 'allowed',
      by: { policy: 'x/p', direction: 'ingress', index: 0 },
    });
  });

  it('e2e "should allow ingress access from namespace on one named port" / from all namespaces ({})', () => {
    const w = from([{ namespaceSelector: {} }]);
    assert.ok(['x/a', 'y/b', 'z/c'].every((s) => allowed(w, s, 'x/a')));
  });

  it('e2e "should enforce policy based on PodSelector and NamespaceSelector": one peer is AND, two peers OR', () => {
    const and = from([
      { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
    ]);
    assert.deepEqual(
      ['y/b', 'y/a', 'x/b', 'z/b'].map((s) => allowed(and, s, 'x/a')),
      [true, false, false, false],
    );
    const or = from([
      { namespaceSelector: { matchLabels: { ns: 'y' } } },
      { podSelector: { matchLabels: { pod: 'b' } } },
    ]);
    assert.deepEqual(
      ['y/b', 'y/a', 'x/b', 'z/b'].map((s) => allowed(or, s, 'x/a')),
      [true, true, true, false],
    );
  });

  it('e2e "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label"', () => {
    const w = from([
      {
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['y'] }],
        },
      },
    ]);
    assert.deepEqual(
      ['y/a', 'z/a'].map((s) => allowed(w, s, 'x/a')),
      [true, false],
    );
  });

  it('matchExpressions: NotIn and DoesNotExist hold for pods lacking the key; Exists does not', () => {
    const notIn = from([
      { podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] } },
    ]);
    assert.equal(allowed(notIn, 'x/b', 'x/a'), true, 'x/b has no tier label');
    const missing = from([
      { podSelector: { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] } },
    ]);
    assert.equal(allowed(missing, 'x/b', 'x/a'), true);
    const exists = from([{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } }]);
    assert.equal(allowed(exists, 'x/b', 'x/a'), false);
    const inB = from([
      { podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } },
    ]);
    assert.deepEqual(
      ['x/a', 'x/b'].map((s) => allowed(inB, s, 'x/c')),
      [false, true],
    );
  });

  it('e2e "should allow egress access to server in CIDR block" and "... ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"', () => {
    const server = ip('y', 'b');
    const toCidr = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ to: [{ ipBlock: { cidr: `${server}/32` } }] }],
        policyTypes: ['Egress'],
      },
    });
    assert.deepEqual(
      ['y/b', 'y/a'].map((t) => allowed(toCidr, 'x/a', t)),
      [true, false],
      'ipBlock matches pod addresses too',
    );
    const except = {
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.244.1.0/24', except: [`${server}/32`] } }] }],
    };
    const exceptOnly = world({ spec: except as NetworkPolicy['spec'] });
    assert.deepEqual(
      ['y/a', 'y/b'].map((t) => allowed(exceptOnly, 'x/a', t)),
      [true, false],
      'except clause',
    );
    const overlapping = world(
      { spec: except as NetworkPolicy['spec'] },
      {
        metadata: { name: 'q' },
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: `${server}/32` } }] }],
        },
      },
    );
    assert.equal(
      allowed(overlapping, 'x/a', 'y/b'),
      true,
      'policies add up: the except of one does not subtract from the other',
    );
  });

  it('except is per peer: another peer of the same rule still admits the excepted range', () => {
    // Trap A.3 #2 (kube-router's nft mode subtracts every except of a rule from all its peers).
    const w = from([
      { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
      { ipBlock: { cidr: '10.1.2.0/24' } },
    ]);
    assert.equal(allowed(w, '10.1.2.5', 'x/a'), true);
    assert.equal(allowed(w, '10.1.3.5', 'x/a'), false);
    assert.equal(allowed(w, '10.9.9.9', 'x/a'), true);
  });
});

describe('NetworkPolicy ipBlock in both families (dual-stack)', () => {
  const from = (peers: object[]) =>
    world({ spec: { podSelector: {}, ingress: [{ from: peers }] } as NetworkPolicy['spec'] });

  it('an IPv6 cidr with an IPv6 except admits IPv6 sources; an IPv4 block never admits an IPv6 one', () => {
    // networking.k8s.io/v1 IPBlock: "CIDR is a string representing the IPBlock. Valid examples are
    // "192.168.1.0/24" or "2001:db8::/64"" (Kubernetes API reference, IPBlock v1).
    const w = from([
      { ipBlock: { cidr: 'fd00:10::/48', except: ['fd00:10:0:1::/64'] } },
      { ipBlock: { cidr: '10.0.0.0/8' } },
    ]);
    assert.equal(allowed(w, 'fd00:10::5', 'x/a'), true);
    assert.equal(allowed(w, 'fd00:10:0:1::5', 'x/a'), false, 'except');
    assert.equal(allowed(w, 'fd00:11::5', 'x/a'), false);
    assert.equal(allowed(w, '10.1.2.3', 'x/a'), true);
    const v4only = from([{ ipBlock: { cidr: '0.0.0.0/0' } }]);
    assert.equal(allowed(v4only, 'fd00:10::5', 'x/a'), false, '0.0.0.0/0 is IPv4 only');
  });
});

describe('NetworkPolicy ports and protocols', () => {
  const ingress = (ports: object[], peers?: object[]) =>
    world({
      spec: {
        podSelector: {},
        ingress: [{ ports, ...(peers ? { from: peers } : {}) }],
      } as NetworkPolicy['spec'],
    });

  it('e2e "should enforce policy to allow traffic only from a different namespace ... on a specific port": numeric port, TCP default', () => {
    const w = ingress([{ port: 80 }]);
    assert.deepEqual(
      [allowed(w, 'y/a', 'x/a', 80), allowed(w, 'y/a', 'x/a', 81), allowed(w, 'y/a', 'x/a', 80, 'UDP')],
      [true, false, false],
    );
    assert.equal(allowed(w, 'y/a', 'x/a', undefined, 'ICMP'), false, 'a rule with ports admits no ICMP');
  });

  it('e2e "should enforce ingress policy allowing any port traffic to a server on a specific protocol"', () => {
    const w = ingress([{ protocol: 'UDP' }]);
    assert.deepEqual(
      [
        allowed(w, 'y/a', 'x/a', 81, 'UDP'),
        allowed(w, 'y/a', 'x/a', 65535, 'UDP'),
        allowed(w, 'y/a', 'x/a', 80, 'TCP'),
      ],
      [true, true, false],
    );
  });

  it('e2e "should not allow access by TCP when a policy specifies only SCTP" (and UDP likewise)', () => {
    const sctp = ingress([{ protocol: 'SCTP', port: 80 }]);
    assert.deepEqual(
      [allowed(sctp, 'y/a', 'x/a', 80, 'SCTP'), allowed(sctp, 'y/a', 'x/a', 80, 'TCP')],
      [true, false],
    );
    const udp = ingress([{ protocol: 'UDP', port: 81 }]);
    assert.deepEqual(
      [allowed(udp, 'y/a', 'x/a', 81, 'UDP'), allowed(udp, 'y/a', 'x/a', 81, 'TCP')],
      [true, false],
    );
  });

  it('e2e "should support allow-all policy ... endPort": a port range is inclusive of both ends', () => {
    const w = ingress([{ port: 80, endPort: 81 }]);
    assert.deepEqual(
      [79, 80, 81, 82].map((p) => allowed(w, 'y/a', 'x/a', p)),
      [false, true, true, false],
    );
  });

  it('e2e "should allow ingress access on one named port": resolved on the destination pod', () => {
    const w = ingress([{ port: 'serve-81-udp', protocol: 'UDP' }]);
    assert.deepEqual(
      [
        allowed(w, 'y/a', 'x/a', 81, 'UDP'),
        allowed(w, 'y/a', 'x/a', 80, 'UDP'),
        allowed(w, 'y/a', 'x/a', 81, 'TCP'),
      ],
      [true, false, false],
    );
    assert.equal(
      allowed(ingress([{ port: 'serve-81-udp' }]), 'y/a', 'x/a', 81, 'UDP'),
      false,
      'the protocol (default TCP) must match the container port',
    );
  });

  it('the same port name may be a different number on each pod', () => {
    // cilium#30003: a named port is per destination pod.
    const w = ingress([{ port: 'web' }]);
    const xa = w.pods.find((p) => p.namespace === 'x' && p.name === 'a') as PolicyPod;
    const xb = w.pods.find((p) => p.namespace === 'x' && p.name === 'b') as PolicyPod;
    xa.ports.push({ name: 'web', containerPort: 8080, protocol: 'TCP' });
    xb.ports.push({ name: 'web', containerPort: 9090, protocol: 'TCP' });
    assert.deepEqual(
      [
        allowed(w, 'y/a', 'x/a', 8080),
        allowed(w, 'y/a', 'x/a', 9090),
        allowed(w, 'y/a', 'x/b', 9090),
        allowed(w, 'y/a', 'x/b', 8080),
      ],
      [true, false, true, false],
    );
  });

  it('e2e "should allow egress access on one named port": resolved on the peer pod, never on an ipBlock destination', () => {
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
      },
    });
    assert.deepEqual(
      [allowed(w, 'x/a', 'y/b', 80), allowed(w, 'x/a', 'y/b', 81), allowed(w, 'x/a', '203.0.113.10', 80)],
      [true, false, false],
    );
  });
});

describe('NetworkPolicy stacking and direction', () => {
  it('e2e "should enforce multiple ingress policies with ingress allow-all policy taking precedence"', () => {
    const w = world(
      { spec: { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] } },
      { metadata: { name: 'allow-all' }, spec: { podSelector: {}, ingress: [{}] } },
    );
    assert.equal(allowed(w, 'y/a', 'x/a', 80), true);
    assert.deepEqual(reach(w, 'y/a', 'x/a', 80).ingress, {
      outcome: 'allowed',
      by: { policy: 'x/allow-all', direction: 'ingress', index: 0 },
    });
  });

  it('e2e "should deny egress from pods based on PodSelector" and "... client-side egress deny even if the server allows"', () => {
    const w = world(
      { spec: { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'] } },
      { metadata: { name: 'open', namespace: 'y' }, spec: { podSelector: {}, ingress: [{}] } },
    );
    const d = reach(w, 'x/a', 'y/b');
    assert.equal(d.allowed, false);
    assert.deepEqual(d.egress, { outcome: 'denied', isolatedBy: ['x/p'] });
    assert.deepEqual(d.ingress, {
      outcome: 'allowed',
      by: { policy: 'y/open', direction: 'ingress', index: 0 },
    });
    assert.equal(allowed(w, 'x/b', 'y/b'), true);
  });

  it('e2e "should work with Ingress, Egress specified together": both ends must allow', () => {
    const w = world({
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      },
    });
    assert.deepEqual(
      [
        allowed(w, 'x/a', 'y/c'),
        allowed(w, 'x/a', 'z/c'),
        allowed(w, 'x/b', 'x/a'),
        allowed(w, 'y/b', 'x/a'),
      ],
      [true, false, true, false],
    );
  });

  it("traffic from a pod's own node is always allowed (kubelet probes); other nodes are peers like any address", () => {
    const w = world({ spec: { podSelector: {}, ingress: [] } });
    const xa = w.pods.find((p) => p.namespace === 'x' && p.name === 'a') as PolicyPod;
    const compiled = compilePolicies(w);
    const probe = (node: string) =>
      evaluatePolicies(compiled, {
        src: { ip: '10.224.0.4', node },
        dst: { ip: xa.ips[0], pod: xa },
        protocol: 'TCP',
        port: 80,
      });
    assert.deepEqual(probe('node-a'), {
      allowed: true,
      egress: { outcome: 'not-a-pod' },
      ingress: { outcome: 'node-local' },
    });
    assert.equal(probe('node-b').allowed, false);
  });

  it('hostNetwork pods are not selected (they are node traffic)', () => {
    const w = world({
      spec: { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] },
    });
    const xb = w.pods.find((p) => p.namespace === 'x' && p.name === 'b') as PolicyPod;
    xb.hostNetwork = true;
    assert.equal(allowed(w, 'x/b', 'x/a'), false, 'x/b is not matched by the podSelector');
  });
});
